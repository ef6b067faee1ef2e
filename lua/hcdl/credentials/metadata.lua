--- hcdl.credentials.metadata: temporary keys of the agency bound to an ECS
-- server, from its metadata service.
--
-- The protocol of the SDK core (auth/internal.py MetadataAccessor;
-- docs/credentials.md "Providers"):
--   PUT {endpoint}/meta-data/latest/api/token, X-Metadata-Token-Ttl-Seconds: 21600
--     -> the session token (body).  404, 405 or 503: the service has no
--     session tokens; go on without one and ask again only after 24 h.
--   GET {endpoint}/openstack/latest/securitykey, X-Metadata-Token: <token>
--     -> {"credential": {access, secret, securitytoken, expires_at}}.
--     A 401 whose body does not say "Please configure Cloud Service Agency
--     first" means the session token expired: get a new one and ask once more.
--   Every request has 3 s to finish.
-- Nothing here is tried before the first API call: hcdl.new does no I/O.
local temporary = require "hcdl.credentials.temporary"

-- A provider of the chain (the interface: hcdl.credentials.chain).
local metadata = { name = "ECS metadata", network = true }

metadata.DEFAULT_ENDPOINT = "http://169.254.169.254"
metadata.TOKEN_PATH = "/meta-data/latest/api/token"
metadata.KEY_PATH = "/openstack/latest/securitykey"
metadata.TOKEN_TTL = 6 * 3600
metadata.TOKEN_RECHECK = 24 * 3600
metadata.TIMEOUT = 3
metadata.NO_AGENCY = "Please configure Cloud Service Agency first"

-- The endpoint a config names (nil when turned off), and its label.
local function endpoint_of(cfg)
  local endpoint = cfg.metadata_endpoint
  if endpoint == false then return nil end
  endpoint = endpoint or metadata.DEFAULT_ENDPOINT
  return endpoint, "ECS metadata (" .. endpoint .. ")"
end

--- Whether the config lets the provider be tried (no I/O).
function metadata.available(ctx)
  if not endpoint_of(ctx.cfg) then return nil, "turned off (metadata_endpoint = false)" end
  return true
end

-- PUT for a session token; keeps it in state.  true, or nil, err.
local function update_token(state, net, endpoint, what, must)
  state.last_try = net.wall()
  local res, err = net.send({ method = "PUT", url = endpoint .. metadata.TOKEN_PATH,
    headers = { ["X-Metadata-Token-Ttl-Seconds"] = tostring(metadata.TOKEN_TTL) }, body = "" },
    metadata.TIMEOUT, "metadata_token")
  if not res then
    err.message = what .. ": " .. tostring(err.message)
    return nil, err
  end
  if res.status == 200 and res.body ~= "" then
    state.token = res.body
    net.secret(state.token)
    return true
  end
  if not must and (res.status == 404 or res.status == 405 or res.status == 503) then
    state.token = nil
    return true
  end
  return nil, temporary.refused(res, what .. ": session token")
end

local function get_key(state, net, endpoint, what)
  local headers = {}
  if state.token then headers["X-Metadata-Token"] = state.token end
  local res, err = net.send({ method = "GET", url = endpoint .. metadata.KEY_PATH, headers = headers },
    metadata.TIMEOUT, "metadata_securitykey")
  if not res then err.message = what .. ": " .. tostring(err.message) end
  return res, err
end

--- The agency's keys { ak, sk, security_token, expires_at }, or nil, err.
-- ctx.state keeps the session token (and when it was last asked for)
-- for the client's life.
function metadata.get(ctx, net)
  local state = ctx.state
  local endpoint, what = endpoint_of(ctx.cfg)
  if not endpoint then return nil end
  if not state.token and (not state.last_try or net.wall() - state.last_try > metadata.TOKEN_RECHECK) then
    local ok, err = update_token(state, net, endpoint, what, false)
    if not ok then return nil, err end
  end
  local res, err = get_key(state, net, endpoint, what)
  if not res then return nil, err end
  if res.status == 401 and not (res.body or ""):find(metadata.NO_AGENCY, 1, true) then
    local ok, terr = update_token(state, net, endpoint, what, true)
    if not ok then return nil, terr end
    res, err = get_key(state, net, endpoint, what)
    if not res then return nil, err end
  end
  if res.status >= 400 then
    local e = temporary.refused(res, what)
    if (res.body or ""):find(metadata.NO_AGENCY, 1, true) then
      e.message = what .. ": no agency is bound to this server (" .. metadata.NO_AGENCY .. ")"
    end
    return nil, e
  end
  return temporary.parse(res.body, what)
end

return metadata
