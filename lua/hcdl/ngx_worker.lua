--- hcdl.ngx_worker: API requests in OpenResty, run in one of nginx's worker
-- threads (ngx.run_worker_thread).  nginx resumes the request the moment
-- the call returns, so an API call costs about what it costs in plain Lua
-- (polling between ngx.sleep()s could not go below nginx's 1 ms timers).
-- Downloads stay on the client's engine, where the wait is the transfer.
--
-- Each thread has a Lua VM of its own; one engine per VM and per set of
-- network options keeps its connections alive across calls.  Only plain
-- values cross between the VMs: errors travel as plain tables and the
-- caller makes them hcdl errors again.
local core = require "hcdl.core"

local worker = {}

local engines = {}

local function plain(t)
  local c = {}
  for k, v in pairs(t) do c[k] = v end
  return c
end

--- perform(spec, net, key) -> { status, headers, body } | nil, plain error
function worker.perform(spec, net, key)
  local e = engines[key]
  if not e then
    local err
    e, err = core.engine(net)
    if not e then return nil, plain(err) end
    engines[key] = e
  end
  local res, err = e:perform(spec)
  if not res then return nil, plain(err) end
  return res
end

return worker
