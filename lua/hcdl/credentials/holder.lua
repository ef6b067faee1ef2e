--- hcdl.credentials.holder: the keys a client signs with now, refreshed
-- before they expire and never used after.
--
-- A source either has fixed keys (`static`: AK/SK, or an X-Auth-Token) or
-- fetches expiring ones (`fetch(net)` -> { ak, sk, security_token | token,
-- expires_at, project_id? }).  Fetched keys are refreshed once fewer than
-- `source.margin` seconds remain (40 minutes for temporary keys, as the
-- SDKs do; 10 for IAM password tokens), by one fetch however many
-- callers ask at once (hcdl.credentials.flight).  When a refresh fails the
-- old keys are still used while they have at least USABLE seconds left;
-- after that the failure is the caller's error: an expired key would only
-- produce a refused signature.
local core = require "hcdl.core"
local flight = require "hcdl.credentials.flight"

local holder = {}
holder.__index = holder

holder.USABLE = 30

--- source: what hcdl.credentials.chain.resolve found (its `current`,
-- when it has one, is the keys a provider already gave).
function holder.new(source)
  return setmetatable({ source = source, current = source.current, flight = flight.new(120) }, holder)
end

--- Where the keys come from, for tostring and messages.
function holder:name()
  return self.source.name
end

--- True when the keys can be fetched again (a 401 may be cured by it).
function holder:refreshable()
  return self.source.static == nil and self.source.fetch ~= nil
end

local function fresh(c, now, margin)
  return c and c.expires_at - now >= margin
end

local function usable(c, now)
  return c and c.expires_at - now > holder.USABLE
end

local function expired_error(self, c, err, now)
  local msg = ("%s: %s"):format(self.source.name, err and err.message or "no keys")
  if c then
    msg = ("%s; the keys held expire%s %d s from now and are not used"):format(
      msg, c.expires_at < now and "d" or "", math.floor(math.abs(c.expires_at - now) + 0.5))
  end
  local e = core.error{ kind = err and err.kind or "auth", status = err and err.status,
    code = err and err.code, request_id = err and err.request_id,
    curl_code = err and err.curl_code, retryable = err and err.retryable or false, message = msg }
  return e
end

--- The keys to sign the next request with, or nil, err.  net: { wall
-- (epoch seconds), now, sleep (the transport's clock), secret (register
-- a secret) , ...what the source's fetch needs }.  force: refresh even
-- if the keys look fresh (the service refused them).
function holder:get(net, force)
  local src = self.source
  if src.static then return src.static end
  local held = self.current
  if not force and fresh(held, net.wall(), src.margin) then return held end
  local got, err = self.flight:run(net, function()
    local c, ferr = src.fetch(net)
    if not c then return nil, ferr end
    for _, s in ipairs{ c.sk, c.security_token, c.token } do net.secret(s) end
    self.current = c
    return c
  end)
  local now = net.wall()
  -- (a chain that tried providers at this call may have found fixed keys)
  if got and (got.expires_at == nil or got.expires_at > now) then return got end
  held = self.current
  if usable(held, now) then return held end
  return nil, expired_error(self, held, err or core.error{ kind = "auth",
    message = "the keys fetched have already expired (is the clock right?)" }, now)
end

return holder
