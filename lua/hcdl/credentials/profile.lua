--- hcdl.credentials.profile: the SDKs' profile file, an INI file at
-- ~/.huaweicloud/credentials (or HUAWEICLOUD_SDK_CREDENTIALS_FILE, or the
-- config's credentials_file), section [basic] (regional services):
--
--   ak, sk, security_token     keys (security_token: temporary ones)
--   idp_id, id_token_file      OIDC federation (wins over ak/sk, as in the SDK)
--   project_id                 the project, when the config has none
--   iam_endpoint               the IAM endpoint (hcdl.config)
-- (SDK core auth/provider.py ProfileCredentialProvider.)
local configfile = require "hcdl.configfile"
local core = require "hcdl.core"
local federation = require "hcdl.credentials.federation"

-- A provider of the chain (the interface: hcdl.credentials.chain).
local provider = { name = "profile", network = false }

provider.SECTION = "basic"

--- Reads section `section` of an INI file as Python's configparser does
-- for these files: `key = value` or `key: value`, keys in lower case,
-- values trimmed, # and ; comment lines.  { key = value }, or nil.
function provider.read_ini(path, section)
  local text, too_big = configfile.read(path, "profile", "r")
  if not text then return nil, nil, too_big end
  local current, values, found = nil, {}, false
  for line in text:gmatch("[^\n]*") do
    line = line:gsub("^%s+", ""):gsub("%s+$", "")
    local name = line:match("^%[%s*(.-)%s*%]$")
    if name then
      current = name
      found = found or name == section
    elseif current == section and line ~= "" and not line:match("^[#;]") then
      local k, v = line:match("^([^=:]-)%s*[=:]%s*(.*)$")
      if k and k ~= "" then values[k:lower()] = v end
    end
  end
  return values, found
end

--- Loads the profile once per client: { path, values | nil, reason }.
function provider.load(cfg, getenv, home)
  local path = cfg.credentials_file
  if not path or path == "" then path = getenv("HUAWEICLOUD_SDK_CREDENTIALS_FILE") end
  if not path or path == "" then
    path = home and home ~= "" and (home .. "/.huaweicloud/credentials") or nil
  end
  if not path then return { reason = "no home directory to look in" } end
  local values, found, too_big = provider.read_ini(path, provider.SECTION)
  if too_big then
    return { path = path, reason = path .. ": " .. too_big, err = core.error{ kind = "input",
      field = "credentials_file", path = path, message = ("credentials file %s: %s"):format(path, too_big) } }
  end
  if not values then return { path = path, reason = path .. " does not exist" } end
  if not found then return { path = path, reason = ("%s has no [%s] section"):format(path, provider.SECTION) } end
  local function get(k) local v = values[k]; return v ~= "" and v or nil end
  return { path = path, get = get }
end

function provider.get(ctx)
  local p = ctx.profile
  if not p.get then return nil, nil, p.reason end
  local idp, file = p.get("idp_id"), p.get("id_token_file")
  if idp and file then return federation.source(idp, file, "profile " .. p.path) end
  local ak, sk = p.get("ak"), p.get("sk")
  if ak and sk then
    local token = p.get("security_token")
    return { ak = ak, sk = sk, security_token = token, from = "profile [basic] (" .. p.path .. ")" }
  end
  return nil, nil, ("[basic] in %s has neither ak and sk nor idp_id and id_token_file"):format(p.path)
end

return provider
