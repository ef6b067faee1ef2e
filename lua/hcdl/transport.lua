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

--- The OpenResty transport: each request runs in an nginx worker thread
-- (ngx.run_worker_thread, thread pool `pool`), so the event loop never
-- blocks on the network; waits use ngx.sleep.  Needs lua-nginx-module with
-- run_worker_thread (0.10.21+) and `thread_pool <pool> threads=N;` in
-- nginx.conf.  opts as for transport.curl.
function transport.ngx(opts, pool)
  local ngx = rawget(_G, "ngx") -- never indexed at require time
  if type(ngx) ~= "table" or type(ngx.run_worker_thread) ~= "function" then
    return nil, core.error{ kind = "input", field = "transport",
      message = "transport: ngx.run_worker_thread is not available (lua-nginx-module 0.10.21+)" }
  end
  opts = opts or {}
  pool = pool or "hcdl"
  return {
    name = "ngx",
    send = function(spec, timeout)
      local o = {
        cafile = opts.cafile, verify_tls = opts.verify_tls, proxy = opts.proxy,
        user_agent = opts.user_agent, connect_timeout = opts.connect_timeout,
        max_body = opts.max_body, timeout = timeout or opts.timeout,
      }
      local ok, res, err = ngx.run_worker_thread(pool, "hcdl.thread", "send", spec, o)
      if not ok then
        return nil, core.error{ kind = "network", retryable = false,
          message = "ngx.run_worker_thread: " .. tostring(res) }
      end
      if res == nil then
        err = err or {}
        err.kind = err.kind or "network"
        return nil, core.error(err)
      end
      return res
    end,
    sleep = function(s) ngx.sleep(s) end,
    now = function()
      ngx.update_time()
      return ngx.now()
    end,
    close = function() end,
  }
end

--- True inside an OpenResty request or timer (where yielding is allowed).
function transport.in_ngx()
  local ngx = rawget(_G, "ngx")
  if type(ngx) ~= "table" or type(ngx.get_phase) ~= "function"
    or type(ngx.run_worker_thread) ~= "function" then
    return false
  end
  local phase = ngx.get_phase()
  return phase == "rewrite" or phase == "access" or phase == "content" or phase == "timer"
end

return transport
