--- hcdl.sync: TaurusDB full-SQL files mirrored into a directory, run after
-- run (cron), trusting nothing it has not checked.
--
-- client:sync_audit_log_files{ instance_id =, dir =, start_time =,
--   end_time = nil (now), node_id = nil, window = 3600, wait = 0, ... }
--
-- Each run lists the files from where the previous run left off, downloads
-- the new ones, and checks again the ones that may still grow (full-SQL
-- files keep growing after they are first listed: their updated_time
-- moves): the newest file of each node, every file updated within `window`
-- seconds of the previous run, and every file that failed.  A file is
-- skipped only when its size agrees with the listing; a grown file is
-- downloaded again and replaced atomically.
--
-- The position lives in `dir` in `.hcdl-sync.<instance>[.<node>].state`,
-- written atomically (and only after a run, so a run that is killed simply
-- starts again where the last complete run ended, resuming its .part
-- files).  Two runs at once are kept apart by an flock on
-- `.hcdl-sync.<instance>[.<node>].lock`, which the kernel releases however
-- a run ends: the second run waits `wait` seconds for it, then refuses.
--
-- Returns a report { new =, updated =, skipped =, failed =, listed =,
-- files = { { name, status = "new"|"updated"|"skipped"|"failed", err } },
-- ok =, state = <path> }, plus an error when any file failed; or nil, err.
local core = require "hcdl.core"
local params_mod = require "hcdl.params"
local json = require "hcdl.json"
local timefmt = require "hcdl.timefmt"

local sync = {}

local PARAMS = {
  instance_id = "string", dir = "string", start_time = "string", end_time = "string",
  node_id = "string", limit = "number", window = "number", wait = "number",
  concurrency = "number", connections = "number", fsync = "boolean", progress = "function",
  deadline = "number", retries = "number", mode = "number",
}
local DOWNLOAD_OPTIONS = { "concurrency", "connections", "fsync", "progress", "deadline", "retries", "mode" }

local function input(field, msg)
  return nil, core.error{ kind = "input", field = field, message = field .. ": " .. msg }
end

local function check(params)
  local ok, err = params_mod.check("sync_audit_log_files", params, PARAMS, 5)
  if not ok then return nil, err end
  if not params.dir then return input("dir", "required: the directory the files are kept in") end
  if not params.start_time then
    return input("start_time", "required (the API lists files updated between start_time and end_time)")
  end
  if params.window and not (params.window >= 0 and params.window <= 86400 * 31) then
    return input("window", "must be 0 to 2678400 seconds")
  end
  if params.wait and not (params.wait >= 0 and params.wait <= 86400) then
    return input("wait", "must be 0 to 86400 seconds")
  end
  return true
end

-- The API refuses an end_time after its own clock: stay a minute behind ours.
local function default_end()
  return os.date("!%Y-%m-%dT%H:%M:%S+0000", os.time() - 60)
end

local function state_key(params)
  return params.instance_id .. (params.node_id and ("." .. params.node_id) or "")
end

local function lock(client, dir, name, wait)
  local t = client:transport()
  local deadline = core.now() + (wait or 0)
  while true do
    local l, err = dir:lock(name)
    if l then return l end
    if l == nil then return nil, err end
    if not t or core.now() >= deadline then
      return nil, core.error{ kind = "io", path = dir:path(name), busy = true,
        message = ("another sync of this instance is running in this directory (it holds %s)")
          :format(dir:path(name)) }
    end
    t.sleep(math.min(0.5, math.max(0.01, deadline - core.now())))
  end
end

local function read_state(dir, name, start_time)
  local text, err = dir:read(name, 4 * 1024 * 1024)
  if text == nil then return nil, err end
  if not text then return {} end
  local s = json.decode(text)
  -- another window, or a record of another version: start from the beginning
  if type(s) ~= "table" or s.version ~= 1 or s.start_time ~= start_time then return {} end
  if s.after ~= nil and type(s.after) ~= "string" then return {} end
  return s
end

local function write_state(client, dir, name, s)
  local t = client:transport()
  local task = core.task("write", { dir = dir, name = name, data = json.encode(s), fsync = true })
  if t then
    while not t.wait(task, 3600) do end
  else
    while not task:wait(3600) do end
  end
  return task:result()
end

-- The node a full-SQL file belongs to, from its name
-- (<time>_<instance>in07_<node>no07_SQLAudit_<n>).
local function node_of(name)
  return name:match("_(%w+no07)_")
end

-- The files to look at again next run; and the name just before the
-- earliest of them (the next run lists after it).
local function next_position(previous_after, listed, results, window)
  local newest_time = 0
  for _, f in ipairs(listed) do
    newest_time = math.max(newest_time, timefmt.parse_offset(f.updated_time) or 0)
  end
  local again, last_of_node = {}, {}
  for i, f in ipairs(listed) do
    local node = node_of(f.name) or ""
    last_of_node[node] = i
    local updated = timefmt.parse_offset(f.updated_time)
    if not updated or updated >= newest_time - window or results[i].status == "failed" then
      again[i] = true
    end
  end
  for _, i in pairs(last_of_node) do again[i] = true end
  for i = 1, #listed do
    if again[i] then
      return i == 1 and previous_after or listed[i - 1].name
    end
  end
  return #listed > 0 and listed[#listed].name or previous_after
end

local function list_files(client, params, after)
  local files = {}
  for f, err in client:audit_log_files{ instance_id = params.instance_id, start_time = params.start_time,
      end_time = params.end_time or default_end(), node_id = params.node_id, limit = params.limit,
      last_file_name = after } do
    if not f then return nil, err end
    files[#files + 1] = f
  end
  return files
end

local function classify(dir, files)
  local existed = {}
  for i, f in ipairs(files) do
    local st = type(f.name) == "string" and dir:stat(f.name)
    existed[i] = st and st.type == "file" or false
  end
  return existed
end

local function run(client, params, dir)
  local key = state_key(params)
  local state_name, lock_name = ".hcdl-sync." .. key .. ".state", ".hcdl-sync." .. key .. ".lock"
  local held, lerr = lock(client, dir, lock_name, params.wait)
  if not held then return nil, lerr end
  local state, serr = read_state(dir, state_name, params.start_time)
  if not state then held:close() return nil, serr end
  local files, err = list_files(client, params, state.after)
  if not files then held:close() return nil, err end
  local existed = classify(dir, files)
  local opts = {}
  for _, k in ipairs(DOWNLOAD_OPTIONS) do opts[k] = params[k] end
  local report, derr = client:download_all(files, params.dir, opts)
  if not report then held:close() return nil, derr end
  local out = { new = 0, updated = 0, skipped = 0, failed = 0, listed = #files, files = {},
    state = dir:path(state_name) }
  for i, r in ipairs(report.files) do
    local status = not r.ok and "failed" or r.skipped and "skipped" or existed[i] and "updated" or "new"
    out[status] = out[status] + 1
    out.files[i] = { name = r.name or files[i].name, status = status, err = r.err, path = r.path,
      bytes = r.bytes, entry = files[i] }
  end
  out.ok = out.failed == 0
  local after = next_position(state.after, files, out.files, params.window or 3600)
  local ok, werr = write_state(client, dir, state_name, { version = 1, instance_id = params.instance_id,
    node_id = params.node_id, start_time = params.start_time, after = after, ran_at = os.time() })
  held:close()
  if not ok then return nil, werr end
  return out, derr
end

--- See the module comment.
function sync.audit_log_files(client, params)
  local ok, err = check(params)
  if not ok then return nil, err end
  local dir, derr = core.dir(params.dir)
  if not dir then return nil, derr end
  local report, rerr = run(client, params, dir)
  dir:close()
  return report, rerr
end

sync._next_position = next_position -- for the spec

return sync
