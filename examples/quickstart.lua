-- examples/quickstart.lua - the main job, end to end: list TaurusDB full-SQL
-- files across pages, get the RDS backup, DCS backup and DCS run-log links,
-- and wait for the PostgreSQL error-log links.
--
-- Against the bundled emulator (what `make demo` does):
--   python3 tests/emulator/server.py --config-out /tmp/emu.json &
--   eval "$(make -s env)"; lua5.4 examples/quickstart.lua /tmp/emu.json
--
-- Against the cloud: set HUAWEICLOUD_SDK_AK, HUAWEICLOUD_SDK_SK,
-- HUAWEICLOUD_SDK_PROJECT_ID and HCDL_REGION, and the ids of your
-- resources in HCDL_GAUSSDB_INSTANCE, HCDL_RDS_BACKUP, HCDL_DCS_INSTANCE,
-- HCDL_DCS_BACKUP, HCDL_PG_INSTANCE (a step is skipped when its id is unset).
local hcdl = require "hcdl"

local function die(what, err)
  io.stderr:write(what, ": ", tostring(err), "\n")
  os.exit(1)
end

-- Config and ids: from the emulator's --config-out file, or the environment.
local config, ids, where
if arg[1] then
  local cjson = require "cjson"
  local f = assert(io.open(arg[1], "rb"))
  local emu = cjson.decode(f:read("*a"))
  f:close()
  config = {
    project_id = emu.project_id, ak = emu.ak, sk = emu.sk,
    endpoints = { gaussdb = emu.endpoint, rds = emu.endpoint, dcs = emu.endpoint, iam = emu.endpoint },
    cafile = emu.cafile ~= cjson.null and emu.cafile or nil,
  }
  ids = {
    gaussdb = emu.seed.gaussdb_instance_id, rds_backup = emu.seed.rds_backup_id,
    dcs = emu.seed.dcs_instance_id, dcs_backup = emu.seed.dcs_backup_id, pg = emu.seed.pg_instance_id,
    start_time = "2023-07-24T00:00:00+0800", end_time = "2023-07-25T00:00:00+0800",
  }
  where = emu.endpoint .. " (the bundled emulator)"
else
  config = { region = os.getenv("HCDL_REGION") or "cn-north-4" }
  ids = {
    gaussdb = os.getenv("HCDL_GAUSSDB_INSTANCE"), rds_backup = os.getenv("HCDL_RDS_BACKUP"),
    dcs = os.getenv("HCDL_DCS_INSTANCE"), dcs_backup = os.getenv("HCDL_DCS_BACKUP"),
    pg = os.getenv("HCDL_PG_INSTANCE"),
    start_time = os.time() - 3600, end_time = os.time(),
  }
  where = "region " .. config.region
end

local client, err = hcdl.new(config)
if not client then die("configuration", err) end

-- Links carry signatures in their query: show where they point, not the query.
local function short(url)
  return (url:gsub("%?.*$", "?<signed query>"))
end
local function kb(n) return ("%d KB"):format(n) end

print(("hcdl %s quickstart against %s"):format(hcdl.version, where))

if ids.gaussdb then
  print(("\nTaurusDB full-SQL files of %s:"):format(ids.gaussdb))
  local count, total, first, last = 0, 0, nil, nil
  for file, ferr in client:audit_log_files{ instance_id = ids.gaussdb,
      start_time = ids.start_time, end_time = ids.end_time, limit = 50 } do
    if not file then die("listing full-SQL files", ferr) end
    count, total = count + 1, total + file.size
    first = first or file
    last = file
  end
  print(("  %d files, %s in all, fetched %d per page"):format(count, kb(total), 50))
  if first then
    print(("  first: %s (%s)\n         %s"):format(first.name, kb(first.size), short(first.download_link)))
    print(("  last:  %s (%s), link valid until %s"):format(last.name, kb(last.size), last.link_expired_time))
  end
end

if ids.rds_backup then
  local r, rerr = client:show_backup_download_link{ backup_id = ids.rds_backup }
  if not r then die("RDS backup links", rerr) end
  print(("\nRDS backup %s (bucket %s):"):format(ids.rds_backup, r.bucket or "?"))
  for _, f in ipairs(r.files) do
    print(("  %-60s %10s  %s"):format(f.name, kb(f.size),
      (f.database_name and f.database_name ~= "") and ("database " .. f.database_name) or "whole instance"))
  end
end

if ids.dcs and ids.dcs_backup then
  local r, derr = client:list_backup_file_links{ instance_id = ids.dcs, backup_id = ids.dcs_backup, expiration = 1800 }
  if not r then die("DCS backup links", derr) end
  print(("\nDCS backup %s: %d shard file(s), links valid 30 minutes"):format(ids.dcs_backup, #r.links))
  for _, l in ipairs(r.links) do print(("  %s\n    %s"):format(l.file_name, short(l.link))) end

  local logs, lerr = client:redislog_links{ instance_id = ids.dcs, days = 1, timeout = 60 }
  if not logs then die("DCS run-log links", lerr) end
  print(("\nDCS run logs collected for the last day: %d file(s)"):format(#logs))
  for _, l in ipairs(logs) do
    print(("  %s (%s, %s)\n    %s"):format(l.file_name, l.group_name or "?", l.time or "?", short(l.link)))
  end
end

if ids.pg then
  local list, answer = client:wait_errorlog_links{ instance_id = ids.pg, timeout = 120, interval = 0.5 }
  if not list then die("PostgreSQL error-log links", answer) end
  print(("\nPostgreSQL error logs of %s: status %s, %d file(s)"):format(ids.pg, answer.status, #list))
  for _, f in ipairs(list) do
    print(("  %-40s %12s bytes\n    %s"):format(f.file_name, f.file_size, short(f.file_link)))
  end
end

client:close()
print("\ndone.")
