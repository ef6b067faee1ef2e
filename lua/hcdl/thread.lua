--- hcdl.thread: the side of the OpenResty transport that runs in an nginx
-- worker thread (ngx.run_worker_thread), where blocking libcurl calls do not
-- stall the event loop.  Each thread has its own Lua VM; a session per VM
-- keeps its connection alive across calls.
--
-- Values cross between VMs by copy, without metatables: errors travel as
-- plain tables and the caller turns them back into hcdl errors.
local core = require "hcdl.core"

local thread = {}

local sessions = {}

local function plain(err)
  local t = {}
  for k, v in pairs(err) do t[k] = v end
  return t
end

--- send(spec, opts) -> res | nil, plain_err
function thread.send(spec, opts)
  local key = table.concat({ tostring(opts.cafile), tostring(opts.verify_tls), tostring(opts.proxy),
    tostring(opts.user_agent), tostring(opts.connect_timeout) }, "|")
  local session = sessions[key]
  if not session then
    local err
    session, err = core.session{
      cafile = opts.cafile, verify_tls = opts.verify_tls, proxy = opts.proxy,
      user_agent = opts.user_agent, connect_timeout = opts.connect_timeout,
      max_body = opts.max_body,
    }
    if not session then return nil, plain(err) end
    sessions[key] = session
  end
  local res, err = session:perform{
    method = spec.method, url = spec.url, headers = spec.headers,
    body = spec.body ~= "" and spec.body or (spec.method ~= "GET" and "" or nil),
    timeout = opts.timeout,
  }
  if not res then return nil, plain(err) end
  return res
end

return thread
