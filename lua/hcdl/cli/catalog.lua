--- hcdl.cli.catalog: what a user needs to go from a name to files without
-- the console: `hcdl instances SERVICE [--name GLOB]`, `hcdl backups KIND
-- --instance ID [--type T]`, and which backup `--latest` means (the newest
-- full one unless --type says otherwise).  Over the library's companion
-- calls (client:all_*_instances, all_backups, all_backup_records,
-- latest_backup); the field names come from the API descriptors.
local apis = require "hcdl.apis"
local timefmt = require "hcdl.timefmt"
local when = require "hcdl.cli.when"

local catalog = {}

catalog.INSTANCE_APIS = { rds = "list_rds_instances", dcs = "list_dcs_instances",
                          gaussdb = "list_gauss_my_sql_instances" }
catalog.BACKUP_APIS = { rds = "list_backups", dcs = "list_backup_records" }

-- A backup record's type and begin time, which the descriptors do not name
-- (the id, status, end time and size they do).
local BACKUP_FIELDS = { rds = { type = "type", begin = "begin_time" },
                        dcs = { type = "backup_type", begin = "created_at" } }

-- RDS backup types hcdl names: full = the two full kinds.
local TYPE_SET = { full = { auto = true, manual = true } }

--- A shell glob as an anchored Lua pattern: the library's (sync --match).
catalog.glob_pattern = require("hcdl.sync").glob

local function collect(client, api)
  return apis.get(api).paging.collect
end

--- The instances of a service whose name matches glob (nil: all), as
-- rows { id, name, status, record }, or nil, err.
function catalog.instances(client, service, glob)
  local api = catalog.INSTANCE_APIS[service]
  local answer = apis.get(api).answer
  local list, err = client[collect(client, api)](client, {})
  if not list then return nil, err end
  local pattern = glob and catalog.glob_pattern(glob)
  local rows = {}
  for _, r in ipairs(list) do
    local name = r[answer.name]
    if not pattern or (type(name) == "string" and name:match(pattern)) then
      rows[#rows + 1] = { id = r[answer.id], name = name, status = r[answer.status], record = r }
    end
  end
  return rows
end

local function time_of(format, value)
  return when.rfc3339(timefmt.parse(format, value))
end

--- What hcdl says of a backup record: { id, type, status, begin_time,
-- end_time (RFC 3339 UTC or nil), size_bytes, record }.
function catalog.describe_backup(service, r)
  local api = catalog.BACKUP_APIS[service]
  local answer, f = apis.get(api).answer, BACKUP_FIELDS[service]
  local size = tonumber(r[answer.size])
  if size and answer.size_unit == "KB" then size = math.floor(size * 1024 + 0.5) end
  return { id = r[answer.id], type = r[f.type], status = r[answer.status],
    begin_time = time_of(answer.mtime_format, r[f.begin]), end_time = time_of(answer.mtime_format, r[answer.mtime]),
    size_bytes = size, record = r }
end

local function type_matches(t, wanted)
  if wanted == nil or wanted == "all" then return true end
  local set = TYPE_SET[wanted]
  if set then return set[t] == true end
  return t == wanted
end

--- The backups of an instance (of type t: full, all, or a service type),
-- newest first, as catalog.describe_backup rows; or nil, err.
function catalog.backups(client, service, instance_id, t)
  local api = catalog.BACKUP_APIS[service]
  local query = { instance_id = instance_id }
  if service == "rds" and t and not TYPE_SET[t] and t ~= "all" then query.backup_type = t end
  local list, err = client[collect(client, api)](client, query)
  if not list then return nil, err end
  local rows = {}
  for _, r in ipairs(list) do
    local d = catalog.describe_backup(service, r)
    if type_matches(d.type, t) then
      d.mtime = apis.mtime(api, r) or -1
      rows[#rows + 1] = d
    end
  end
  table.sort(rows, function(a, b) return a.mtime > b.mtime end)
  return rows
end

--- The newest finished RDS backup of type t (nil: full, auto or manual),
-- from client:latest_backup, which knows the types; or nil, err.
function catalog.latest_rds(client, instance_id, t)
  return client:latest_backup{ service = "rds", instance_id = instance_id, type = t }
end

return catalog
