-- examples/quickstart.lua - the main job, end to end:
--   1. find the latest RDS backup of an instance and download its files,
--      resumable and verified (size and MD5), with progress;
--   2. mirror a day of TaurusDB full-SQL files into a directory, twice, the
--      way a cron job does: the second run fetches only what changed;
--   3. the DCS backup and run-log links, and the PostgreSQL error logs.
--
-- Against the bundled emulator (what `make demo` does):
--   python3 tests/emulator/server.py --config-out /tmp/emu.json &
--   eval "$(make -s env)"; lua5.4 examples/quickstart.lua /tmp/emu.json /tmp/out
--
-- Against the cloud: credentials and project from the usual chain (e.g.
-- HUAWEICLOUD_SDK_AK / _SK), HCDL_REGION, and the ids of your resources in
-- HCDL_RDS_INSTANCE, HCDL_GAUSSDB_INSTANCE, HCDL_DCS_INSTANCE,
-- HCDL_PG_INSTANCE (a step is skipped when its id is unset); files go to
-- the directory given as the second argument (default ./hcdl-out).
local hcdl = require "hcdl"

local function die(what, err)
  io.stderr:write(what, ": ", tostring(err), "\n")
  os.exit(1)
end

local function human(n)
  local units, i = { "B", "KiB", "MiB", "GiB" }, 1
  while n >= 1024 and i < #units do n, i = n / 1024, i + 1 end
  return i == 1 and ("%d B"):format(n) or ("%.1f %s"):format(n, units[i])
end

-- Progress on stderr, at most once a second (downloads call it 10 times a second).
local function progress(label)
  local last = 0
  return function(done, total)
    local now = os.time()
    if now ~= last then
      last = now
      io.stderr:write(("  %s: %s of %s\n"):format(label, human(done), human(total)))
    end
  end
end

-- Config and ids: from the emulator's --config-out file, or the environment.
local config, ids, where, emu
local out = arg[2] or "hcdl-out"
if arg[1] then
  local json = require "hcdl.json"
  local f = assert(io.open(arg[1], "rb"))
  emu = json.decode(f:read("*a"))
  f:close()
  config = {
    project_id = emu.project_id, ak = emu.ak, sk = emu.sk, endpoints = emu.endpoints,
    cafile = emu.cafile ~= json.null and emu.cafile or nil,
  }
  ids = {
    rds = emu.seed.rds_instance_id, gaussdb = emu.seed.gaussdb_instance_id,
    dcs = emu.seed.dcs_instance_id, pg = emu.seed.pg_instance_id, day = "2023-07-24T00:00:00+0800",
  }
  where = emu.endpoint .. " (the bundled emulator)"
else
  config = { region = os.getenv("HCDL_REGION") or "cn-north-4" }
  ids = {
    rds = os.getenv("HCDL_RDS_INSTANCE"), gaussdb = os.getenv("HCDL_GAUSSDB_INSTANCE"),
    dcs = os.getenv("HCDL_DCS_INSTANCE"), pg = os.getenv("HCDL_PG_INSTANCE"),
    day = os.date("!%Y-%m-%dT00:00:00+0000"),
  }
  where = "region " .. config.region
end
for _, sub in ipairs{ "", "/rds", "/fullsql", "/pg" } do os.execute(("mkdir -p %q"):format(out .. sub)) end

local client, err = hcdl.new(config)
if not client then die("configuration", err) end

-- Links carry signatures in their query: show where they point, never the query.
local function short(url)
  return (url:gsub("%?.*$", "?<signed query>"))
end

-- What hcdl checked before a file got its final name.
-- r.verified lists the checks (README, "What was verified"): size, md5,
-- etag-multipart:<part size>, crc64, rdb, xbstream, gzip.
local function verified(r)
  local checks = table.concat(r.verified or {}, ", ")
  if r.skipped then return "already complete (recorded: " .. checks .. ")" end
  return ("%s, verified: %s%s"):format(human(r.bytes or 0), checks, r.resumed and ", resumed" or "")
end

print(("hcdl %s quickstart against %s; files go to %s"):format(hcdl.version, where, out))

if ids.rds then
  local b, berr = client:latest_backup{ service = "rds", instance_id = ids.rds }
  if not b then die("latest RDS backup", berr) end
  print(("\n1. latest RDS backup of %s: %s (%s, %s, ended %s)"):format(ids.rds, b.id, b.type, b.status, b.end_time))
  local files, ferr = client:backup_files{ service = "rds", instance_id = ids.rds, backup_id = b.id }
  if not files then die("RDS backup files", ferr) end
  local report, derr = client:download_all(files, out .. "/rds", { concurrency = 4, connections = 2,
    progress = progress("RDS backup") })
  if not report then die("RDS backup download", derr) end
  for i, r in ipairs(report.files) do
    print(("   %-62s %s"):format(files[i].name, r.ok and verified(r) or ("FAILED: " .. tostring(r.err))))
  end
  if derr then die("RDS backup download", derr) end
end

if ids.gaussdb then
  print(("\n2. TaurusDB full-SQL files of %s since %s, mirrored into %s/fullsql:"):format(ids.gaussdb, ids.day, out))
  local params = { instance_id = ids.gaussdb, dir = out .. "/fullsql", start_time = ids.day, concurrency = 8 }
  for run = 1, 2 do
    if run == 2 and emu then
      -- a live instance keeps writing its newest file: the emulator does the same
      local s = require("hcdl.core").session{}
      assert(s:perform{ method = "POST", url = emu.control .. "/audit", body = '{"grow":"latest","by":65536}',
        headers = { ["Content-Type"] = "application/json" } })
      s:close()
      print("   (meanwhile the newest file grew by 64 KiB)")
    end
    local r, serr = client:sync_audit_log_files(params)
    if not r then die("full-SQL sync", serr) end
    print(("   run %d: listed %d, new %d, updated %d, skipped %d, failed %d"):format(run, r.listed, r.new,
      r.updated, r.skipped, r.failed))
    for _, f in ipairs(r.files) do
      if f.status == "updated" then print(("     updated: %s (%s)"):format(f.name, verified(f))) end
    end
    if serr then die("full-SQL sync", serr) end
  end
end

if ids.dcs then
  local b, berr = client:latest_backup{ service = "dcs", instance_id = ids.dcs }
  if not b then die("latest DCS backup", berr) end
  local files, ferr = client:backup_files{ service = "dcs", instance_id = ids.dcs, backup_id = b.backup_id,
    expiration = 1800 }
  if not files then die("DCS backup links", ferr) end
  print(("\n3. DCS backup %s: %d shard file(s), links valid 30 minutes"):format(b.backup_id, #files))
  for _, l in ipairs(files) do print(("   %s\n     %s"):format(l.file_name, short(l.link))) end
  local logs, lerr = client:redislog_links{ instance_id = ids.dcs, days = 1, timeout = 60 }
  if not logs then die("DCS run-log links", lerr) end
  print(("   DCS run logs of the last day, every replica: %d file(s)"):format(#logs))
end

if ids.pg then
  local list, answer = client:wait_errorlog_links{ instance_id = ids.pg, timeout = 120, interval = 0.5 }
  if not list then die("PostgreSQL error-log links", answer) end
  local report, derr = client:download_all(list, out .. "/pg", { concurrency = 2 })
  if not report then die("PostgreSQL error logs", derr) end
  print(("\n4. PostgreSQL error logs of %s: status %s, %d file(s)"):format(ids.pg, answer.status, #list))
  for i, r in ipairs(report.files) do
    print(("   %-40s %s"):format(list[i].file_name, r.ok and verified(r) or ("FAILED: " .. tostring(r.err))))
  end
  if derr then die("PostgreSQL error logs", derr) end
end

client:close()
print("\ndone.")
