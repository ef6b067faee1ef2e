--- hcdl.sync: a directory that mirrors a list of files, run after run
-- (cron), trusting nothing it has not checked.
--
--   client:sync_files(entries, dir, opts)
--   client:sync_audit_log_files{ instance_id =, dir =, start_time (first run only), ... }
--   client:sync_backup{ service = "rds"|"dcs", instance_id =, dir =, type =, backup_id =,
--                       keep =, max_age =, ... }
--
-- All three return a report (below), plus the first error when a file
-- failed; or nil, err.  They never raise on data: a run is one protected
-- call, and whatever ends it (a service's odd answer, a bug) the
-- directory's lock is released and a `nil, err` comes back (only an
-- interruption, Ctrl-C, is raised again once the lock is released).
--
-- The directory: created (parents too) with mode 0700.  A sync owns it:
-- `.hcdl-sync.lock` (flock: the kernel releases it however a run ends)
-- keeps two syncs of one directory apart; the second waits `wait` seconds
-- (default 0), then gets an io error with busy = true naming the lock and
-- the process that holds it (`.hcdl-sync.owner`).  Each file is locked too
-- while it is written (hcdl.download), so a download_all into the same
-- directory never touches a file a sync is writing.
--
-- What is skipped: only files whose facts hcdl recorded (hcdl.record) and
-- that still match them and the entry (see hcdl.download: decide).
--
-- Report: { ok, new, updated, skipped, failed, removed, listed, bytes
-- (downloaded this run), seconds, files = { { name, status = "new" |
-- "updated" | "skipped" | "failed" | "removed" | "would-fetch" |
-- "would-remove", path, bytes, size, verified, err, entry } }, state =
-- <the state file or nil>, notes = { ... what was ignored and why } }.
local core = require "hcdl.core"
local params_mod = require "hcdl.params"
local json = require "hcdl.json"
local timefmt = require "hcdl.timefmt"
local apis = require "hcdl.apis"
local record = require "hcdl.record"
local configfile = require "hcdl.configfile"
local download = require "hcdl.download"

local sync = {}

local LOCK, OWNER = ".hcdl-sync.lock", ".hcdl-sync.owner"
local DIR_MODE = 448 -- 0700

-- Options of every sync, and those handed to the downloads (hcdl.download's
-- own list: wait and force are both).
local SYNC_OPTIONS = { wait = "number", force = "boolean", dry_run = "boolean", match = "string",
  max_age = "number" }
local DOWNLOAD_OPTIONS = download.OPTIONS

local function input(field, msg)
  return nil, core.error{ kind = "input", field = field, message = field .. ": " .. msg }
end

local function merged(...)
  local out = {}
  for _, t in ipairs{ ... } do for k, v in pairs(t) do out[k] = v end end
  return out
end

-- The options common to every sync: nil, or an input error.
local function check_common(o)
  if o.wait and not (o.wait >= 0 and o.wait <= 86400) then
    return select(2, input("wait", "must be 0 to 86400 seconds"))
  end
  if o.max_age and not (o.max_age > 0 and o.max_age < 2 ^ 40) then
    return select(2, input("max_age", "must be a number of seconds > 0"))
  end
  if o.match and (#o.match == 0 or #o.match > 1024) then
    return select(2, input("match", "must be a glob of 1 to 1024 characters"))
  end
  return nil
end

-- The download options among o (a fresh table); an input error when the
-- download layer refuses one.
local function download_options(o)
  local d = {}
  for k in pairs(DOWNLOAD_OPTIONS) do d[k] = o[k] end
  local err = download.check_options(d)
  return d, err
end

--- A shell glob (`*`, `?`, `[...]`) as a Lua pattern matching a whole name.
function sync.glob(g)
  local out, i = { "^" }, 1
  while i <= #g do
    local c = g:sub(i, i)
    if c == "*" then out[#out + 1] = ".*"
    elseif c == "?" then out[#out + 1] = "."
    elseif c == "[" and g:find("]", i + 2, true) then
      local j = g:find("]", i + 2, true)
      local set = g:sub(i + 1, j - 1):gsub("^!", "^"):gsub("%%", "%%%%")
      out[#out + 1] = "[" .. set .. "]"
      i = j
    else
      out[#out + 1] = c:gsub("%W", "%%%0")
    end
    i = i + 1
  end
  out[#out + 1] = "$"
  return table.concat(out)
end

-- ---------------------------------------------------------------------------
-- The directory and its lock.

local function sleep_for(client)
  local t = client:transport()
  return t and t.sleep or core.sleep
end

local function holder(dir)
  local text = dir:read(OWNER, 4096)
  if type(text) ~= "string" then return "" end
  local pid, since = text:match("^pid (%d+) since (%d+)")
  if not pid then return "" end
  return ("; process %s since %s"):format(pid, os.date("!%Y-%m-%dT%H:%M:%SZ", tonumber(since)))
end

local function lock(client, dir, wait)
  local sleep = sleep_for(client)
  local deadline = core.now() + (wait or 0)
  while true do
    local l, err = dir:lock(LOCK)
    if l then
      local task = core.task("write", { dir = dir, name = OWNER, data = ("pid %d since %d\n"):format(
        core.pid(), os.time()), fsync = false })
      while not task:wait(60) do end
      return l
    end
    if l == nil then return nil, err end
    if core.now() >= deadline then
      return nil, core.error{ kind = "io", path = dir:path(LOCK), busy = true,
        message = ("another sync is running in this directory (it holds %s%s)"):format(
          dir:path(LOCK), holder(dir)) }
    end
    sleep(math.min(0.2, math.max(0.01, deadline - core.now())))
  end
end

-- fn(dir) as one protected call; release() runs however it ends.  A
-- raise becomes nil, err (only an interruption is raised again).
local function protected(path, fn, dir, release)
  local done, report, err = pcall(fn, dir)
  release()
  if not done then
    local msg = tostring(report)
    if msg:find("interrupted", 1, true) then error(report, 0) end
    return nil, core.error{ kind = "io", message = "sync of " .. path .. " stopped: " .. msg:sub(1, 400) }
  end
  return report, err
end

--- Runs fn(dir_handle) holding the sync lock of `path` (created, mode
-- 0700); the lock and handle are released however fn ends.  A dry run
-- takes no lock and creates nothing: fn(nil) when there is no directory.
function sync.with_dir(client, path, o, fn)
  if o.dry_run then
    -- touches nothing: no directory, no lock; reads what is there
    if not core.is_dir(path) then return protected(path, fn, nil, function() end) end
    local dir, derr = core.dir(path)
    if not dir then return nil, derr end
    return protected(path, fn, dir, function() dir:close() end)
  end
  local ok, merr = core.mkdir(path, DIR_MODE)
  if not ok then return nil, merr end
  local dir, derr = core.dir(path)
  if not dir then return nil, derr end
  local held, lerr = lock(client, dir, o.wait)
  if not held then dir:close() return nil, lerr end
  return protected(path, fn, dir, function()
    held:close()
    dir:close()
  end)
end

-- ---------------------------------------------------------------------------
-- One run over a list of entries.

local function file_result(name, status, fields)
  local r = { name = name, status = status }
  for k, v in pairs(fields or {}) do r[k] = v end
  return r
end

-- The entries to mirror: described, named safely, matching, once each.
-- Those that cannot be mirrored fail alone.
local function triage(entries, o)
  local pattern = o.match and sync.glob(o.match)
  local good, out, seen = {}, {}, {}
  for i, e in ipairs(entries) do
    local info, err = download.describe_named(e)
    if info and pattern and not info.name:find(pattern) then
      info = false
    elseif info and seen[info.name] then
      info, err = nil, core.error{ kind = "api", field = "name", name = info.name,
        message = info.name .. ": the same name is listed twice; the first is mirrored" }
    end
    if info then
      seen[info.name] = true
      good[#good + 1] = { entry = e, info = info, index = #out + 1 }
      out[#out + 1] = { entry = e, info = info }
    elseif info == nil then
      if err.kind == "input" then err.kind = "api" end -- the service's name, not the caller's
      out[#out + 1] = { entry = e, failed = file_result(err.name or ("entry #" .. i), "failed",
        { err = err, entry = e }) }
    end
  end
  return good, out
end

local function count(report, r)
  report.files[#report.files + 1] = r
  local key = r.status:gsub("-", "_")
  report[key] = (report[key] or 0) + 1
  if r.status == "failed" and not report.first_err then report.first_err = r.err end
end

-- dry run: what would be fetched, without touching anything.
local function plan_only(dir, good, o)
  local out = {}
  local rec = dir and record.load(dir) or { files = {} }
  for _, g in ipairs(good) do
    local st = dir and dir:stat(g.info.name)
    local what = "fetch"
    if st and st.type == "file" and not o.force then
      what = download.decide(g.info, st, rec.files[g.info.name])
    end
    out[#out + 1] = what == "skip" and { status = "skipped", bytes = st.size, size = st.size }
      or { status = "would-fetch", size = g.info.exact }
  end
  return out
end

local function fetch(client, dir, path, good, o)
  local existed, entries = {}, {}
  for i, g in ipairs(good) do
    local st = dir:stat(g.info.name)
    existed[i] = st and st.type == "file" or false
    entries[i] = g.entry
  end
  local d, derr = download_options(o)
  if derr then return nil, derr end
  local dl, err = client:download_all(entries, path, d)
  if not dl then return nil, err end
  local out = {}
  for i, r in ipairs(dl.files) do
    local status = not r.ok and "failed" or r.skipped and "skipped" or existed[i] and "updated" or "new"
    out[i] = { status = status, path = r.path, bytes = (status == "new" or status == "updated") and r.bytes or 0,
      size = r.ok and r.bytes or nil, verified = r.verified, err = r.err, record_error = r.record_error }
  end
  return out
end

-- Recorded files whose entry time is older than now - max_age, not
-- listed this run: removed (with their record entry).
local function expire(dir, listed, o, report)
  if not (o.max_age and dir) then return end
  local rec = record.load(dir)
  if not rec then return end
  local limit = os.time() - o.max_age
  local names = {}
  for name, facts in pairs(rec.files) do
    local t = facts.time or facts.mtime
    if not listed[name] and t and t < limit then names[#names + 1] = name end
  end
  table.sort(names)
  for _, name in ipairs(names) do
    if o.dry_run then
      count(report, file_result(name, "would-remove", { path = dir:path(name) }))
    else
      local ok, err = dir:remove(name)
      if ok or ok == false then ok, err = record.remove(dir, name, o.fsync) end
      count(report, file_result(name, ok and "removed" or "failed", { path = dir:path(name), err = err }))
    end
  end
end

local function new_report(listed)
  return { ok = true, new = 0, updated = 0, skipped = 0, failed = 0, removed = 0, would_fetch = 0,
    would_remove = 0, listed = listed, bytes = 0, files = {}, notes = {}, started = core.now() }
end

local function summary_error(report)
  local failed = {}
  for _, r in ipairs(report.files) do
    if r.status == "failed" then failed[#failed + 1] = tostring(r.name) end
  end
  if #failed == 0 then return nil end
  local shown = {}
  for i = 1, math.min(5, #failed) do shown[i] = failed[i] end
  local first = report.first_err or {}
  return core.error{ kind = first.kind or "io", failed = #failed, busy = first.busy,
    message = ("%d of %d files failed: %s%s; first: %s"):format(#failed, #report.files,
      table.concat(shown, ", "), #failed > 5 and ", ..." or "", tostring(first.message or "?")) }
end

local function finish(report)
  report.seconds = core.now() - report.started
  report.started = nil
  local err = summary_error(report)
  report.first_err = nil
  report.ok = err == nil
  if #report.notes == 0 then report.notes = nil end
  return report, err
end

--- One run over `entries` in the locked directory `dir` (at `path`):
-- the report before finish (so a caller can add to it).
function sync.run_files(client, dir, path, entries, o)
  local good, all = triage(entries, o)
  local report = new_report(#all)
  if dir then
    local rec = record.load(dir)
    if rec and rec.invalid then report.notes[#report.notes + 1] = rec.invalid .. "; it is rewritten" end
  end
  local results, err
  if o.dry_run then
    results = plan_only(dir, good, o)
  elseif #good > 0 then
    results, err = fetch(client, dir, path, good, o)
    if not results then return nil, err end
  else
    results = {}
  end
  local listed = {}
  for _, a in ipairs(all) do
    if a.failed then
      count(report, a.failed)
    end
  end
  for i, g in ipairs(good) do
    local r = results[i]
    listed[g.info.name] = true
    r.name, r.entry = g.info.name, g.entry
    r.path = r.path or (path .. "/" .. g.info.name)
    report.bytes = report.bytes + (r.bytes or 0)
    if r.status ~= "new" and r.status ~= "updated" then r.bytes = r.bytes or 0 end
    if r.record_error then
      report.notes[#report.notes + 1] = ("%s: complete, but its facts could not be recorded (%s); "
        .. "the next run decides by size and time"):format(g.info.name, tostring(r.record_error.message))
    end
    count(report, r)
  end
  expire(dir, listed, o, report)
  return report
end

--- client:sync_files(entries, dir, opts): see the module comment.
function sync.files(client, entries, path, opts)
  if type(entries) ~= "table" then error("hcdl: sync_files(entries, dir, opts): entries must be a list", 3) end
  if type(path) ~= "string" or path == "" then error("hcdl: sync_files(entries, dir, opts): dir must be a path", 3) end
  if opts ~= nil and type(opts) ~= "table" then error("hcdl: sync_files: opts must be a table", 3) end
  local o = opts or {}
  local ok, err = params_mod.check("sync_files", o, merged(SYNC_OPTIONS, DOWNLOAD_OPTIONS), 4)
  if not ok then return nil, err end
  err = check_common(o) or select(2, download_options(o))
  if err then return nil, err end
  return sync.with_dir(client, path, o, function(dir)
    local report, rerr = sync.run_files(client, dir, path, entries, o)
    if not report then return nil, rerr end
    return finish(report)
  end)
end

-- ---------------------------------------------------------------------------
-- TaurusDB full-SQL files: a position kept between runs.
--
-- Each run lists the files from where the previous run left off, mirrors
-- them, and looks again at the ones that may still grow (full-SQL files
-- keep growing after they are first listed: their updated_time moves): the
-- newest file of each node, every file updated within `window` seconds of
-- the newest, and every file that failed (but not one whose name can
-- never be mirrored).  The position lives in
-- `.hcdl-sync.<instance>[.<node>].state`, written atomically after a run;
-- `start_time` is needed only on a directory's first run (a given one
-- earlier than the saved start reaches back).

local AUDIT_PARAMS = merged(SYNC_OPTIONS, DOWNLOAD_OPTIONS, { instance_id = "string", dir = "string",
  start_time = true, end_time = true, node_id = "string", limit = "number", window = "number" })

local STATE_VERSION = 2

-- The API refuses an end_time after its own clock: stay a minute behind ours.
local function default_end()
  return os.date("!%Y-%m-%dT%H:%M:%S+0000", os.time() - 60)
end

local function check_audit(params)
  local ok, err = params_mod.check("sync_audit_log_files", params, AUDIT_PARAMS, 5)
  if not ok then return nil, err end
  if not params.instance_id then
    return input("instance_id", "required: the TaurusDB instance whose full-SQL files are mirrored")
  end
  if not params.dir or params.dir == "" then return input("dir", "required: the directory the files are kept in") end
  if params.window and not (params.window >= 0 and params.window <= 86400 * 31) then
    return input("window", "must be 0 to 2678400 seconds")
  end
  err = check_common(params) or select(2, download_options(params))
  if err then return nil, err end
  -- the ids and times exactly as the API checks them, before anything
  ok, err = apis.validate("list_audit_log_download_link", { instance_id = params.instance_id,
    node_id = params.node_id, limit = params.limit, start_time = params.start_time or 0,
    end_time = params.end_time or default_end() })
  if not ok then return nil, err end
  return true
end

-- The time of a start_time parameter (a string or epoch seconds).
local function time_of(v)
  if type(v) == "number" then return v end
  return timefmt.parse_offset(v)
end

-- The saved position: state (a table), or nil and why it cannot be used.
local function read_state(dir, name)
  local text, err = dir:read(name, configfile.MAX_BYTES.sync_state)
  if text == nil then return nil, err and err.message or "unreadable" end
  if not text then return {} end
  local s = json.decode(text)
  if type(s) ~= "table" then return nil, "it is not JSON" end
  if s.version ~= 1 and s.version ~= STATE_VERSION then return nil, "it is of an unknown version" end
  if s.after ~= nil and not (type(s.after) == "string" and apis.validate("list_audit_log_download_link",
      { instance_id = ("0"):rep(32) .. "in07", start_time = 0, end_time = 1, last_file_name = s.after })) then
    return nil, "its position (after) is not a file name"
  end
  if s.start_time ~= nil and not time_of(s.start_time) then return nil, "its start_time is not a time" end
  return s
end

-- Where this run starts: { start_time =, after = } or nil, err.
local function position(state, params, path)
  local given = params.start_time
  if not state.start_time then
    if not given then
      return nil, core.error{ kind = "input", field = "start_time",
        message = "start_time: required on the first run of " .. path .. " (no saved position yet)" }
    end
    return { start_time = given }
  end
  if given and time_of(given) < time_of(state.start_time) then
    return { start_time = given } -- reach back: list again from there
  end
  return { start_time = state.start_time, after = state.after }
end

-- The node a full-SQL file belongs to, from its name
-- (<time>_<instance>in07_<node>no07_SQLAudit_<n>).
local function node_of(name)
  return type(name) == "string" and name:match("_(%w+no07)_") or nil
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
    local r = results[i] or {}
    local hopeless = r.status == "failed" and r.err and r.err.field == "name"
    if type(f.name) ~= "string" or hopeless then
      -- a name that can never be mirrored does not hold the position back
    else
      last_of_node[node_of(f.name) or ""] = i
      local updated = timefmt.parse_offset(f.updated_time)
      if not updated or updated >= newest_time - window or r.status == "failed" then again[i] = true end
    end
  end
  for _, i in pairs(last_of_node) do again[i] = true end
  for i = 1, #listed do
    if again[i] then
      if i == 1 then return previous_after end
      for j = i - 1, 1, -1 do
        if type(listed[j].name) == "string" then return listed[j].name end
      end
      return previous_after
    end
  end
  for j = #listed, 1, -1 do
    if type(listed[j].name) == "string" then return listed[j].name end
  end
  return previous_after
end

local function list_audit(client, params, pos)
  local files = {}
  for f, err in client:audit_log_files{ instance_id = params.instance_id, start_time = pos.start_time,
      end_time = params.end_time or default_end(), node_id = params.node_id, limit = params.limit,
      last_file_name = pos.after } do
    if not f then return nil, err end
    files[#files + 1] = f
  end
  return files
end

local function write_state(dir, name, s, fsync)
  local task = core.task("write", { dir = dir, name = name, data = json.encode(s), fsync = fsync ~= false })
  while not task:wait(3600) do end
  return task:result()
end

local function audit_run(client, params, dir)
  local key = params.instance_id .. (params.node_id and ("." .. params.node_id) or "")
  local state_name = ".hcdl-sync." .. key .. ".state"
  local notes = {}
  local state, why = { }, nil
  if dir then state, why = read_state(dir, state_name) end
  if not state then
    if not params.start_time then
      return nil, core.error{ kind = "io", path = dir:path(state_name), message = ("%s cannot be used (%s): "
        .. "give start_time to start afresh from it, or remove the file"):format(dir:path(state_name), why) }
    end
    notes[#notes + 1] = ("%s could not be used (%s); started afresh from start_time"):format(
      dir:path(state_name), why)
    state = {}
  end
  local pos, perr = position(state, params, params.dir)
  if not pos then return nil, perr end
  local files, lerr = list_audit(client, params, pos)
  if not files then return nil, lerr end
  local report, rerr = sync.run_files(client, dir, params.dir, files, params)
  if not report then return nil, rerr end
  for _, n in ipairs(notes) do report.notes[#report.notes + 1] = n end
  report.listed = #files
  if dir and not params.dry_run then
    local by_name = {}
    for _, r in ipairs(report.files) do by_name[r.entry or false] = r end
    local results = {}
    for i, f in ipairs(files) do results[i] = by_name[f] end
    local after = next_position(pos.after, files, results, params.window or 3600)
    local ok, werr = write_state(dir, state_name, { version = STATE_VERSION, instance_id = params.instance_id,
      node_id = params.node_id, start_time = pos.start_time, after = after, ran_at = os.time() }, params.fsync)
    if not ok then return nil, werr end
    report.state = dir:path(state_name)
  end
  return finish(report)
end

--- client:sync_audit_log_files{...}: see above.
function sync.audit_log_files(client, params)
  local ok, err = check_audit(params)
  if not ok then return nil, err end
  return sync.with_dir(client, params.dir, params, function(dir)
    return audit_run(client, params, dir)
  end)
end

-- ---------------------------------------------------------------------------
-- Backups: one directory per backup, `<end time UTC YYYYmmddTHHMMSSZ>_<id>`.

local BACKUP_PARAMS = merged(SYNC_OPTIONS, DOWNLOAD_OPTIONS, { service = "string", instance_id = "string",
  dir = "string", type = "string", backup_id = "string", keep = "number" })
local BACKUP_DIR = "^(%d%d%d%d%d%d%d%dT%d%d%d%d%d%dZ)_[%w_%-]+$"

local function check_backup(params)
  local ok, err = params_mod.check("sync_backup", params, BACKUP_PARAMS, 5)
  if not ok then return nil, err end
  if params.service ~= "rds" and params.service ~= "dcs" then return input("service", 'required; must be "rds" or "dcs"') end
  if not params.instance_id then return input("instance_id", "required: the instance whose backups are mirrored") end
  if not params.dir or params.dir == "" then return input("dir", "required: the directory the backups are kept in") end
  if params.keep and not (params.keep >= 1 and params.keep <= 100000 and params.keep % 1 == 0) then
    return input("keep", "must be a whole number of backups >= 1")
  end
  err = check_common(params) or select(2, download_options(params))
  if err then return nil, err end
  ok, err = apis.validate(params.service == "rds" and "list_backups" or "list_backup_records",
    { instance_id = params.instance_id })
  if not ok then return nil, err end
  local id = params.backup_id
  if id ~= nil and (#id == 0 or #id > 128 or id:find("[^%w_%-]")) then
    return input("backup_id", "must be 1 to 128 letters, digits, '-' or '_'")
  end
  return true
end

local function stamp_of(epoch)
  return os.date("!%Y%m%dT%H%M%SZ", epoch)
end

local function epoch_of_stamp(s)
  local y, mo, d, h, mi, se = s:match("^(%d%d%d%d)(%d%d)(%d%d)T(%d%d)(%d%d)(%d%d)Z$")
  return timefmt.days_from_civil(tonumber(y), tonumber(mo), tonumber(d)) * 86400 + tonumber(h) * 3600
    + tonumber(mi) * 60 + tonumber(se)
end

-- The backup to mirror: its record (looked up), or nil, err.
local function choose(client, params)
  local backups = require "hcdl.backups"
  if params.backup_id then
    return backups.find(client, params.service, params.instance_id, params.backup_id)
  end
  return client:latest_backup{ service = params.service, instance_id = params.instance_id, type = params.type }
end

-- Removes a backup directory hcdl made: its recorded files and hcdl's own,
-- then the directory if nothing else is left.  true | nil, err.
local function remove_backup_dir(parent, name)
  local d, err = core.dir(parent:path(name))
  if not d then return nil, err end
  local rec = record.load(d)
  local ok, rerr = true, nil
  for fname in pairs(rec and rec.files or {}) do
    local r, e = d:remove(fname)
    if r == nil then ok, rerr = nil, e end
  end
  if ok then
    for _, own in ipairs{ record.NAME, record.LOCK, LOCK, OWNER } do d:remove(own) end
  end
  d:close()
  if not ok then return nil, rerr end
  local gone, derr = parent:rmdir(name)
  if gone == nil then return nil, derr end
  return true
end

-- keep / max_age: older backup directories that hold a record go, never
-- the current one.
local function retain(parent, current, params, report)
  if not (params.keep or params.max_age) or not parent then return end
  local names = parent:list() or {}
  local ours = {}
  for _, name in ipairs(names) do
    local stamp = name:match(BACKUP_DIR)
    if stamp and name ~= current then
      local st = parent:stat(name)
      local d = st and st.type == "dir" and core.dir(parent:path(name))
      if d then
        if d:stat(record.NAME) then ours[#ours + 1] = { name = name, time = epoch_of_stamp(stamp) } end
        d:close()
      end
    end
  end
  table.sort(ours, function(a, b) return a.name > b.name end)
  local limit = params.max_age and (os.time() - params.max_age)
  for i, b in ipairs(ours) do
    -- the current backup is the newest kept one: keep - 1 older ones stay
    local drop = (params.keep and i > params.keep - 1) or (limit and b.time < limit)
    if drop then
      if params.dry_run then
        count(report, file_result(b.name, "would-remove", { path = parent:path(b.name) }))
      else
        local ok, err = remove_backup_dir(parent, b.name)
        count(report, file_result(b.name, ok and "removed" or "failed", { path = parent:path(b.name), err = err }))
      end
    end
  end
end

local function backup_run(client, params, parent)
  local chosen, err = choose(client, params)
  if not chosen then return nil, err end
  local backups = require "hcdl.backups"
  local b = backups.describe(params.service, chosen)
  if type(b.id) ~= "string" or b.id:find("[^%w_%-]") or #b.id == 0 or #b.id > 128 then
    return nil, core.error{ kind = "api", field = "id", retryable = false,
      message = "the service gave a backup id that cannot name a directory: " .. ("%q"):format(tostring(b.id)):sub(1, 80) }
  end
  local name = (b.end_epoch and stamp_of(b.end_epoch) or "00000000T000000Z") .. "_" .. b.id
  local files, ferr = client:backup_files{ service = params.service, instance_id = params.instance_id,
    backup_id = b.id }
  if not files then return nil, ferr end
  local path = params.dir:gsub("/+$", "") .. "/" .. name
  local o = merged(params)
  o.max_age = nil -- the age applies to backups, not to the files of one
  local report, rerr = sync.with_dir(client, path, o, function(dir)
    return sync.run_files(client, dir, path, files, o)
  end)
  if not report then return nil, rerr end
  report.backup = { id = b.id, type = b.type, begin_time = b.begin_time, end_time = b.end_time }
  report.backup_dir = path
  -- only once the new backup is complete and verified
  if report.failed == 0 then retain(parent, name, params, report) end
  return finish(report)
end

--- client:sync_backup{...}: see the module comment.
function sync.backup(client, params)
  local ok, err = check_backup(params)
  if not ok then return nil, err end
  return sync.with_dir(client, params.dir, params, function(parent)
    return backup_run(client, params, parent)
  end)
end

sync._next_position = next_position -- for the spec

return sync
