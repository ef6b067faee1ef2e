--- hcdl.transport: how a request spec reaches the network, and how to wait.
--
-- Everything in hcdl that waits or loops is written straight-line over a
-- small table:
--
--   { send = function(spec, timeout) -> res | nil, err,
--     sleep = function(seconds), now = function() -> seconds (monotonic),
--     close = function() }
--
-- The default one below calls libcurl directly (blocking) with one kept-
-- alive session.  Hosts with an event loop pass their own `sleep`/`now`
-- (e.g. ngx.sleep) or a whole transport through the client config.
local core = require "hcdl.core"

local transport = {}

--- A blocking libcurl transport.  opts: timeout, connect_timeout, cafile,
-- verify_tls, proxy, user_agent, low_speed_limit, low_speed_time, max_body.
function transport.curl(opts)
  opts = opts or {}
  local session, err = core.session{
    timeout = opts.timeout, connect_timeout = opts.connect_timeout,
    cafile = opts.cafile, verify_tls = opts.verify_tls, proxy = opts.proxy,
    user_agent = opts.user_agent, low_speed_limit = opts.low_speed_limit,
    low_speed_time = opts.low_speed_time, max_body = opts.max_body,
  }
  if not session then return nil, err end
  return {
    name = "curl",
    send = function(spec, timeout)
      return session:perform{
        method = spec.method, url = spec.url, headers = spec.headers,
        body = spec.body ~= "" and spec.body or (spec.method ~= "GET" and "" or nil),
        timeout = timeout,
      }
    end,
    sleep = core.sleep,
    now = core.now,
    close = function() session:close() end,
  }
end

return transport
