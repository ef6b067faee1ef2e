--- hcdl.poll: waiting for the services that prepare links asynchronously.
--
-- Every wait is a deadline (not a number of tries) and sleeps through the
-- transport's sleep, so OpenResty (ngx.sleep) or Neovim can keep their
-- event loops running.  The interval grows gently (x1.5, at most 4 times
-- the first) to be "low frequency" as the PostgreSQL error-log API asks.
local core = require "hcdl.core"
local params_mod = require "hcdl.params"
local apis = require "hcdl.apis"
local pages = require "hcdl.pages"

local poll = {}

local function check_number(params, name, default, lo, hi)
  local v = params[name]
  if v == nil then return default end
  if type(v) ~= "number" or v ~= v or v < lo or v > hi then
    return nil, core.error{ kind = "input", field = name,
      message = ("%s: must be a number of seconds from %g to %g"):format(name, lo, hi) }
  end
  return v
end

-- The checks every waiting helper starts with: a table, only known
-- parameters, and the timeout/interval bounds.  Returns timeout, interval
-- or nil, err.
local function wait_params(what, params, known, timeout, interval)
  local ok, perr = params_mod.check(what, params, known, 5)
  if not ok then return nil, perr end
  local err
  timeout, err = check_number(params, "timeout", timeout, 0, 86400)
  if not timeout then return nil, err end
  interval, err = check_number(params, "interval", interval, 0.01, 3600)
  if not interval then return nil, err end
  return timeout, interval
end

--- Calls fn() until it returns (true, value) [done], (false) [not yet] or
-- (nil, err) [failed], sleeping between calls, until `timeout` seconds.
function poll.until_done(clock, timeout, interval, what, fn)
  local deadline = clock.now() + timeout
  local wait, max_wait = interval, interval * 4
  local tries = 0
  while true do
    tries = tries + 1
    local done, value = fn()
    if done == nil then return nil, value end
    if done then return value end
    local left = deadline - clock.now()
    if left <= 0 then
      return nil, core.error{ kind = "timeout", tries = tries, retryable = true,
        message = ("%s: not ready after %gs (%d checks)"):format(what, timeout, tries) }
    end
    clock.sleep(math.min(wait, left))
    wait = math.min(wait * 1.5, max_wait)
  end
end

--- client:wait_errorlog_links{ instance_id =, timeout = 300, interval = 2 }
-- Returns the list of error-log files (each with file_link), and the whole
-- answer; or nil, err (FAILED is an "api" error carrying the response).
function poll.wait_errorlog_links(client, clock, params)
  local timeout, interval = wait_params("wait_errorlog_links", params,
    { "instance_id", "timeout", "interval" }, 300, 2)
  if not timeout then return nil, interval end
  local call = { instance_id = params.instance_id }
  local last
  local list, perr = poll.until_done(clock, timeout, interval, "error-log links", function()
    local r, e = client:download_errorlog(call)
    if not r then return nil, e end
    last = r
    local status = type(r.status) == "string" and r.status:lower() or ""
    if status == "finish" then return true, r.list or {} end
    if status == "failed" then
      return nil, core.error{ kind = "api", code = "FAILED", retryable = false, response = r,
        message = "the service failed to prepare the PostgreSQL error logs (status FAILED)" }
    end
    return false
  end)
  if not list then return nil, perr end
  return list, last
end

--- All run-log entries (every page of list_redislog).
local function list_all_redislog(client, instance_id)
  return pages.collect(client, "list_redislog", { instance_id = instance_id })
end

--- The replicas of a DCS instance, from list_group_replication_info:
-- { { id =, ip =, group = } ... }.  A single-node instance has none: the
-- service does not describe it (400), or lists no replica.
local function replicas(client, instance_id)
  local r, err = client:list_group_replication_info{ instance_id = instance_id }
  if not r then
    if err.kind == "api" and err.status == 400 then return {} end
    return nil, err
  end
  local out = {}
  for _, group in ipairs(apis.entries("list_group_replication_info", r)) do
    local list = type(group.replication_list) == "table" and group.replication_list or {}
    for _, rep in ipairs(list) do
      if type(rep) == "table" and type(rep.replication_id) == "string" then
        out[#out + 1] = { id = rep.replication_id, ip = rep.replication_ip, group = group.group_name }
      end
    end
  end
  return out
end

-- Run-log states: the descriptor's finished value, and "success" too (the
-- documented example says "succeed"; other values are unconfirmed).
local function log_state(entry)
  local st = type(entry.status) == "string" and entry.status:lower() or ""
  if st == "failed" then return "failed" end
  if apis.finished("list_redislog", entry) or st == "success" then return "done" end
  return "pending"
end

-- Waits until each collected replica shows a finished new log (targets
-- without a known IP: any new log), none is still being collected, and
-- none failed.  Returns the new finished entries, or nil, err.
local function wait_for_logs(client, clock, timeout, interval, instance_id, seen, targets)
  return poll.until_done(clock, timeout, interval, "run logs", function()
    local now_list, e = list_all_redislog(client, instance_id)
    if not now_list then return nil, e end
    local fresh, pending, by_ip = {}, false, {}
    for _, entry in ipairs(now_list) do
      if entry.id ~= nil and not seen[entry.id] then
        local state = log_state(entry)
        if state == "failed" then
          return nil, core.error{ kind = "api", code = "FAILED", retryable = false, response = entry,
            message = ("collecting run log %s failed"):format(tostring(entry.file_name or entry.id)) }
        end
        if state == "done" then
          fresh[#fresh + 1] = entry
          by_ip[entry.replication_ip or ""] = true
        else
          pending = true
        end
      end
    end
    if pending or #fresh == 0 then return false end
    for _, t in ipairs(targets) do
      if t.ip and not by_ip[t.ip] then return false end
    end
    return true, fresh
  end)
end

--- client:redislog_links{ instance_id =, days = 0|1|3|7, replication_id =,
--    timeout = 120, interval = 1 }
-- Collects run logs (for the given replica; without one, for every replica
-- of a cluster or read/write-split instance, or for the one node of a
-- single-node instance), waits until the list shows the new ones as
-- ready, then asks a download link for each.  Returns a list of
-- { id, file_name, group_name, replication_ip, replication_id, time,
-- backup_id, link } or nil, err.
function poll.redislog_links(client, clock, params)
  local timeout, interval = wait_params("redislog_links", params,
    { "instance_id", "days", "replication_id", "timeout", "interval" }, 120, 1)
  if not timeout then return nil, interval end

  local days = params.days or 0
  if days ~= 0 and days ~= 1 and days ~= 3 and days ~= 7 then
    return nil, core.error{ kind = "input", field = "days",
      message = "days: must be 0 (today), 1, 3 or 7" }
  end
  local instance_id = params.instance_id
  local ok, verr = apis.validate("create_redislog",
    { instance_id = instance_id, query_time = days, replication_id = params.replication_id })
  if not ok then return nil, verr end

  local targets = { { id = params.replication_id } }
  if params.replication_id == nil then
    local reps, rerr = replicas(client, instance_id)
    if not reps then return nil, rerr end
    if #reps > 0 then targets = reps end
  end
  local ids_by_ip = {}
  for _, t in ipairs(targets) do
    if t.ip then ids_by_ip[t.ip] = t.id end
  end

  local before, lerr = list_all_redislog(client, instance_id)
  if not before then return nil, lerr end
  local seen = {}
  for _, e in ipairs(before) do
    if e.id ~= nil then seen[e.id] = true end
  end

  for _, t in ipairs(targets) do
    local done, cerr = client:create_redislog{ instance_id = instance_id, query_time = days,
      replication_id = t.id }
    if not done then return nil, cerr end
  end

  local ready, werr = wait_for_logs(client, clock, timeout, interval, instance_id, seen, targets)
  if not ready then return nil, werr end

  local out = {}
  for _, entry in ipairs(ready) do
    local call = { instance_id = instance_id, id = entry.id }
    local r, e = client:create_redislog_download_link(call)
    if not r then return nil, e end
    local link = { id = entry.id, file_name = entry.file_name, group_name = entry.group_name,
      replication_ip = entry.replication_ip,
      replication_id = ids_by_ip[entry.replication_ip] or params.replication_id,
      time = entry.time, backup_id = r.backup_id, link = r.link }
    -- refreshing this entry asks for its link again
    apis.adopt(link, "create_redislog_download_link", call)
    out[#out + 1] = link
  end
  return out
end

return poll
