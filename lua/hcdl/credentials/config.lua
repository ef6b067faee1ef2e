--- hcdl.credentials.config: credentials given in the client config.
--
--   ak + sk [+ security_token]   signed requests (security_token: temporary keys)
--   token                        an IAM token sent as X-Auth-Token
--   iam = { user, password, domain [, project_name] }   a token from a password
--   idp_id + id_token_file       OIDC federation (hcdl.credentials.federation)
-- At most one of these; giving half of a pair, or two kinds, is an input
-- error naming the option.
local core = require "hcdl.core"
local federation = require "hcdl.credentials.federation"
local password = require "hcdl.credentials.password"

-- A provider of the chain (the interface: hcdl.credentials.chain).
local provider = { name = "config", network = false }

local function input(field, fmt, ...)
  return nil, core.error{ kind = "input", field = field, message = field .. ": " .. fmt:format(...) }
end

--- creds or a fetcher | nil, nil, why | nil, err.  ctx: { cfg, project_scope }.
function provider.get(ctx)
  local cfg = ctx.cfg
  if cfg.iam then
    local e = require("hcdl.iam").validate(cfg.iam)
    if e then return nil, e end
  end
  local kinds = {}
  if cfg.ak or cfg.sk then kinds[#kinds + 1] = "ak/sk" end
  if cfg.token then kinds[#kinds + 1] = "token" end
  if cfg.iam then kinds[#kinds + 1] = "iam" end
  if cfg.idp_id or cfg.id_token_file then kinds[#kinds + 1] = "idp_id/id_token_file" end
  if #kinds > 1 then
    local field = cfg.iam and "iam" or cfg.token and "token" or "idp_id"
    if field == "token" and (cfg.ak or cfg.sk) and #kinds == 2 then
      return input("token", "give either token or ak/sk, not both")
    end
    return input(field, "give one of iam (a password), token, ak/sk or idp_id/id_token_file, not %s",
      table.concat(kinds, " and "))
  end
  if cfg.security_token and not cfg.ak then
    return input("security_token", "goes with ak/sk%s", cfg.token and ", not with a token" or "")
  end
  if cfg.iam then
    return password.source(cfg.iam, ctx.project_scope)
  end
  if cfg.token then
    return { token = cfg.token, from = "config (token)" }
  end
  if (cfg.ak ~= nil) ~= (cfg.sk ~= nil) then
    return input(cfg.ak and "sk" or "ak", "ak and sk go together")
  end
  if (cfg.idp_id ~= nil) ~= (cfg.id_token_file ~= nil) then
    return input(cfg.idp_id and "id_token_file" or "idp_id", "idp_id and id_token_file go together")
  end
  if cfg.idp_id then
    return federation.source(cfg.idp_id, cfg.id_token_file, "config idp_id")
  end
  if cfg.ak then
    if not cfg.ak:match("^[%w%-_]+$") then
      return input("ak", "must be letters, digits, '-' or '_'")
    end
    return { ak = cfg.ak, sk = cfg.sk, security_token = cfg.security_token }
  end
  return nil, nil, "no ak/sk, token, iam or idp_id/id_token_file"
end

return provider
