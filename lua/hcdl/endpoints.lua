--- hcdl.endpoints: each service's list of endpoints, and moving a request
-- to the next one when the current one cannot be reached.
--
-- As in the official SDKs (client.py do_http_request), only a failure to
-- reach the server moves on: the host does not resolve, the connection is
-- refused or unreachable, the TLS handshake or the certificate check
-- fails, or the connection times out before the request began.  Any HTTP
-- answer (a 503 included) is the service's answer and is left to the retry
-- policy; so is a timeout once the request may have been sent.  The endpoint that worked is kept for the next calls;
-- when all have failed the next call starts again from the first.
local core = require "hcdl.core"
local debuglog = require "hcdl.debuglog"

local endpoints = {}
endpoints.__index = endpoints

--- True when err says the endpoint could not be reached at all.  hcdl.core
-- decides (http.c, the one mapping of curl failures): a name that does not
-- resolve, a refused or unreachable address, a failed TLS handshake or
-- certificate check, a timeout before the request began.
function endpoints.unreachable(err)
  return type(err) == "table" and err.failover == true
end

--- lists: { service = { url, ... } }.
function endpoints.new(lists)
  local self = setmetatable({ lists = lists, index = {}, now = {} }, endpoints)
  for service, list in pairs(lists) do
    self.index[service] = 1
    self.now[service] = list[1]
  end
  return self
end

--- { service = the endpoint in use } (what hcdl.core.build reads; the
-- same table, kept up to date: read it, do not keep it).
function endpoints:current()
  return self.now
end

function endpoints:move(service, i)
  self.index[service] = i
  self.now[service] = self.lists[service][i]
end

--- The list of service (never nil).
function endpoints:list(service)
  return self.lists[service] or {}
end

-- Runs exchange(current_endpoints) -> res | nil, err, service, moving
-- through the service's endpoints on unreachable errors.
local function over(self, exchange)
  local failures
  local tried = 0
  while true do
    local res, err, service = exchange(self:current())
    if res ~= nil then return res end
    if not service then return nil, err end
    local list = self.lists[service] or {}
    local i = self.index[service] or 1
    tried = tried + 1
    if not endpoints.unreachable(err) or #list < 2 then return nil, err end
    failures = failures or {}
    failures[#failures + 1] = ("%s: %s"):format(list[i], tostring(err.message))
    if tried >= #list then
      self:move(service, 1)
      local e = core.error{ kind = "network", curl_code = err.curl_code, retryable = err.retryable,
        api = err.api, attempts = err.attempts,
        message = ("no %s endpoint could be reached: %s"):format(service, table.concat(failures, "; ")) }
      return nil, e
    end
    self:move(service, i % #list + 1)
  end
end

--- Sends what build(current_endpoints) returns, moving through the
-- service's endpoints on unreachable errors.  build returns a spec with
-- `service` (as hcdl.core.build does) or nil, err.  cfg: the resolved
-- config (for debug lines); info: { api=, attempt=, retries= }.
-- Returns res, nil, spec or nil, err.
function endpoints:send(t, build, timeout, cfg, info)
  local spec
  local res, err = over(self, function(current)
    local s, berr = build(current)
    if not s then return nil, berr end
    spec = s
    local trace = info
    if cfg and cfg.debug then
      local list, i = self.lists[s.service] or {}, self.index[s.service] or 1
      trace = { api = info and info.api, attempt = info and info.attempt, retries = info and info.retries,
        endpoint = #list > 1 and ("%d/%d"):format(i, #list) or nil }
    end
    local r, e = debuglog.send(cfg, t, s, timeout, trace)
    return r, e, s.service
  end)
  if res then return res, nil, spec end
  return nil, err
end

--- Runs exchange(current_endpoints) -> res | nil, err for a request to
-- service (one that builds and sends in one step: transport.call), with
-- the same moves as send.
function endpoints:run(service, exchange)
  return over(self, function(current)
    local r, e = exchange(current)
    return r, e, service
  end)
end

return endpoints
