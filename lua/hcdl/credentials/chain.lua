--- hcdl.credentials.chain: where a client's credentials come from, the
-- first provider that has them winning:
--
--   1. the config table        (hcdl.credentials.config)
--   2. the environment         (hcdl.credentials.env; OIDC federation with
--                               HUAWEICLOUD_SDK_IDP_ID + _ID_TOKEN_FILE)
--   3. the profile file        (hcdl.credentials.profile; federation too)
--   4. ECS metadata            (hcdl.credentials.metadata)
--   5. CCE pod identity        (hcdl.credentials.pod)
--
-- 1-3 read only the config, variables and a local file, so hcdl.new
-- settles them at once.  4 and 5 need the network: when 1-3 have nothing,
-- hcdl.new returns a client whose first call tries 4, then 5, and keeps
-- the first that answers with keys.  When every provider fails, the error
-- says what each one found.
local core = require "hcdl.core"

local chain = {}

local STATIC = {
  { "config", "hcdl.credentials.config" },
  { "environment", "hcdl.credentials.env" },
  { "profile", "hcdl.credentials.profile" },
}
local NETWORK = {
  { "ECS metadata", "hcdl.credentials.metadata" },
  { "CCE pod identity", "hcdl.credentials.pod" },
}

local function lazy(candidates, findings)
  local src = { name = "ECS metadata or CCE pod identity (tried at the first call)", margin = 40 * 60 }
  local pinned
  function src.fetch(net)
    if pinned then return pinned.fetch(net) end
    local found, passing = {}, nil
    for i = 1, #findings do found[i] = findings[i] end
    for _, c in ipairs(candidates) do
      local keys, err = c.source.fetch(net)
      if keys then
        pinned = c.source
        src.name, src.what, src.margin, src.key = pinned.name, pinned.what, pinned.margin, pinned.key
        return keys
      end
      -- a provider that answered with a status src/status.c calls
      -- retryable is there and may recover: the call is tried again; one
      -- that cannot be reached is most likely absent (not on ECS or CCE)
      if err and err.retryable and err.status and not passing then passing = err end
      found[#found + 1] = ("%s: %s"):format(c.label, err and err.message or "no keys")
    end
    return nil, core.error{ kind = passing and passing.kind or "auth", status = passing and passing.status,
      retryable = passing ~= nil, message = "no credentials found; " .. table.concat(found, "; ") }
  end
  return src
end

--- The credential source for a config: a source (see hcdl.credentials.holder)
-- or nil, err.  ctx: { cfg, getenv, profile (hcdl.credentials.profile.load),
-- project_scope }.
function chain.resolve(ctx)
  local findings = {}
  for _, p in ipairs(STATIC) do
    local src, reason, err = require(p[2]).find(ctx)
    if err then return nil, err end
    if src then return src end
    findings[#findings + 1] = ("%s: %s"):format(p[1], reason)
  end
  local candidates = {}
  for _, p in ipairs(NETWORK) do
    local src, reason = require(p[2]).find(ctx)
    if src then
      candidates[#candidates + 1] = { label = src.what or p[1], source = src }
    else
      findings[#findings + 1] = ("%s: %s"):format(p[1], reason)
    end
  end
  if #candidates == 0 then
    return nil, core.error{ kind = "input", field = "ak",
      message = "no credentials: set ak and sk (or token, iam, idp_id) in the config; "
        .. table.concat(findings, "; ") }
  end
  return lazy(candidates, findings)
end

return chain
