--- hcdl.cli.commands: for each `hcdl` command, how to get its file
-- entries from the library, and the table columns people see.
--
-- list(client, a) -> entries | nil, err.  Entries are the library's own
-- (so client:download_all can refresh their links when they expire).
local core = require "hcdl.core"
local args = require "hcdl.cli.args"
local output = require "hcdl.cli.output"

local commands = {}

-- "1690000000" -> a number (seconds since the epoch); anything else is
-- passed on for the library to check.
local function time_arg(s)
  if type(s) == "string" and s:match("^%d+$") then return tonumber(s) end
  return s
end

local function field(name)
  return function(entry) return entry[name] ~= nil and tostring(entry[name]) or "-" end
end

local function name(entry) return output.describe(entry).name or "?" end

-- The API answer's list of files, or nil, err.
local function files_of(key, answer, err)
  if not answer then return nil, err end
  return answer[key] or {}
end

-- --latest needs the companion helpers (design.md, "Companion calls and
-- helpers"); a library without them gets a clear usage error.
local function without_latest(client)
  if client.latest_backup == nil or client.backup_files == nil then
    return core.error{ kind = "input", field = "--latest",
      message = "--latest: this hcdl library has no client:latest_backup/backup_files yet; give --backup-id" }
  end
end

commands.fullsql = {
  columns = { { "NAME", name }, { "SIZE", output.size }, { "UPDATED", field "updated_time" } },
  list = function(client, a)
    return client:list_audit_log_files{ instance_id = a.instance, node_id = a.node,
      start_time = time_arg(a.start), end_time = time_arg(a["end"]) }
  end,
}

commands.backup = {
  columns = { { "NAME", name }, { "SIZE", output.size }, { "DATABASE", field "database_name" } },
  list = function(client, a)
    if a.backup_id then
      return files_of("files", client:show_backup_download_link{ backup_id = a.backup_id })
    end
    local missing = without_latest(client)
    if missing then return nil, missing end
    local backup_id
    if a.type then
      -- backup_files has no type filter: find that backup first
      local record, err = client:latest_backup{ service = "rds", instance_id = a.instance, type = a.type }
      if not record then return nil, err end
      backup_id = record.id
    end
    return client:backup_files{ service = "rds", instance_id = a.instance, backup_id = backup_id }
  end,
}

commands["dcs-backup"] = {
  columns = { { "NAME", name } },
  list = function(client, a)
    local expiration = a.expiration or args.DCS_EXPIRATION
    if a.backup_id then
      return files_of("links", client:list_backup_file_links{ instance_id = a.instance,
        backup_id = a.backup_id, expiration = expiration })
    end
    local missing = without_latest(client)
    if missing then return nil, missing end
    return client:backup_files{ service = "dcs", instance_id = a.instance, expiration = expiration }
  end,
}

commands.runlog = {
  columns = { { "NAME", name }, { "GROUP", field "group_name" }, { "NODE IP", field "replication_ip" },
              { "TIME", field "time" } },
  list = function(client, a)
    return client:redislog_links{ instance_id = a.instance, days = a.days, replication_id = a.replication }
  end,
}

commands.errorlog = {
  columns = { { "NAME", name }, { "SIZE", output.size } },
  list = function(client, a)
    return client:wait_errorlog_links{ instance_id = a.instance, timeout = a.timeout }
  end,
}

return commands
