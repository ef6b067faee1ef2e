--- hcdl.auth: what one API call signs with and where it goes, settled
-- afresh for every attempt.
--
--   a = auth.new(cfg, secrets)     once per client (no I/O)
--   t = client:transport()
--   fields, err = a:for_call(t)    keys (refreshed when due, single flight),
--                                  the project id (looked up once through
--                                  IAM when not configured), the language
--   res, err = a:send(t, build, timeout, info)
--                                  build(endpoints) -> spec; sends it, moving
--                                  to the service's next endpoint when one
--                                  cannot be reached
--   data, err = a:call(t, api, service, params, fields, timeout)
--                                  the same through t.call (built, sent and
--                                  parsed in C)
--
-- Everything goes through t.send / t.sleep / t.now, so a refresh inside
-- OpenResty or another event loop never blocks it.  `secrets` is the
-- client's list of strings to scrub: every key, token and password seen
-- is added to it.
local core = require "hcdl.core"
local debuglog = require "hcdl.debuglog"
local endpoints_mod = require "hcdl.endpoints"
local flight = require "hcdl.credentials.flight"
local holder = require "hcdl.credentials.holder"
local iam = require "hcdl.iam"
local redact = require "hcdl.redact"

local auth = {}
local Auth = {}
Auth.__index = Auth

function auth.new(cfg, secrets)
  local self = setmetatable({
    cfg = cfg, secrets = secrets, seen = {},
    holder = holder.new(cfg.credential_source),
    endpoints = endpoints_mod.new(cfg.endpoint_lists),
    project_id = cfg.project_id,
    project_flight = flight.new(120),
  }, Auth)
  for _, s in ipairs(cfg.credential_source.secrets or {}) do self:secret(s) end
  for _, s in ipairs(cfg.extra_secrets or {}) do self:secret(s) end
  return self
end

--- Adds s to the strings scrubbed from errors and debug lines.
function Auth:secret(s)
  if type(s) == "string" and #s >= 4 and not self.seen[s] then
    self.seen[s] = true
    self.secrets[#self.secrets + 1] = s
  end
end

--- err with every known secret taken out of every field (hcdl.redact,
-- the same cleaning as every error a call returns).
function Auth:scrub(err)
  return redact.error(err, self.secrets)
end

--- Wall-clock seconds for expiry checks.  The later of the system clock
-- and one that advances with the transport's monotonic clock: a host (or
-- a test) whose now() runs ahead makes keys age with it, and a system
-- clock that jumps (suspend, NTP) is never ignored.  Refreshing early is
-- always safe; late never is.
function Auth:wall(t)
  if not self.anchor then self.anchor = { wall = os.time(), mono = t.now() } end
  return math.max(os.time(), self.anchor.wall + (t.now() - self.anchor.mono))
end

--- What providers and IAM calls get to work with (one per transport).
function Auth:net(t)
  if self.net_for == t then return self.net_cache end
  local a = self
  local net = { now = t.now, sleep = t.sleep, timeout = self.cfg.timeout }
  function net.wall() return a:wall(t) end
  function net.secret(s) a:secret(s) end
  function net.send(spec, timeout, api)
    return debuglog.send(a.cfg, t, spec, timeout, { api = api })
  end
  function net.iam(build, timeout, api)
    return a:send(t, function(current)
      local spec, err = build(current.iam)
      if spec then spec.service = "iam" end
      return spec, err
    end, timeout or a.cfg.timeout, { api = api })
  end
  self.net_for, self.net_cache = t, net
  return net
end

--- True when for_call can send nothing (fixed keys, known project).
function Auth:settled()
  return self.project_id ~= nil and self.holder.source.static ~= nil
end

--- Name of the credential source, for tostring(client).
function Auth:source_name()
  return self.holder:name()
end

--- True when refreshing the keys may cure a refusal (not for fixed keys).
function Auth:refreshable()
  return self.holder:refreshable()
end

local function project(self, net, creds)
  if creds.project_id then return creds.project_id end
  local region = self.cfg.region
  if not creds.ak then
    return nil, core.error{ kind = "input", field = "project_id",
      message = "project_id: required (it can be looked up only with AK/SK credentials)" }
  end
  return self.project_flight:run(net, function()
    if self.project_id then return self.project_id end
    local key = self.holder.source.key or creds.ak
    return iam.project_id(net, creds, region, key, self.cfg.timeout)
  end)
end

--- The auth fields hcdl.core.build reads (without endpoints), or nil, err.
-- force: fetch new keys even if the held ones look fresh.
function Auth:for_call(t, force)
  local net = self:net(t)
  local creds, err = self.holder:get(net, force)
  if not creds then return nil, self:scrub(err) end
  if not self.project_id then
    local pid, perr = project(self, net, creds)
    if not pid then return nil, self:scrub(perr) end
    self.project_id = pid
  end
  -- the same table while the keys stay the same (callers only set its
  -- endpoints right before a build, which cannot yield)
  if self.fields_for ~= creds then
    self.fields_for = creds
    self.fields = { project_id = self.project_id, ak = creds.ak, sk = creds.sk,
      security_token = creds.security_token, token = creds.token, language = self.cfg.language }
  end
  return self.fields
end

--- Calls API name of service through t.call (build, sign, send and parse
-- in two crossings) with endpoint fail-over: data, or nil, err and what
-- was sent (for masking).
local function call_at(current, t, name, params, fields, timeout)
  fields.endpoints = current
  local d, e, sent = t.call(name, params, fields, timeout)
  return d, e, nil, sent
end

function Auth:call(t, name, service, params, fields, timeout)
  local data, err, request = self.endpoints:run(service, call_at, t, name, params, fields, timeout)
  if data == nil then return nil, self:scrub(err), request end
  return data
end

--- Sends build(current endpoints) with endpoint fail-over and debug lines.
function Auth:send(t, build, timeout, info)
  local res, err = self.endpoints:send(t, build, timeout, self.cfg, info)
  if not res then return nil, self:scrub(err) end
  return res
end

return auth
