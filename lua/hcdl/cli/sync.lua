--- hcdl.cli.sync: `hcdl sync KIND`, the unattended mirror job, over the
-- library's sync calls only (their rules live there, hcdl.sync):
--   fullsql            client:sync_audit_log_files
--   backup, dcs-backup client:sync_backup
--   runlog, errorlog   the library's listing helpers, then client:sync_files
-- Each returns the report of hcdl.sync; this module turns options into
-- parameters and says what the user would want to see while it waits.
-- The rows of hcdl.cli.rows name these calls (sync[kind]).
local commands = require "hcdl.cli.commands"

local sync = {}

-- Download and sync options every kind passes on.
local function common(a, transfer)
  local p = {}
  for k, v in pairs(transfer) do p[k] = v end
  p.wait, p.force, p.dry_run, p.match, p.max_age = a.wait, a.force or nil, a.dry_run or nil, a.match, a.max_age
  return p
end


function sync.fullsql(client, a, p)
  local since, err = commands.time("--since", a.since, a.tz, "24h")
  if not since then return nil, err end
  p.instance_id, p.dir, p.start_time, p.node_id = a.instance, a.out, since, a.node
  return client:sync_audit_log_files(p)
end

local function backup(service)
  return function(client, a, p)
    p.service, p.instance_id, p.dir, p.keep = service, a.instance, a.out, a.keep
    -- "full" is the library's default (types auto and manual)
    if a.type and a.type ~= "full" then p.type = a.type end
    return client:sync_backup(p)
  end
end
sync.backup = backup("rds")
sync["dcs-backup"] = backup("dcs")

-- awaits: what the waiting line says (the row's)
function sync.runlog(client, a, p, waiter, awaits)
  waiter.awaiting(awaits:format(a.instance))
  local entries, err = client:redislog_links{ instance_id = a.instance, days = a.days or 0,
    replication_id = a.replication }
  waiter.awaiting(nil)
  if not entries then return nil, err end
  return client:sync_files(entries, a.out, p)
end

function sync.errorlog(client, a, p, waiter, awaits)
  waiter.awaiting(awaits:format(a.instance))
  local entries, err = client:wait_errorlog_links{ instance_id = a.instance, timeout = a.timeout }
  waiter.awaiting(nil)
  if not entries then return nil, err end
  return client:sync_files(entries, a.out, p)
end

--- Runs `hcdl sync a.kind` (its row): the library's report (and its first
-- error), or nil, err.  transfer: the download options (progress included).
function sync.run(row, client, a, transfer, waiter)
  return row.call(client, a, common(a, transfer), waiter, row.awaits)
end

return sync
