--- hcdl.config: validate a client configuration and fill it in from the
-- environment, the way the official SDKs do.
--
-- Credentials, in order: the config table; HUAWEICLOUD_SDK_AK/_SK (with
-- HUAWEICLOUD_SDK_SECURITY_TOKEN); CLOUD_SDK_AK/_SK (the convention of the
-- API Explorer samples); the profile file ~/.huaweicloud/credentials (or
-- HUAWEICLOUD_SDK_CREDENTIALS_FILE), section [basic].  Or a token
-- (X-Auth-Token) given directly.  The project id: config, then
-- HUAWEICLOUD_SDK_PROJECT_ID, then the profile.
local core = require "hcdl.core"
local regions = require "hcdl.regions"

local config = {}

local OPTIONS = {
  region = "string", project_id = "string", ak = "string", sk = "string",
  security_token = "string", token = "string", endpoints = "table",
  cafile = "string", verify_tls = "boolean", proxy = "string",
  timeout = "number", connect_timeout = "number", retries = "number",
  retry_deadline = "number", retry_base = "number", retry_cap = "number",
  user_agent = "string", language = "string", transport = "table",
  sleep = "function", now = "function", max_body = "number",
  low_speed_limit = "number", low_speed_time = "number",
  credentials_file = "string", iam = "table", thread_pool = "string",
}

local function input(field, fmt, ...)
  return nil, core.error{ kind = "input", field = field,
    message = field .. ": " .. fmt:format(...) }
end

local function known_options()
  local names = {}
  for k in pairs(OPTIONS) do names[#names + 1] = k end
  table.sort(names)
  return table.concat(names, ", ")
end

--- Reads section `section` of an INI file: { key = value } or nil.
function config.read_ini(path, section)
  local f = io.open(path, "r")
  if not f then return nil end
  local current, values = nil, {}
  for line in f:lines() do
    line = line:gsub("^%s+", ""):gsub("%s+$", "")
    local name = line:match("^%[%s*(.-)%s*%]$")
    if name then
      current = name
    elseif current == section and line ~= "" and not line:match("^[#;]") then
      local k, v = line:match("^([^=]-)%s*=%s*(.*)$")
      if k then values[k:lower()] = v end
    end
  end
  f:close()
  return values
end

local function nonempty(v) return v ~= nil and v ~= "" end

--- Returns a resolved, validated config, or nil, err (kind "input").
-- env: { getenv = fn, home = path } for tests; defaults to the process's.
function config.resolve(user, env)
  if type(user) ~= "table" then
    error("hcdl.new: config must be a table, got " .. type(user), 3)
  end
  local getenv = env and env.getenv or os.getenv
  for k, v in pairs(user) do
    if type(k) ~= "string" or not OPTIONS[k] then
      return input(tostring(k), "unknown option (known: %s)", known_options())
    end
    if type(v) ~= OPTIONS[k] then
      return input(k, "must be a %s, got %s", OPTIONS[k], type(v))
    end
  end

  local cfg = {}
  for k, v in pairs(user) do cfg[k] = v end

  -- Credentials.
  if cfg.iam then
    local e = require("hcdl.iam").validate(cfg.iam)
    if e then return nil, e end
    if cfg.token or cfg.ak or cfg.sk then
      return input("iam", "give one of iam (a password), token or ak/sk")
    end
  end
  if cfg.token and (cfg.ak or cfg.sk) then
    return input("token", "give either token or ak/sk, not both")
  end
  if (cfg.ak ~= nil) ~= (cfg.sk ~= nil) then
    return input(cfg.ak and "sk" or "ak", "ak and sk go together")
  end
  local profile
  local function load_profile()
    if profile == nil then
      local path = cfg.credentials_file or getenv("HUAWEICLOUD_SDK_CREDENTIALS_FILE")
      if not nonempty(path) then
        local home = env and env.home or getenv("HOME")
        path = home and (home .. "/.huaweicloud/credentials") or nil
      end
      profile = path and config.read_ini(path, "basic") or false
    end
    return profile or nil
  end
  if cfg.iam then
    cfg.credential_source = "IAM password"
  elseif not cfg.token and not cfg.ak then
    if nonempty(getenv("HUAWEICLOUD_SDK_AK")) and nonempty(getenv("HUAWEICLOUD_SDK_SK")) then
      cfg.ak, cfg.sk = getenv("HUAWEICLOUD_SDK_AK"), getenv("HUAWEICLOUD_SDK_SK")
      local st = getenv("HUAWEICLOUD_SDK_SECURITY_TOKEN")
      if nonempty(st) then cfg.security_token = st end
      cfg.credential_source = "environment (HUAWEICLOUD_SDK_AK)"
    elseif nonempty(getenv("CLOUD_SDK_AK")) and nonempty(getenv("CLOUD_SDK_SK")) then
      cfg.ak, cfg.sk = getenv("CLOUD_SDK_AK"), getenv("CLOUD_SDK_SK")
      cfg.credential_source = "environment (CLOUD_SDK_AK)"
    else
      local p = load_profile()
      if p and nonempty(p.ak) and nonempty(p.sk) then
        cfg.ak, cfg.sk = p.ak, p.sk
        if nonempty(p.security_token) then cfg.security_token = p.security_token end
        cfg.credential_source = "profile [basic]"
      end
    end
  else
    cfg.credential_source = "config"
  end
  if not cfg.token and not cfg.ak and not cfg.iam then
    return input("ak", "no credentials: set ak and sk (or token) in the config, "
      .. "HUAWEICLOUD_SDK_AK/HUAWEICLOUD_SDK_SK, CLOUD_SDK_AK/CLOUD_SDK_SK, or [basic] "
      .. "in ~/.huaweicloud/credentials")
  end
  if cfg.token and cfg.security_token then
    return input("security_token", "goes with ak/sk, not with a token")
  end
  if cfg.ak and not cfg.ak:match("^[%w%-_]+$") then
    return input("ak", "must be letters, digits, '-' or '_'")
  end

  if not cfg.project_id then
    local pid = getenv("HUAWEICLOUD_SDK_PROJECT_ID")
    if not nonempty(pid) then
      local p = load_profile()
      pid = p and p.project_id
    end
    if nonempty(pid) then cfg.project_id = pid end
  end
  if not cfg.project_id then
    return input("project_id", "required: the 32-character project id of the region "
      .. "(config, HUAWEICLOUD_SDK_PROJECT_ID or the profile)")
  end
  if not cfg.project_id:match("^%w+$") or #cfg.project_id ~= 32 then
    return input("project_id", "must be 32 letters or digits")
  end

  -- Endpoints: explicit ones win; the region fills in the rest.
  local endpoints = {}
  for k, v in pairs(cfg.endpoints or {}) do
    if type(k) ~= "string" then return input("endpoints", "keys must be service names") end
    local known = false
    for _, s in ipairs(regions.SERVICES) do known = known or s == k end
    if not known then
      return input("endpoints." .. k, "unknown service (known: %s)", table.concat(regions.SERVICES, ", "))
    end
    if type(v) ~= "string" or not v:match("^https?://[^/?#@%s]+/?$") then
      return input("endpoints." .. k, "must be http[s]://host[:port] with no path")
    end
    endpoints[k] = (v:gsub("/$", ""))
  end
  if cfg.region then
    if cfg.endpoints == nil and not regions.is_known(cfg.region) then
      return input("region", "unknown region '%s' (known: %s)", cfg.region,
        table.concat(regions.known(), ", "))
    end
    for _, s in ipairs(regions.SERVICES) do
      if not endpoints[s] then
        endpoints[s] = regions.endpoint(cfg.region, s, getenv) -- may stay nil
      end
    end
  elseif not cfg.endpoints then
    return input("region", "required (e.g. cn-north-4, eu-de), or endpoints")
  end
  cfg.endpoints = endpoints
  if cfg.iam and not endpoints.iam then
    return input("endpoints.iam", "required with iam (or a known region)")
  end

  -- Numbers with ranges.
  local function range(name, lo, hi, default)
    local v = cfg[name]
    if v == nil then cfg[name] = default return true end
    if v ~= v or v < lo or v > hi then
      return false, select(2, input(name, "must be between %s and %s", lo, hi))
    end
    return true
  end
  for _, r in ipairs{
    { "timeout", 0.001, 86400, 60 }, { "connect_timeout", 0.001, 3600, 10 },
    { "retries", 0, 100, 4 }, { "retry_deadline", 0, 86400, 120 },
    { "retry_base", 0, 3600, 0.5 }, { "retry_cap", 0, 3600, 20 },
    { "max_body", 1024, 1024 * 1024 * 1024, 16 * 1024 * 1024 },
  } do
    local ok, err = range(r[1], r[2], r[3], r[4])
    if not ok then return nil, err end
  end
  if cfg.retries ~= math.floor(cfg.retries) then
    return input("retries", "must be a whole number")
  end
  if cfg.language and cfg.language ~= "en-us" and cfg.language ~= "zh-cn" then
    return input("language", "must be en-us or zh-cn")
  end
  if cfg.transport and type(cfg.transport.send) ~= "function" then
    return input("transport", "must have a send(spec, timeout) function")
  end
  return cfg
end

return config
