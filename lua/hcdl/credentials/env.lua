--- hcdl.credentials.env: credentials from environment variables, as the
-- SDK core's EnvCredentialProvider reads them, plus CLOUD_SDK_AK/SK (the
-- convention of API Explorer's generated samples).
--
--   HUAWEICLOUD_SDK_IDP_ID + HUAWEICLOUD_SDK_ID_TOKEN_FILE   OIDC federation (wins, as in the SDK)
--   HUAWEICLOUD_SDK_AK + HUAWEICLOUD_SDK_SK [+ HUAWEICLOUD_SDK_SECURITY_TOKEN]
--   CLOUD_SDK_AK + CLOUD_SDK_SK
local federation = require "hcdl.credentials.federation"

-- A provider of the chain (the interface: hcdl.credentials.chain).
local provider = { name = "environment", network = false }

local function set(v) return v ~= nil and v ~= "" end

function provider.get(ctx)
  local get = ctx.getenv
  local idp, file = get("HUAWEICLOUD_SDK_IDP_ID"), get("HUAWEICLOUD_SDK_ID_TOKEN_FILE")
  if set(idp) and set(file) then
    return federation.source(idp, file, "HUAWEICLOUD_SDK_IDP_ID")
  end
  local ak, sk = get("HUAWEICLOUD_SDK_AK"), get("HUAWEICLOUD_SDK_SK")
  if set(ak) and set(sk) then
    local token = get("HUAWEICLOUD_SDK_SECURITY_TOKEN")
    token = set(token) and token or nil
    return { ak = ak, sk = sk, security_token = token, from = "environment (HUAWEICLOUD_SDK_AK)" }
  end
  local cak, csk = get("CLOUD_SDK_AK"), get("CLOUD_SDK_SK")
  if set(cak) and set(csk) then
    return { ak = cak, sk = csk, from = "environment (CLOUD_SDK_AK)" }
  end
  local halves = {}
  for _, pair in ipairs{ { "HUAWEICLOUD_SDK_AK", "HUAWEICLOUD_SDK_SK" },
                         { "HUAWEICLOUD_SDK_IDP_ID", "HUAWEICLOUD_SDK_ID_TOKEN_FILE" },
                         { "CLOUD_SDK_AK", "CLOUD_SDK_SK" } } do
    local a, b = set(get(pair[1])), set(get(pair[2]))
    if a ~= b then
      halves[#halves + 1] = ("%s is set without %s"):format(a and pair[1] or pair[2], a and pair[2] or pair[1])
    end
  end
  if #halves > 0 then return nil, nil, table.concat(halves, ", ") end
  return nil, nil, "HUAWEICLOUD_SDK_AK/HUAWEICLOUD_SDK_SK, HUAWEICLOUD_SDK_IDP_ID/HUAWEICLOUD_SDK_ID_TOKEN_FILE "
    .. "and CLOUD_SDK_AK/CLOUD_SDK_SK are not set"
end

return provider
