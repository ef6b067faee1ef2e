--- hcdl.cli.commands: for each listing command of `hcdl`, how to get its
-- file entries from the library (the calls the rows of hcdl.cli.rows name).
--
-- commands[name](client, a) -> entries, meta | nil, err.  Entries are the library's
-- own (so client:download_all can refresh their links when they expire);
-- meta.backup is the backup --latest chose ({ id, type, begin_time,
-- end_time }).
local core = require "hcdl.core"
local catalog = require "hcdl.cli.catalog"
local when = require "hcdl.cli.when"

local commands = {}

-- The default link lifetime asked of DCS (list_backup_file_links needs one):
-- long enough for a large shard on a slow line; an expired link is refreshed
-- anyway.
commands.DCS_EXPIRATION = 3600

-- A time typed for `option` as the API's form, or nil, an input error
-- naming the option.
function commands.time(option, s, tz, default)
  if s == nil then s = default end
  local t, why = when.parse(option, s, os.time(), tz)
  if not t then return nil, core.error{ kind = "input", field = option, message = why } end
  return when.api(t)
end

local function chosen(service, record)
  local d = catalog.describe_backup(service, record)
  return { id = d.id, type = d.type, begin_time = d.begin_time, end_time = d.end_time }
end

-- The API answer's list of files, or nil, err.
local function files_of(key, answer, err)
  if not answer then return nil, err end
  return answer[key] or {}
end

-- --latest needs the companion helpers (docs/apis.md "Companion calls");
-- a library without them gets a clear usage error.
local function without_latest(client)
  if client.latest_backup == nil or client.backup_files == nil then
    return core.error{ kind = "input", field = "--latest",
      message = "--latest: this hcdl library has no client:latest_backup/backup_files yet; give --backup-id" }
  end
end

commands.fullsql = function(client, a)
  local start, err = commands.time("--start", a.start, a.tz)
  if not start then return nil, err end
  local finish, ferr = commands.time("--end", a["end"], a.tz, "now")
  if not finish then return nil, ferr end
  return client:list_audit_log_files{ instance_id = a.instance, node_id = a.node,
    start_time = start, end_time = finish }
end

commands.backup = function(client, a)
  if a.backup_id then
    return files_of("files", client:show_backup_download_link{ backup_id = a.backup_id })
  end
  local missing = without_latest(client)
  if missing then return nil, missing end
  -- the newest full backup unless --type says otherwise: incremental
  -- backups run all day, so "the newest" alone is almost never a full one
  local record, err = catalog.latest_rds(client, a.instance, a.type)
  if not record then return nil, err end
  local backup = chosen("rds", record)
  local entries, ferr = client:backup_files{ service = "rds", instance_id = a.instance, backup_id = backup.id }
  if not entries then return nil, ferr end
  return entries, { backup = backup }
end

commands["dcs-backup"] = function(client, a)
  local expiration = a.expiration or commands.DCS_EXPIRATION
  if a.backup_id then
    return files_of("links", client:list_backup_file_links{ instance_id = a.instance,
      backup_id = a.backup_id, expiration = expiration })
  end
  local missing = without_latest(client)
  if missing then return nil, missing end
  local entries, meta = client:backup_files{ service = "dcs", instance_id = a.instance, expiration = expiration }
  if not entries then return nil, meta end
  return entries, { backup = meta.backup and chosen("dcs", meta.backup) or nil }
end

commands.runlog = function(client, a)
  return client:redislog_links{ instance_id = a.instance, days = a.days, replication_id = a.replication }
end

commands.errorlog = function(client, a)
  return client:wait_errorlog_links{ instance_id = a.instance, timeout = a.timeout }
end

return commands
