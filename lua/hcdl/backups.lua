--- hcdl.backups: from an instance to its backup files, for RDS and DCS.
--
--   client:latest_backup{ service = "rds"|"dcs", instance_id =, type = nil }
--   client:backup_files{ service =, instance_id =, backup_id = nil, type = nil, expiration = nil }
--
-- "Latest" is the newest finished backup of a type: for RDS by default a
-- full one (types auto and manual: what a restore starts from), or
-- type = "incremental", "fragment", "auto", "manual", "all"; for DCS (every
-- backup is a full RDB) any, or type = "auto", "manual" ("all" = any).
--
-- The backup lists (list_backups, list_backup_records) page by offset and
-- are read whole; "finished" and "newest" come from their descriptors
-- (answer.status / answer.finished, answer.mtime).
local core = require "hcdl.core"
local params_mod = require "hcdl.params"
local apis = require "hcdl.apis"
local pages = require "hcdl.pages"

local backups = {}

-- What differs between the two services.  RDS filters by type on the
-- server (backup_type); DCS has no such parameter, so its records are
-- filtered here on their own backup_type (manual or auto, documented).
-- types: what `type` may be, and what each means: a server filter (the
-- list's type parameter), or record types to keep (filtered here).
-- begin/end: the record's fields for report.backup.
local SERVICES = {
  rds = { label = "RDS", list = "list_backups", type_param = "backup_type", type_field = "type",
          default_type = "full", links = "show_backup_download_link",
          types = { full = { auto = true, manual = true }, all = true, auto = "auto", manual = "manual",
                    incremental = "incremental", fragment = "fragment" },
          begin_field = "begin_time", end_field = "end_time" },
  dcs = { label = "DCS", list = "list_backup_records", type_field = "backup_type",
          default_type = "all", links = "list_backup_file_links", expiration = 3600,
          types = { all = true, auto = { auto = true }, manual = { manual = true } },
          begin_field = "created_at", end_field = "updated_at" },
}

local function input(field, message)
  return nil, core.error{ kind = "input", field = field, message = field .. ": " .. message }
end

-- A table, only known parameters, a known service.  Returns the service's
-- row, or nil, err.
local function check(what, params, known)
  local ok, err = params_mod.check(what, params, known, 5)
  if not ok then return nil, err end
  local s = SERVICES[params.service]
  if not s then return input("service", 'required; must be "rds" or "dcs"') end
  return s
end

-- `type` checked against the service's types: the type (default filled
-- in), or nil, err.
local function check_type(s, kind)
  if kind == nil then return s.default_type end
  if not s.types[kind] then
    local names = {}
    for k in pairs(s.types) do names[#names + 1] = k end
    table.sort(names)
    return input("type", ("must be one of %s for %s backups"):format(table.concat(names, ", "), s.label))
  end
  return kind
end

-- The newest finished record of an instance, or nil, err.
local function newest(client, s, instance_id, kind)
  local query = { instance_id = instance_id }
  local want = s.types[kind]
  if type(want) == "string" then query[s.type_param] = want end
  local best, best_time, listed, states = nil, nil, 0, {}
  for record, err in pages.iterate(client, s.list, query) do
    if not record then return nil, err end
    if type(want) ~= "table" or want[record[s.type_field]] then
      listed = listed + 1
      local status = apis.get(s.list).answer.status
      local state = tostring(record[status])
      states[state] = (states[state] or 0) + 1
      if apis.finished(s.list, record) then
        local t = apis.mtime(s.list, record) or -1
        if not best or t > best_time then best, best_time = record, t end
      end
    end
  end
  if best then return best end
  local seen = {}
  for state, n in pairs(states) do seen[#seen + 1] = ("%d %s"):format(n, state) end
  table.sort(seen)
  return nil, core.error{ kind = "api", not_found = true, retryable = false,
    message = ("no finished %s backup%s of instance %s (%s)"):format(s.label,
      kind ~= "all" and (" of type " .. kind) or "", tostring(instance_id),
      listed == 0 and "none listed" or (listed .. " listed: " .. table.concat(seen, ", "))) }
end

--- client:latest_backup{ service =, instance_id =, type = nil } -> the
-- newest finished backup record (RDS status COMPLETED, DCS status
-- succeed), or nil, err (no such backup: kind "api", err.not_found).
function backups.latest(client, params)
  local s, err = check("latest_backup", params, { "service", "instance_id", "type" })
  if not s then return nil, err end
  local kind, terr = check_type(s, params.type)
  if not kind then return nil, terr end
  return newest(client, s, params.instance_id, kind)
end

--- backups.describe(service, record) -> { id, type, begin_time, end_time,
-- end_epoch } of a backup record (the fields as the service gave them).
function backups.describe(service, record)
  local s = SERVICES[service]
  local a = apis.get(s.list).answer
  return { id = record[a.id], type = record[s.type_field], begin_time = record[s.begin_field],
    end_time = record[s.end_field], end_epoch = apis.mtime(s.list, record) }
end

--- backups.find(client, service, instance_id, backup_id) -> the record of
-- a backup of the instance, or nil, err (api, not_found).
function backups.find(client, service, instance_id, backup_id)
  local s = SERVICES[service]
  local id_field = apis.get(s.list).answer.id
  for record, err in pages.iterate(client, s.list, { instance_id = instance_id }) do
    if not record then return nil, err end
    if record[id_field] == backup_id then return record end
  end
  return nil, core.error{ kind = "api", not_found = true, retryable = false,
    message = ("%s backup %s is not listed for instance %s"):format(s.label, tostring(backup_id),
      tostring(instance_id)) }
end

--- client:backup_files{ service =, instance_id =, backup_id = nil,
--   type = nil, expiration = nil } -> entries ready for download_all, and
-- { backup_id =, backup = the record when it was looked up, answer = }.
-- backup_id nil: the latest finished backup of `type` (see above).  expiration (DCS only, link
-- lifetime in seconds): default 3600.
function backups.files(client, params)
  local s, err = check("backup_files", params, { "service", "instance_id", "backup_id", "type", "expiration" })
  if not s then return nil, err end
  local kind, terr = check_type(s, params.type)
  if not kind then return nil, terr end
  if not s.expiration and params.expiration ~= nil then
    return input("expiration", "only DCS backup links take an expiration")
  end
  if s.expiration then
    -- refuse a bad expiration now, not after the backups were listed
    local ok, verr = apis.validate(s.links, { instance_id = params.instance_id,
      backup_id = params.backup_id or "latest", expiration = params.expiration or s.expiration })
    if not ok then return nil, verr end
  end
  local id, record = params.backup_id, nil
  if id == nil then
    if params.instance_id == nil then
      return input("instance_id", "required when backup_id is not given (to find the latest backup)")
    end
    record, err = newest(client, s, params.instance_id, kind)
    if not record then return nil, err end
    id = record[apis.get(s.list).answer.id]
  end
  local answer
  if s.expiration then
    answer, err = client[s.links](client, { instance_id = params.instance_id, backup_id = id,
      expiration = params.expiration or s.expiration })
  else
    answer, err = client[s.links](client, { backup_id = id })
  end
  if not answer then return nil, err end
  return apis.entries(s.links, answer), { backup_id = id, backup = record, answer = answer }
end

return backups
