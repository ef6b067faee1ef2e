-- The OpenResty side of tests/nginx_spec.lua: the spec copies this file
-- into the temporary install prefix (on the README's lua_package_path) as
-- hcdl_nginx_host.lua and adds locations that call it.
--
--   init_by_lua:  configure(plan.json) reads the plan, creates a client and
--                 uses it once (blocking is allowed there)
--   requests:     run(what, tag, which) runs one case, returns "ok ..." or
--                 "error ..." or "raised ..."
--   timers:       in_timer(what, tag) runs it from ngx.timer.at, the result
--                 goes to the shared dict hcdl_test under tag
--   log phase:    in_log(tag): a call that must return nil, err, not raise
local host = {}

local plan, init_client, init_result

local function new_client()
  return assert(require("hcdl").new{ project_id = plan.project_id, ak = plan.ak, sk = plan.sk,
    retry_base = 0.05,
    endpoints = { rds = plan.endpoint, gaussdb = plan.endpoint, dcs = plan.endpoint, iam = plan.endpoint } })
end

function host.configure(path)
  local f = assert(io.open(path, "rb"))
  plan = require("cjson").decode(f:read("*a"))
  f:close()
  init_client = new_client()
  local r, err = init_client:show_backup_download_link{ backup_id = plan.seed.rds_backup_id }
  init_result = r and ("ok " .. #r.files) or ("error " .. tostring(err))
end

function host.init_result() return init_result end

local cases = {
  slow_api = function(c)
    local r, err = c:show_backup_download_link{ backup_id = plan.seed.rds_backup_id }
    return r and #r.files, err
  end,
  poll = function(c)
    local files, err = c:wait_errorlog_links{ instance_id = plan.seed.pg_instance_id, interval = 0.5, timeout = 30 }
    return files and #files, err
  end,
  download = function(c, tag)
    local r, err = c:download(plan.download, plan.dir .. "/" .. tag .. ".bin")
    return r and r.bytes, err
  end,
  download_all = function(c, tag)
    local report, err = c:download_all(plan.batch, plan.dir .. "/" .. tag, { concurrency = 2 })
    return report and report.ok and report.done, err
  end,
}

local function now()
  ngx.update_time()
  return ngx.now()
end

function host.run(what, tag, which)
  local case = cases[what]
  if not case then return "error unknown case " .. tostring(what) end
  local c = which == "init" and init_client or new_client()
  local t0 = now()
  local ok, value, err = pcall(case, c, tag)
  local took = now() - t0
  if not ok then return "raised " .. tostring(value) end
  if not value then return "error " .. tostring(err) end
  return ("ok %s %.2f"):format(tostring(value), took)
end

function host.in_timer(what, tag)
  local ok, err = ngx.timer.at(0, function(premature)
    if premature then return end
    ngx.shared.hcdl_test:set(tag, host.run(what, tag))
  end)
  if not ok then ngx.shared.hcdl_test:set(tag, "error ngx.timer.at: " .. tostring(err)) end
end

function host.in_log(tag)
  local c = new_client()
  local ok, r, err = pcall(c.show_backup_download_link, c, { backup_id = plan.seed.rds_backup_id })
  local out
  if not ok then
    out = "raised " .. tostring(r)
  elseif r then
    out = "ok (the call ran in the log phase)"
  else
    out = "error " .. tostring(err)
  end
  ngx.shared.hcdl_test:set(tag, out)
end

return host
