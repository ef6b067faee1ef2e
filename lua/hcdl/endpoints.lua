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

-- Runs exchange(current_endpoints, a, b, c, d, e) -> res | nil, err,
-- service, extra, moving through the service's endpoints on unreachable
-- errors (service: the one given, else the third value exchange returns).
-- Returns res | nil, err, and the last extra exchange returned.  The
-- arguments are passed through so that a caller needs no closure per call.
local function over(self, service, exchange, a, b, c, d, e)
  local failures, extra
  local tried = 0
  while true do
    local res, err, svc, x = exchange(self.now, a, b, c, d, e)
    if x ~= nil then extra = x end
    if res ~= nil then return res, nil, extra end
    svc = service or svc
    if not svc then return nil, err, extra end
    local list = self.lists[svc] or {}
    local i = self.index[svc] or 1
    tried = tried + 1
    if not endpoints.unreachable(err) or #list < 2 then return nil, err, extra end
    failures = failures or {}
    failures[#failures + 1] = ("%s: %s"):format(list[i], tostring(err.message))
    if tried >= #list then
      self:move(svc, 1)
      local merged = core.error{ kind = "network", curl_code = err.curl_code, retryable = err.retryable,
        api = err.api, attempts = err.attempts,
        message = ("no %s endpoint could be reached: %s"):format(svc, table.concat(failures, "; ")) }
      return nil, merged, extra
    end
    self:move(svc, i % #list + 1)
  end
end

--- Sends what build(current_endpoints) returns, moving through the
-- service's endpoints on unreachable errors.  build returns a spec with
-- `service` (as hcdl.core.build does) or nil, err.  cfg: the resolved
-- config (for debug lines); info: { api=, attempt=, retries= }.
-- Returns res, nil, spec or nil, err.
function endpoints:send(t, build, timeout, cfg, info)
  local spec
  local res, err = over(self, nil, function(current)
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

--- Runs exchange(current_endpoints, a, b, c, d, e) -> res | nil, err,
-- nil, extra for a request to service (one that builds and sends in one
-- step: transport.call), with the same moves as send.  Returns res | nil,
-- err, and the last extra exchange returned (what was sent, for masking).
endpoints.run = over -- (self, service, exchange, a, b, c, d, e): one call less per request

return endpoints
