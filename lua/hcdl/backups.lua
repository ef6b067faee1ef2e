--- hcdl.backups: from an instance to its backup files, for RDS and DCS.
--
--   client:latest_backup{ service = "rds"|"dcs", instance_id =, type = nil }
--   client:backup_files{ service =, instance_id =, backup_id = nil, expiration = nil }
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
local SERVICES = {
  rds = { label = "RDS", list = "list_backups", type_param = "backup_type",
          links = "show_backup_download_link" },
  dcs = { label = "DCS", list = "list_backup_records", type_field = "backup_type",
          types = { auto = true, manual = true }, links = "list_backup_file_links",
          expiration = 3600 },
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

-- The newest finished record of an instance, or nil, err.
local function newest(client, s, instance_id, kind)
  local query = { instance_id = instance_id }
  if s.type_param then query[s.type_param] = kind end
  local best, best_time, listed, states = nil, nil, 0, {}
  for record, err in pages.iterate(client, s.list, query) do
    if not record then return nil, err end
    if not (s.type_field and kind) or record[s.type_field] == kind then
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
      kind and (" of type " .. kind) or "", tostring(instance_id),
      listed == 0 and "none listed" or (listed .. " listed: " .. table.concat(seen, ", "))) }
end

--- client:latest_backup{ service =, instance_id =, type = nil } -> the
-- newest finished backup record (RDS status COMPLETED, DCS status
-- succeed), or nil, err (no such backup: kind "api", err.not_found).
function backups.latest(client, params)
  local s, err = check("latest_backup", params, { "service", "instance_id", "type" })
  if not s then return nil, err end
  if s.types and params.type ~= nil and not s.types[params.type] then
    return input("type", "must be auto or manual for DCS backups")
  end
  return newest(client, s, params.instance_id, params.type)
end

--- client:backup_files{ service =, instance_id =, backup_id = nil,
--   expiration = nil } -> entries ready for download_all, and
-- { backup_id =, backup = the record when it was looked up, answer = }.
-- backup_id nil: the latest finished backup.  expiration (DCS only, link
-- lifetime in seconds): default 3600.
function backups.files(client, params)
  local s, err = check("backup_files", params, { "service", "instance_id", "backup_id", "expiration" })
  if not s then return nil, err end
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
    record, err = newest(client, s, params.instance_id, nil)
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
