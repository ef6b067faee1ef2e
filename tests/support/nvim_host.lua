-- Runs inside headless Neovim for tests/nvim_spec.lua (`:luafile`), the way
-- a plugin would use hcdl.  It reads a plan (JSON, $HCDL_NVIM_PLAN), writes
-- what it saw to plan.results (JSON, rewritten after every step, so a run
-- that froze or was killed still leaves its partial results) and quits.
--
-- HCDL_NVIM_MODE=packaging: with package.path and package.cpath emptied
-- (no system lua-cjson, no LUA_CPATH), require "hcdl" from the runtimepath
-- and make one API call.
-- Otherwise: a 50 ms vim.loop timer counts ticks while each call runs
-- inside hcdl.async; vim.api is tried after each call, in progress
-- callbacks and in on_done; then two overlapping tasks, then an error
-- inside fn.
local uv = vim.loop

local function read_json(path)
  local f = assert(io.open(path, "rb"))
  local text = f:read("*a")
  f:close()
  return vim.json.decode(text)
end

local plan = read_json(os.getenv("HCDL_NVIM_PLAN"))
local results = { steps = {}, progress = { calls = 0, api_ok = 0 } }

-- vim.json and io work in any context, so saving never depends on where
-- hcdl runs our callbacks.
local function save()
  local f = assert(io.open(plan.results .. ".tmp", "wb"))
  f:write(vim.json.encode(results))
  f:close()
  os.rename(plan.results .. ".tmp", plan.results)
end

local function quit()
  save()
  vim.schedule(function() vim.cmd("qa!") end)
end

-- true when the main loop may call vim.api here (never in a fast callback)
local function api_works(text)
  local ok, err = pcall(vim.api.nvim_buf_set_lines, 0, 0, -1, false, { text })
  return ok, (not ok) and tostring(err) or nil
end

local function seconds_since(t0) return (uv.hrtime() - t0) / 1e9 end

local function new_client(hcdl)
  return assert(hcdl.new{ project_id = plan.project_id, ak = plan.ak, sk = plan.sk, retry_base = 0.05,
    endpoints = { rds = plan.endpoint, gaussdb = plan.endpoint, dcs = plan.endpoint, iam = plan.endpoint } })
end

if os.getenv("HCDL_NVIM_MODE") == "packaging" then
  package.path, package.cpath = "", ""
  local ok, hcdl = pcall(require, "hcdl")
  results.require_ok = ok
  if not ok then
    results.require_error = tostring(hcdl)
  else
    results.version = hcdl.version
    local c = new_client(hcdl)
    local cok, r, err = pcall(c.show_backup_download_link, c, { backup_id = plan.seed.rds_backup_id })
    results.call_ok = cok and r ~= nil
    results.call_files = cok and r and #r.files or nil
    results.call_error = (not cok) and tostring(r) or (err and tostring(err)) or nil
    -- an answer's null in an array is the host decoder's null: vim.NIL here
    -- (src/json_decode.c takes it from vim.json)
    local core = require "hcdl.core"
    local doc = core.json_decode('{"a":[null,1],"b":null}')
    results.array_null_is_vim_nil = type(doc) == "table" and rawequal(doc.a[1], vim.NIL) and doc.b == nil
  end
  return quit()
end

-- The module from the runtimepath (make nvim); if that is missing, the
-- LuaJIT build, so the behaviour below is still measured.
local ok, hcdl = pcall(require, "hcdl")
results.require_from_rtp = ok
if not ok then
  results.require_error = tostring(hcdl)
  package.cpath = plan.fallback_cpath .. ";" .. package.cpath
  package.loaded.hcdl = nil -- LuaJIT leaves a marker after a failed require
  ok, hcdl = pcall(require, "hcdl")
  if not ok then
    results.fatal = "require hcdl: " .. tostring(hcdl)
    return quit()
  end
end
results.has_async = type(hcdl.async) == "function"
-- Without hcdl.async the calls run as plain Lua would: blocking.
local async = hcdl.async or function(fn, on_done)
  local r = { pcall(fn) }
  on_done(r[1], r[2])
end

local ticks = 0
local timer = uv.new_timer()
timer:start(50, 50, function() ticks = ticks + 1 end)

local watchdog = vim.defer_fn(function()
  results.watchdog = true
  quit()
end, plan.watchdog_ms)

local client = new_client(hcdl)

local function progress(done, total)
  results.progress.calls = results.progress.calls + 1
  local api_ok, api_err = api_works(("%s/%s"):format(tostring(done), tostring(total)))
  if api_ok then
    results.progress.api_ok = results.progress.api_ok + 1
  else
    results.progress.api_error = results.progress.api_error or api_err
  end
end

local steps = {
  { "slow_api", function()
    local r, err = client:show_backup_download_link{ backup_id = plan.seed.rds_backup_id }
    return r and #r.files, err
  end },
  { "poll", function()
    local files, err = client:wait_errorlog_links{ instance_id = plan.seed.pg_instance_id, interval = 0.5, timeout = 30 }
    return files and #files, err
  end },
  { "download", function()
    local r, err = client:download(plan.download, plan.dir .. "/one.bin", { progress = progress })
    return r and r.bytes, err
  end },
  { "download_all", function()
    local report, err = client:download_all(plan.batch, plan.dir .. "/all", { concurrency = 2, progress = progress })
    return report and report.ok and report.done, err
  end },
}

local function finish()
  timer:stop()
  timer:close()
  if watchdog and watchdog.stop then watchdog:stop() end
  results.finished = true
  quit()
end

local function start(fn, on_done)
  local sok, serr = pcall(async, fn, on_done)
  if not sok then
    results.async_raised = (results.async_raised or "") .. tostring(serr) .. "\n"
    on_done(false, serr)
  end
end

-- an error inside fn must reach on_done(false, err)
local function error_case()
  start(function() error("boom from fn") end, function(eok, err)
    results.error_case = { ok = eok, err = tostring(err) }
    results.error_case.api = api_works("error case")
    finish()
  end)
end

-- two tasks of ~1 s each, started together, on the same client
local function overlap()
  local t0, pending = uv.hrtime(), 2
  results.overlap = { tasks = {} }
  for i = 1, 2 do
    start(function()
      local r, err = client:create_redislog_download_link{ instance_id = plan.seed.dcs_instance_id, id = plan.seed.dcs_log_id }
      if not r then return "error: " .. tostring(err) end
      return type(r.link) == "string" and "link" or "no link"
    end, function(tok, res)
      results.overlap.tasks[i] = { ok = tok, result = tostring(res), at = seconds_since(t0) }
      pending = pending - 1
      if pending == 0 then
        results.overlap.elapsed = seconds_since(t0)
        save()
        error_case()
      end
    end)
  end
end

start(function()
  for _, step in ipairs(steps) do
    local t0, k0 = uv.hrtime(), ticks
    local sok, value, err = pcall(step[2])
    local rec = { name = step[1], ticks = ticks - k0, elapsed = seconds_since(t0),
      ok = sok and value ~= nil and value ~= false, value = sok and value or nil,
      error = (not sok) and ("raised: " .. tostring(value)) or (err and tostring(err)) or nil }
    rec.api_after, rec.api_error = api_works("after " .. step[1])
    results.steps[#results.steps + 1] = rec
    save()
  end
  return "steps done"
end, function(dok, res)
  results.on_done = { ok = dok, result = tostring(res) }
  results.on_done.api, results.on_done.api_error = api_works("on_done")
  save()
  overlap()
end)
