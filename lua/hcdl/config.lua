--- hcdl.config: validate a client configuration and fill it in the way the
-- official SDKs resolve theirs.  No network I/O: what needs the network
-- (ECS metadata, pod identity, federation, the project id) happens at the
-- first call (hcdl.auth).
--
--   credentials  hcdl.credentials.chain: config, environment, profile,
--                ECS metadata, CCE pod identity (or the config's
--                credentials.providers); the keys found live in the
--                source it returns, never in cfg.ak / cfg.sk
--   project_id   config, HUAWEICLOUD_SDK_PROJECT_ID, the profile's
--                project_id, else looked up through IAM by region name
--   endpoints    per service: config `endpoints`, then (IAM only)
--                HUAWEICLOUD_SDK_IAM_ENDPOINT and the profile's iam_endpoint,
--                then HUAWEICLOUD_SDK_REGION_<SERVICE>_<REGION>, the regions
--                file, the built-in table (hcdl.regions); each a list
--   debug        config `debug`, or HCDL_DEBUG=1 to stderr (hcdl.debuglog)
local core = require "hcdl.core"
local regions = require "hcdl.regions"
local chain = require "hcdl.credentials.chain"
local profile_mod = require "hcdl.credentials.profile"
local debuglog = require "hcdl.debuglog"
local redact = require "hcdl.redact"

local config = {}

-- The client's own options and their types; the network and transfer
-- options (connect_timeout, proxy, max_rate, ...) join them from the one
-- table in C (core.options(), src/options.h), with their ranges and
-- defaults.
local OPTIONS = {
  region = "string", project_id = "string", ak = "string", sk = "string",
  security_token = "string", token = "string", endpoints = "table",
  timeout = "number", retries = "number",
  retry_deadline = "number", retry_base = "number", retry_cap = "number",
  language = "string", transport = "table",
  sleep = "function", now = "function", max_body = "number",
  credentials_file = "string", iam = "table", thread_pool = "string",
  idp_id = "string", id_token_file = "string", regions_file = "string",
  metadata_endpoint = "string", debug = "function",
  credentials = "table",
}
local LUA_TYPE = { seconds = "number", whole = "number", rate = "number", boolean = "boolean", string = "string" }
-- the network options of a client: every row given per client
local NET_ROWS = {}
for _, row in ipairs(core.options()) do
  if row.scope ~= "transfer" then
    OPTIONS[row.name] = LUA_TYPE[row.type]
    NET_ROWS[#NET_ROWS + 1] = row
  end
end
-- options that also take `false` (turned off)
local MAY_BE_FALSE = { metadata_endpoint = true }

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
  return (profile_mod.read_ini(path, section))
end

local function nonempty(v) return v ~= nil and v ~= "" end

local function check_types(user)
  for k, v in pairs(user) do
    if type(k) ~= "string" or not OPTIONS[k] then
      return input(tostring(k), "unknown option (known: %s)", known_options())
    end
    if type(v) ~= OPTIONS[k] and not (v == false and MAY_BE_FALSE[k]) then
      return input(k, "must be a %s, got %s", OPTIONS[k], type(v))
    end
  end
  if type(user.metadata_endpoint) == "string" then
    local url = regions.normalize(user.metadata_endpoint)
    if not url or not user.metadata_endpoint:match("^https?://") then
      return input("metadata_endpoint", "must be http[s]://host[:port] with no path, or false")
    end
  end
  return true
end

-- The config's endpoints: { service = {urls} } or nil, err.
local function configured_endpoints(given)
  local out = {}
  for k, v in pairs(given or {}) do
    if type(k) ~= "string" then return input("endpoints", "keys must be service names") end
    if not regions.is_service(k) then
      return input("endpoints." .. k, "unknown service (known: %s)", table.concat(regions.SERVICES, ", "))
    end
    local list = type(v) == "table" and v or { v }
    if #list == 0 then return input("endpoints." .. k, "must list at least one endpoint") end
    out[k] = {}
    for i, url in ipairs(list) do
      local n = type(url) == "string" and url:match("^https?://") and regions.normalize(url)
      if not n then
        local field = type(v) == "table" and ("endpoints.%s[%d]"):format(k, i) or ("endpoints." .. k)
        return input(field, "must be http[s]://host[:port] with no path (or a list of them)")
      end
      out[k][i] = n
    end
  end
  return out
end

-- Every service's endpoint list; nil, err for malformed sources.
local function resolve_endpoints(cfg, getenv, home, profile)
  local lists, err = configured_endpoints(cfg.endpoints)
  if not lists then return nil, err end
  local file = {}
  if cfg.region then
    local path = regions.file_path(cfg.regions_file, getenv, home)
    local ferr
    file, ferr = regions.read_file(path)
    if not file then return input("regions_file", "%s", ferr) end
  end
  if not lists.iam then
    for _, candidate in ipairs{ { getenv("HUAWEICLOUD_SDK_IAM_ENDPOINT"), "HUAWEICLOUD_SDK_IAM_ENDPOINT" },
                                { profile.get and profile.get("iam_endpoint"), "iam_endpoint in " .. tostring(profile.path) } } do
      if nonempty(candidate[1]) then
        local url = regions.normalize(candidate[1])
        if not url then return input("endpoints.iam", "%s: '%s' is not an endpoint", candidate[2], candidate[1]) end
        lists.iam = { url }
        break
      end
    end
  end
  local found_data_service = false
  for _, s in ipairs(regions.SERVICES) do
    if lists[s] then
      found_data_service = found_data_service or s ~= "iam"
    elseif cfg.region then
      local list, why, malformed = regions.endpoints(cfg.region, s, getenv, file)
      if malformed then return input("endpoints." .. s, "%s", why) end
      lists[s] = list
      found_data_service = found_data_service or (list ~= nil and s ~= "iam")
    end
  end
  if cfg.region and not found_data_service and not regions.is_known(cfg.region) then
    return input("region", "unknown region '%s' (known: %s); or give endpoints, "
      .. "HUAWEICLOUD_SDK_REGION_<SERVICE>_<REGION> or a regions file", cfg.region,
      table.concat(regions.known(), ", "))
  end
  if not cfg.region and next(lists) == nil then
    return input("region", "required (e.g. cn-north-4, eu-de), or endpoints")
  end
  lists.iam = lists.iam or { regions.IAM_DEFAULT }
  return lists
end

-- The project id from the config, the environment or the profile; nil
-- when it must be looked up (or nil, err).
local function static_project_id(cfg, getenv, profile)
  local pid = cfg.project_id
  if not pid and nonempty(getenv("HUAWEICLOUD_SDK_PROJECT_ID")) then pid = getenv("HUAWEICLOUD_SDK_PROJECT_ID") end
  if not pid and profile.get then pid = profile.get("project_id") end
  if pid and (not pid:match("^%w+$") or #pid ~= 32) then
    return input("project_id", "must be 32 letters or digits")
  end
  return pid
end

-- Proxy users and passwords (config or the variables libcurl reads) to
-- scrub, in every form (hcdl.redact).
local function proxy_secrets(cfg, getenv)
  local out = {}
  for _, v in ipairs{ cfg.proxy or false, getenv("https_proxy") or false, getenv("HTTPS_PROXY") or false,
                      getenv("http_proxy") or false, getenv("HTTP_PROXY") or false,
                      getenv("all_proxy") or false, getenv("ALL_PROXY") or false } do
    for _, s in ipairs(redact.proxy_secrets(v or nil)) do out[#out + 1] = s end
  end
  return out
end

--- Returns a resolved, validated config, or nil, err (kind "input").
-- env: { getenv = fn, home = path } for tests; defaults to the process's.
function config.resolve(user, env)
  if type(user) ~= "table" then
    error("hcdl.new: config must be a table, got " .. type(user), 3)
  end
  local getenv = env and env.getenv or os.getenv
  local home = env and env.home or getenv("HOME")
  local ok, terr = check_types(user)
  if not ok then return nil, terr end

  local cfg = {}
  for k, v in pairs(user) do cfg[k] = v end

  local profile = profile_mod.load(cfg, getenv, home)
  if profile.err then return nil, profile.err end
  local pid, perr = static_project_id(cfg, getenv, profile)
  if perr then return nil, perr end
  cfg.project_id = pid

  local providers, lerr = chain.providers(cfg)
  if not providers then return nil, lerr end
  local source, cerr = chain.resolve({ cfg = cfg, getenv = getenv, profile = profile,
    project_scope = pid and { id = pid } or { name = (cfg.iam and cfg.iam.project_name) or cfg.region } }, providers)
  if not source then return nil, cerr end
  cfg.credential_source = source
  cfg.credential_providers = chain.describe(providers)
  if not cfg.project_id then
    if source.static and source.static.token then
      return input("project_id", "required with token (the 32-character project id of the region)")
    end
    if not cfg.region and not (cfg.iam and cfg.iam.project_name) then
      return input("project_id", "required without a region (it is looked up by region name): "
        .. "config, HUAWEICLOUD_SDK_PROJECT_ID or the profile")
    end
  end

  local lists, eerr = resolve_endpoints(cfg, getenv, home, profile)
  if not lists then return nil, eerr end
  cfg.endpoint_lists = lists
  cfg.endpoints = {}
  for s, list in pairs(lists) do cfg.endpoints[s] = list[1] end

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
    { "timeout", 0.001, 86400, 60 },
    { "retries", 0, 100, 4 }, { "retry_deadline", 0, 86400, 120 },
    { "retry_base", 0, 3600, 0.5 }, { "retry_cap", 0, 3600, 20 },
    { "max_body", 1024, 1024 * 1024 * 1024, 16 * 1024 * 1024 },
  } do
    local rok, err = range(r[1], r[2], r[3], r[4])
    if not rok then return nil, err end
  end
  for _, row in ipairs(NET_ROWS) do
    if row.min then
      local rok, err = range(row.name, row.min, row.max, row.default)
      if not rok then return nil, err end
      if row.type == "whole" and cfg[row.name] % 1 ~= 0 then
        return input(row.name, "must be a whole number")
      end
    elseif cfg[row.name] == nil then
      cfg[row.name] = row.default
    end
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
  cfg.debug = debuglog.sink(cfg.debug, getenv)
  cfg.extra_secrets = proxy_secrets(cfg, getenv)
  return cfg
end

return config
