--- hcdl.regions: which hosts serve which service in which region.
--
-- Facts from the official SDKs' region tables and the Open Telekom Cloud
-- endpoint list (docs/apis.md "Endpoints and regions", with sources).
-- The TaurusDB host follows one of three
-- patterns depending on the region, RDS in eu-west-101 lives under
-- .myhuaweicloud.eu, and Open Telekom Cloud has its own domain.
--
-- A service's endpoints come, as in the SDKs, from the first of:
--   1. HUAWEICLOUD_SDK_REGION_<SERVICE>_<REGION> (comma-separated list)
--   2. the regions file (~/.huaweicloud/regions.yaml or
--      HUAWEICLOUD_SDK_REGIONS_FILE): SERVICE: [{id:, endpoint: | endpoints: []}]
--   3. the built-in table below.
-- (The client config's `endpoints` come before all three: hcdl.config.)
-- Every source may list several endpoints: a connection or TLS failure on
-- one moves the call to the next (hcdl.endpoints).
local configfile = require "hcdl.configfile"

local regions = {}

local HUAWEI = {
  "af-south-1", "ae-ad-1", "ap-southeast-1", "ap-southeast-2", "ap-southeast-3",
  "ap-southeast-4", "cn-east-2", "cn-east-3", "cn-east-4", "cn-east-5",
  "cn-north-1", "cn-north-2", "cn-north-4", "cn-north-9", "cn-north-11",
  "cn-north-12", "cn-south-1", "cn-south-2", "cn-south-4", "cn-southwest-2",
  "cn-southwest-3", "eu-west-0", "eu-west-101", "la-north-2", "la-south-2",
  "me-east-1", "my-kualalumpur-1", "na-mexico-1", "ru-moscow-1",
  "ru-northwest-2", "sa-brazil-1", "tr-west-1",
}

-- TaurusDB (GaussDB for MySQL): three host patterns.
local GAUSSDB_PATTERN = {}
for _, r in ipairs{ "cn-north-4", "cn-north-2", "cn-north-9", "cn-east-3", "cn-south-1",
                    "cn-south-4", "cn-southwest-2", "ru-northwest-2", "ap-southeast-3",
                    "ap-southeast-4", "sa-brazil-1" } do
  GAUSSDB_PATTERN[r] = "https://gaussdb.%s.myhuaweicloud.com"
end
for _, r in ipairs{ "tr-west-1", "ap-southeast-1", "ap-southeast-2", "cn-north-11", "me-east-1" } do
  GAUSSDB_PATTERN[r] = "https://gaussdbformysql.%s.myhuaweicloud.com"
end
for _, r in ipairs{ "af-south-1", "cn-east-5", "la-north-2", "cn-southwest-3" } do
  GAUSSDB_PATTERN[r] = "https://gaussdb-mysql.%s.myhuaweicloud.com"
end

-- IAM: the SDK core's per-region map (auth/endpoint.py); other Huawei Cloud
-- regions use the global endpoint, except the EU sovereign region, whose
-- IAM is under .myhuaweicloud.eu (SDK README 3.3.1).
local IAM_REGIONAL = {}
for _, r in ipairs{ "cn-north-1", "cn-north-2", "cn-north-4", "cn-north-9", "cn-north-12",
                    "cn-east-2", "cn-east-3", "cn-east-4", "cn-east-5", "cn-south-1",
                    "cn-south-2", "cn-southwest-2", "ap-southeast-1", "ap-southeast-2",
                    "ap-southeast-3", "ap-southeast-4", "af-south-1", "sa-brazil-1",
                    "la-south-2", "la-north-2", "na-mexico-1", "eu-west-0",
                    "my-kualalumpur-1", "ru-moscow-1", "me-east-1", "ae-ad-1", "tr-west-1" } do
  IAM_REGIONAL[r] = true
end

--- The SDKs' IAM endpoint for a region they do not map.
regions.IAM_DEFAULT = "https://iam.myhuaweicloud.com"

local TABLE = {}
for _, r in ipairs(HUAWEI) do
  local iam = regions.IAM_DEFAULT
  if r == "eu-west-101" then
    iam = "https://iam.eu-west-101.myhuaweicloud.eu"
  elseif IAM_REGIONAL[r] then
    iam = ("https://iam.%s.myhuaweicloud.com"):format(r)
  end
  TABLE[r] = {
    cloud = "huaweicloud",
    rds = (r == "eu-west-101") and "https://rds.eu-west-101.myhuaweicloud.eu"
          or ("https://rds.%s.myhuaweicloud.com"):format(r),
    dcs = ("https://dcs.%s.myhuaweicloud.com"):format(r),
    gaussdb = GAUSSDB_PATTERN[r] and GAUSSDB_PATTERN[r]:format(r) or nil,
    iam = iam,
  }
end
-- Open Telekom Cloud.  Its TaurusDB API reference has no full-SQL link API;
-- the host is listed so that other TaurusDB calls could use it.
TABLE["eu-de"] = {
  cloud = "otc",
  rds = "https://rds.eu-de.otc.t-systems.com",
  dcs = "https://dcs.eu-de.otc.t-systems.com",
  gaussdb = "https://gaussdb-mysql.eu-de.otc.t-systems.com",
  iam = "https://iam.eu-de.otc.t-systems.com",
}
TABLE["eu-nl"] = {
  cloud = "otc",
  rds = "https://rds.eu-nl.otc.t-systems.com",
  dcs = "https://dcs.eu-nl.otc.t-systems.com",
  iam = "https://iam.eu-nl.otc.t-systems.com",
}

regions.SERVICES = { "gaussdb", "rds", "dcs", "iam" }

--- The sorted list of known region ids.
function regions.known()
  local list = {}
  for r in pairs(TABLE) do list[#list + 1] = r end
  table.sort(list)
  return list
end

function regions.is_known(region)
  return TABLE[region] ~= nil
end

function regions.is_service(name)
  for _, s in ipairs(regions.SERVICES) do
    if s == name then return true end
  end
  return false
end

--- "host[:port]" or "http[s]://host[:port][/]" -> "scheme://host[:port]",
-- or nil: an endpoint is a scheme and an authority, nothing else (the
-- signature covers the path, so a path prefix would sign the wrong thing).
-- A bare host gets https://, as in the SDKs.
function regions.normalize(url)
  if type(url) ~= "string" then return nil end
  url = url:gsub("^%s+", ""):gsub("%s+$", "")
  if not url:match("^%a[%w+.-]*://") then url = "https://" .. url end
  if not url:match("^https?://[^/?#@%s]+/?$") then return nil end
  return (url:gsub("/$", ""))
end

--- The name of the SDKs' override variable for service in region.
function regions.env_name(service, region)
  return ("HUAWEICLOUD_SDK_REGION_%s_%s"):format(service:upper(), (region:upper():gsub("-", "_")))
end

--- Endpoints from HUAWEICLOUD_SDK_REGION_<SERVICE>_<REGION>: list, or nil;
-- nil, err (a message) when an entry is not an endpoint.
function regions.env_endpoints(region, service, getenv)
  local var = regions.env_name(service, region)
  local value = getenv(var)
  if value == nil or value == "" then return nil end
  local list = {}
  for item in value:gmatch("[^,]+") do
    if item:match("%S") then
      local url = regions.normalize(item)
      if not url then
        return nil, ("%s: '%s' is not an endpoint (http[s]://host[:port], no path)"):format(var, item)
      end
      list[#list + 1] = url
    end
  end
  if #list == 0 then return nil end
  return list, var
end

--- The regions file's path: the option, HUAWEICLOUD_SDK_REGIONS_FILE, or
-- ~/.huaweicloud/regions.yaml (nil without a home directory).
function regions.file_path(option, getenv, home)
  if option and option ~= "" then return option end
  local env = getenv("HUAWEICLOUD_SDK_REGIONS_FILE")
  if env and env ~= "" then return env end
  if home and home ~= "" then return home .. "/.huaweicloud/regions.yaml" end
  return nil
end

local function file_error(path, fmt, ...)
  return nil, ("regions file %s: " .. fmt):format(path, ...)
end

--- Reads a regions file: { SERVICE (upper case) = { region = {urls} } }.
-- A missing file is an empty table (as in the SDKs); a file that is not
-- the documented shape is an error (nil, message), never half-used.
function regions.read_file(path)
  local text, too_big = configfile.read(path, "regions")
  if not text then
    if too_big then return file_error(path, "%s", too_big) end
    return {}
  end
  local too_deep = configfile.yaml_nesting(text)
  if too_deep then return file_error(path, "%s (README: Limits)", too_deep) end
  local has_yaml, lyaml = pcall(require, "lyaml")
  if not has_yaml then
    return file_error(path, "reading it needs the lyaml module (Debian: lua-yaml)")
  end
  local ok, doc = pcall(lyaml.load, text)
  -- (hcdl.text loads the C module: required here, so that the region
  -- table itself loads without it, as tools/make-completion needs)
  if not ok then return file_error(path, "not valid YAML: %s", require("hcdl.text").visible(tostring(doc), 300)) end
  if doc == nil or doc == lyaml.null then return {} end
  if type(doc) ~= "table" then return file_error(path, "must map service names to lists of regions") end
  local out = {}
  for service, list in pairs(doc) do
    if type(service) ~= "string" or type(list) ~= "table" then
      return file_error(path, "must map service names to lists of regions")
    end
    local by_region = out[service:upper()] or {}
    out[service:upper()] = by_region
    for i, entry in ipairs(list) do
      local where = ("%s[%d]"):format(service, i)
      if type(entry) ~= "table" or type(entry.id) ~= "string" or entry.id == "" then
        return file_error(path, "%s: needs an id (the region)", where)
      end
      local urls = {}
      local function add(v, name)
        local url = regions.normalize(v)
        if not url then
          return file_error(path, "%s.%s: '%s' is not an endpoint (http[s]://host[:port], no path)",
            where, name, tostring(v))
        end
        urls[#urls + 1] = url
        return true
      end
      -- the SDK's order: the list first, then the single endpoint
      if entry.endpoints ~= nil then
        if type(entry.endpoints) ~= "table" then return file_error(path, "%s.endpoints: must be a list", where) end
        for _, v in ipairs(entry.endpoints) do
          local added, err = add(v, "endpoints")
          if not added then return nil, err end
        end
      end
      if entry.endpoint ~= nil then
        local added, err = add(entry.endpoint, "endpoint")
        if not added then return nil, err end
      end
      if #urls == 0 then return file_error(path, "%s: needs endpoint or endpoints", where) end
      by_region[entry.id] = urls
    end
  end
  return out
end

--- The built-in endpoint of service in region, or nil.
function regions.table_endpoint(region, service)
  local entry = TABLE[region]
  return entry and entry[service] or nil
end

--- Every endpoint of service in region from the environment, the regions
-- file (already read: regions.read_file) and the table, first source wins.
-- Returns list, source; or nil, reason; or nil, reason, true when the
-- environment variable is malformed (an input error, not a gap).
function regions.endpoints(region, service, getenv, file)
  getenv = getenv or os.getenv
  local list, var = regions.env_endpoints(region, service, getenv)
  if list then return list, var end
  if var then return nil, var, true end -- var holds the message
  local from_file = file and file[service:upper()] and file[service:upper()][region]
  if from_file then return from_file, "regions file" end
  local url = regions.table_endpoint(region, service)
  if url then return { url }, "built-in table" end
  if not TABLE[region] then
    return nil, ("unknown region '%s' (known: %s)"):format(region, table.concat(regions.known(), ", "))
  end
  return nil, ("no %s endpoint is known for region '%s'; set endpoints.%s or %s"):format(
    service, region, service, regions.env_name(service, region))
end

--- The first endpoint of service in region (environment, then table), or
-- nil and a reason.  Kept for callers that want one URL.
function regions.endpoint(region, service, getenv)
  local list, why = regions.endpoints(region, service, getenv)
  if not list then return nil, why end
  return list[1]
end

return regions
