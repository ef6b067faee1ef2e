--- hcdl.regions: which host serves which service in which region.
--
-- Facts from the official SDKs' region tables and the Open Telekom Cloud
-- endpoint list (shared/spec/api-facts.md sections 1.5, 2, 3, C).  The
-- TaurusDB host follows one of three patterns depending on the region, RDS
-- in eu-west-101 lives under .myhuaweicloud.eu, and Open Telekom Cloud has
-- its own domain.  Anything missing here can be given with `endpoints` in
-- the client config or HUAWEICLOUD_SDK_REGION_<SERVICE>_<REGION>.
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

local IAM_REGIONAL = {}
for _, r in ipairs{ "cn-north-1", "cn-north-2", "cn-north-4", "cn-north-9", "cn-north-12",
                    "cn-east-2", "cn-east-3", "cn-east-4", "cn-east-5", "cn-south-1",
                    "cn-south-2", "cn-southwest-2", "ap-southeast-1", "ap-southeast-2",
                    "ap-southeast-3", "ap-southeast-4", "af-south-1", "sa-brazil-1",
                    "la-south-2", "la-north-2", "na-mexico-1", "eu-west-0",
                    "my-kualalumpur-1", "ru-moscow-1", "me-east-1", "ae-ad-1", "tr-west-1" } do
  IAM_REGIONAL[r] = true
end

local TABLE = {}
for _, r in ipairs(HUAWEI) do
  TABLE[r] = {
    cloud = "huaweicloud",
    rds = (r == "eu-west-101") and "https://rds.eu-west-101.myhuaweicloud.eu"
          or ("https://rds.%s.myhuaweicloud.com"):format(r),
    dcs = ("https://dcs.%s.myhuaweicloud.com"):format(r),
    gaussdb = GAUSSDB_PATTERN[r] and GAUSSDB_PATTERN[r]:format(r) or nil,
    iam = IAM_REGIONAL[r] and ("https://iam.%s.myhuaweicloud.com"):format(r)
          or "https://iam.myhuaweicloud.com",
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

--- The endpoint of `service` in `region`, from (in order) the SDKs'
-- override variable HUAWEICLOUD_SDK_REGION_<SERVICE>_<REGION> (first of a
-- comma-separated list), then the table.  Returns url, or nil and a reason.
function regions.endpoint(region, service, getenv)
  getenv = getenv or os.getenv
  local var = ("HUAWEICLOUD_SDK_REGION_%s_%s"):format(service:upper(), (region:upper():gsub("-", "_")))
  local override = getenv(var)
  if override and override ~= "" then
    local first = override:match("^%s*([^,%s]+)")
    if first then
      if not first:match("^https?://") then first = "https://" .. first end
      return (first:gsub("/+$", ""))
    end
  end
  local entry = TABLE[region]
  if not entry then
    return nil, ("unknown region '%s' (known: %s)"):format(region, table.concat(regions.known(), ", "))
  end
  if not entry[service] then
    return nil, ("no %s endpoint is known for region '%s'; set endpoints.%s or %s"):format(
      service, region, service, var)
  end
  return entry[service]
end

function regions.is_known(region)
  return TABLE[region] ~= nil
end

return regions
