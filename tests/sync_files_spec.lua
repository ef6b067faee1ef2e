-- client:sync_files and client:sync_backup, and the directory record
-- (hcdl.record) they keep, against the emulator: what is skipped and why,
-- names that fail alone, dry runs, retention that removes only what hcdl
-- made, and a directory another run holds.
local core = require "hcdl.core"
local record = require "hcdl.record"
local fixture = require "tests.support.fixture"
local helpers = require "tests.support.helpers"
local process = require "tests.support.process"
local shell = require "tests.support.shell"

local DAY = "2023-07-24T00:00:00+0800"

local sh = shell.ok

local expected_md5, expected_md5s = helpers.expected_md5, helpers.expected_md5s

local function statuses(report)
  local out = {}
  for _, f in ipairs(report.files) do out[f.name] = f.status end
  return out
end

local function gets(emu)
  local n = 0
  for _, q in ipairs(emu:requests("store")) do if q.status == 200 or q.status == 206 then n = n + 1 end end
  return n
end

describe("sync_files", function()
  local emu, client, root, dir, files

  local fx = fixture.emulator{ dir = "absent" }
  setup(function() emu, client = fx:start() end)
  teardown(function() fx:stop() end)
  before_each(function()
    root = fx:reset()
    dir = root .. "/a/b"
    files = assert(client:list_audit_log_files{ instance_id = emu.seed.gaussdb_instance_id,
      start_time = DAY, end_time = "2023-07-24T01:30:00+0800" })
  end)

  it("creates the directory (0700), mirrors, records, and the next run skips on the record alone", function()
    local r1 = assert(client:sync_files(files, dir, { concurrency = 4 }))
    assert.is_true(r1.ok)
    assert.are.equal(#files, r1.new)
    assert.are.equal(#files, r1.listed)
    assert.is_true(r1.bytes > 0)
    assert.are.equal("700\n", shell.capture("stat -c %a " .. shell.q(dir)))
    local d = assert(core.dir(dir))
    local rec = assert(record.load(d))
    for _, f in ipairs(r1.files) do
      local facts = rec.files[f.name]
      assert.is_table(facts, f.name)
      assert.are.equal(core.file_size(f.path), facts.size)
      assert.are.equal(f.size, facts.size)
      assert.are.equal(require("hcdl.timefmt").parse_offset(f.entry.updated_time), facts.time)
      assert.is_string(facts.etag)
      assert.are.same({ "size", "md5" }, f.verified)
    end
    local before = gets(emu)
    local r2 = assert(client:sync_files(files, dir))
    assert.are.equal(#files, r2.skipped)
    assert.are.equal(0, r2.bytes)
    assert.are.equal(before, gets(emu), "a skipped file was fetched")
    d:close()
  end)

  it("downloads again a file truncated by 100 bytes, and one whose entry moved by a few bytes", function()
    assert(client:sync_files(files, dir))
    local victim = dir .. "/" .. files[1].name
    local size = core.file_size(victim)
    assert(sh(("truncate -s %d %q"):format(size - 100, victim)))
    -- the service moved the second file: 300 bytes more, a later time (same KB rounding or not)
    local grown = emu:ctl("POST", "/audit", { grow = files[2].name, by = 300, seconds = 60 }).files[1]
    local again = assert(client:list_audit_log_files{ instance_id = emu.seed.gaussdb_instance_id,
      start_time = DAY, end_time = "2023-07-24T01:30:00+0800" })
    local r = assert(client:sync_files(again, dir))
    local s = statuses(r)
    assert.are.equal("updated", s[files[1].name])
    assert.are.equal("updated", s[files[2].name])
    assert.are.equal(expected_md5(files[1].name, size), core.md5_file(victim))
    assert.are.equal(grown.size, core.file_size(dir .. "/" .. grown.name))
    assert.are.equal(#files - 2, r.skipped)
  end)

  it("without a record: exact facts or nothing (KB size and mtime = the entry's time)", function()
    assert(client:sync_files(files, dir))
    os.remove(dir .. "/" .. record.NAME)
    -- one file's mtime no longer the entry's time: fetched again
    assert(sh(("touch -d @1000000000 %q"):format(dir .. "/" .. files[3].name)))
    local r = assert(client:sync_files(files, dir))
    local s = statuses(r)
    assert.are.equal("updated", s[files[3].name])
    assert.are.equal(#files - 1, r.skipped)
  end)

  it("fails each bad name alone and mirrors the rest", function()
    local bad = {}
    for _, n in ipairs{ "a/b", "..", "x\0y", ("n"):rep(300), ".hcdl-record.json" } do
      bad[#bad + 1] = { name = n, download_link = files[1].download_link, size = files[1].size,
        updated_time = files[1].updated_time }
    end
    local list = { files[1], bad[1], files[2], bad[2], bad[3], bad[4], bad[5], files[3] }
    local r, err = client:sync_files(list, dir)
    assert.is_table(r)
    assert.is_false(r.ok)
    assert.are.equal(3, r.new)
    assert.are.equal(5, r.failed)
    assert.are.equal(5, err.failed)
    for _, f in ipairs(r.files) do
      if f.status == "failed" then
        assert.are.equal("api", f.err.kind) -- the service's name, never the caller's input
        assert.are.equal("name", f.err.field)
      end
    end
    assert.is_false(core.file_size(root .. "/a/x"))
  end)

  it("a dry run touches nothing and says what it would fetch", function()
    local r = assert(client:sync_files(files, dir, { dry_run = true }))
    assert.are.equal(#files, r.would_fetch)
    assert.is_false(core.is_dir(root))
    assert(client:sync_files({ files[1] }, dir))
    r = assert(client:sync_files(files, dir, { dry_run = true }))
    assert.are.equal(1, r.skipped)
    assert.are.equal(#files - 1, r.would_fetch)
    assert.are.equal(0, gets(emu) - 1)
  end)

  it("match picks names by glob", function()
    local pattern = files[1].name:sub(1, 10) .. "*_SQLAudit_[12]"
    local r = assert(client:sync_files(files, dir, { match = pattern }))
    assert.is_true(r.listed >= 1 and r.listed < #files)
    for _, f in ipairs(r.files) do assert.matches("_SQLAudit_[12]$", f.name) end
  end)

  it("max_age removes recorded files only, after the run, and never a file listed this run", function()
    assert(client:sync_files(files, dir))
    local foreign = dir .. "/notes.txt"
    assert(sh("echo mine > " .. foreign .. " && touch -d @1000000000 " .. foreign))
    -- the files are from 2023: every one is older than a day, but only the
    -- ones not listed now go
    local keep = { files[1], files[2] }
    local r = assert(client:sync_files(keep, dir, { max_age = 86400 }))
    assert.are.equal(#files - 2, r.removed)
    assert.are.equal(2, r.skipped)
    assert.is_true(core.file_size(foreign) > 0)
    assert.is_true(core.file_size(dir .. "/" .. files[1].name) > 0)
    assert.is_false(core.file_size(dir .. "/" .. files[3].name))
    local d = assert(core.dir(dir))
    assert.is_nil(record.get(d, files[3].name))
    d:close()
  end)

  it("refuses while another sync holds the directory, naming it; waits when asked", function()
    assert(sh("mkdir -p " .. dir))
    local script = ("local core = require 'hcdl.core'; local d = core.dir(%q); local l = d:lock('.hcdl-sync.lock'); "
      .. "io.write('held\\n'); io.flush(); os.execute('sleep 1.5')"):format(dir)
    local holder = process.lua_pipe(script)
    assert.are.equal("held", holder:read("*l"))
    local r, err = client:sync_files(files, dir)
    assert.is_nil(r)
    assert.are.equal("io", err.kind)
    assert.is_true(err.busy)
    assert.matches(".hcdl-sync.lock", err.message, 1, true)
    r = assert(client:sync_files(files, dir, { wait = 10 }))
    assert.is_true(r.ok)
    holder:close()
  end)

  it("a file another process is writing is left alone; the writer of another file proceeds", function()
    assert(sh("mkdir -p " .. dir))
    local script = ("local core = require 'hcdl.core'; local d = core.dir(%q); local l = d:lock(%q); "
      .. "io.write('held\\n'); io.flush(); os.execute('sleep 1.5')"):format(dir, ".hcdl-lock." .. files[1].name)
    local holder = process.lua_pipe(script)
    assert.are.equal("held", holder:read("*l"))
    local r, err = client:download_all({ files[1], files[2] }, dir)
    assert.is_true(err.busy)
    assert.is_false(r.files[1].ok)
    assert.is_true(r.files[1].err.busy)
    assert.is_true(r.files[2].ok)
    r = assert(client:download_all({ files[1] }, dir, { wait = 10 }))
    assert.is_true(r.ok)
    holder:close()
    -- the lock files are gone once their holders are done
    local d = assert(core.dir(dir))
    for _, name in ipairs(d:list()) do assert.is_nil(name:match("^%.hcdl%-lock%.")) end
    d:close()
  end)

  it("ignores and rewrites a record it cannot read, and says so", function()
    assert(sh("mkdir -p " .. dir))
    shell.write(dir .. "/" .. record.NAME, "{not json")
    local r = assert(client:sync_files({ files[1] }, dir))
    assert.are.equal(1, r.new)
    assert.matches("was ignored", r.notes[1])
    local d = assert(core.dir(dir))
    assert.is_table(record.get(d, files[1].name))
    d:close()
  end)

  it("ignores and rewrites a record over its size limit (README: Limits), and says so", function()
    assert(sh("mkdir -p " .. dir))
    local limit = require("hcdl.configfile").MAX_BYTES.record
    assert(sh(("truncate -s %d %s/%s"):format(limit + 1, dir, record.NAME)))
    local r = assert(client:sync_files({ files[1] }, dir))
    assert.are.equal(1, r.new)
    assert.matches("larger than " .. limit .. " bytes", r.notes[1], 1, true)
    local d = assert(core.dir(dir))
    assert.is_table(record.get(d, files[1].name))
    assert.is_true(d:stat(record.NAME).size < 4096)
    d:close()
  end)

  it("asks the store about a file whose entry moved in time but not in size, and records its answer", function()
    -- PostgreSQL error logs: each export gives its files the export's time
    emu:set{ errorlog_creating = 0 }
    local function logs()
      return assert(client:wait_errorlog_links{ instance_id = emu.seed.pg_instance_id, interval = 0.01 })
    end
    local r1 = assert(client:sync_files(logs(), dir))
    assert.are.equal(2, r1.new)
    local before = gets(emu)
    emu:set{ clock_offset = 5 } -- a later export, seconds on
    local r2 = assert(client:sync_files(logs(), dir))
    assert.are.equal(2, r2.skipped)
    assert.are.equal(0, r2.bytes)
    assert.are.equal(before, gets(emu)) -- 304s, no body
    local not_modified = 0
    for _, q in ipairs(emu:requests("store")) do if q.status == 304 then not_modified = not_modified + 1 end end
    assert.are.equal(2, not_modified)
    -- the new time is recorded: a run at that time would not ask
    local d = assert(core.dir(dir))
    local facts = assert(record.get(d, r2.files[1].name))
    assert.are.equal(math.floor(r2.files[1].entry.update_at / 1000), facts.time)
    d:close()
  end)

  it("refuses bad options before any request", function()
    for _, c in ipairs{ { { bogus = 1 }, "bogus" }, { { wait = -1 }, "wait" }, { { max_age = 0 }, "max_age" },
        { { concurrency = 0 }, "concurrency" }, { { match = "" }, "match" } } do
      local r, err = client:sync_files(files, dir, c[1])
      assert.is_nil(r)
      assert.are.equal("input", err.kind)
      assert.are.equal(c[2], err.field)
    end
    assert.has_error(function() client:sync_files("x", dir) end)
    assert.is_false(core.is_dir(root))
  end)
end)

describe("sync_audit_log_files on real data", function()
  local emu, client, root
  local fx = fixture.emulator{ dir = "absent" }
  setup(function() emu, client = fx:start() end)
  teardown(function() fx:stop() end)
  before_each(function() root = fx:reset() end)

  local function since(s) return os.date("!%Y-%m-%dT%H:%M:%S+0000", os.time() - s) end

  it("a young instance with a single file: runs again without start_time, never raising", function()
    emu:ctl("POST", "/audit", { replace = 1, spread = 300, nodes = 1, seed = 1 })
    local p = { instance_id = emu.seed.gaussdb_instance_id, dir = root, start_time = since(3600) }
    local r1 = assert(client:sync_audit_log_files(p))
    assert.are.equal(1, r1.new)
    assert.is_string(r1.state)
    p.start_time = nil
    local r2 = assert(client:sync_audit_log_files(p))
    assert.are.equal(1, r2.skipped)
    -- the same process can run again at once: the lock was released
    assert(client:sync_audit_log_files(p))
  end)

  it("keeps more bytes of a file that grew after it was listed, and checks it again next run", function()
    emu:ctl("POST", "/audit", { replace = 3, spread = 300, nodes = 1, seed = 2, max_size = 3000 })
    emu:set{ audit_grow_on_list = 5000 }
    local p = { instance_id = emu.seed.gaussdb_instance_id, dir = root, start_time = since(3600) }
    local r1 = assert(client:sync_audit_log_files(p))
    assert.is_true(r1.ok)
    local grew
    local sizes = {}
    for i, f in ipairs(r1.files) do sizes[i] = { f.name, f.size } end
    local want = expected_md5s(sizes)
    for i, f in ipairs(r1.files) do
      if f.size > f.entry.size * 1024 then grew = f end
      assert.are.equal(want[i], core.md5_file(f.path))
    end
    assert.is_table(grew, "no file grew between listing and download")
    emu:set{ audit_grow_on_list = 0 }
    p.start_time = nil
    local r2 = assert(client:sync_audit_log_files(p))
    assert.is_true(r2.ok)
    assert.are.equal(0, r2.failed)
  end)

  it("names a state file it cannot use; with start_time it starts afresh and says so", function()
    emu:ctl("POST", "/audit", { replace = 2, spread = 300, nodes = 1, seed = 3 })
    local p = { instance_id = emu.seed.gaussdb_instance_id, dir = root, start_time = since(3600) }
    local r1 = assert(client:sync_audit_log_files(p))
    shell.write(r1.state, '{"version":2,"start_time":"' .. p.start_time .. '","after":"bad\\u0001name"}')
    local r, err = client:sync_audit_log_files{ instance_id = p.instance_id, dir = root }
    assert.is_nil(r)
    assert.are.equal("io", err.kind)
    assert.are.equal(r1.state, err.path)
    assert.matches("start_time", err.message)
    local r2 = assert(client:sync_audit_log_files(p))
    assert.are.equal(2, r2.skipped)
    assert.matches("started afresh", r2.notes[1])
  end)

  it("refuses ids that are not one path component, as input errors", function()
    for _, c in ipairs{ { { dir = root, start_time = since(60) }, "instance_id" },
        { { instance_id = "../x", dir = root, start_time = since(60) }, "instance_id" },
        { { instance_id = emu.seed.gaussdb_instance_id, node_id = "a/b", dir = root, start_time = since(60) }, "node_id" } } do
      local r, err = client:sync_audit_log_files(c[1])
      assert.is_nil(r)
      assert.are.equal("input", err.kind)
      assert.are.equal(c[2], err.field)
    end
    assert.is_false(core.is_dir(root))
  end)
end)

describe("sync_backup", function()
  local emu, client, root
  local fx = fixture.emulator{ dir = "absent" }
  setup(function() emu, client = fx:start() end)
  teardown(function() fx:stop() end)
  before_each(function() root = fx:reset() end)

  it("RDS: the newest full backup in <end UTC>_<id>, then keep removes older ones hcdl made", function()
    local seed = emu.seed
    local older = assert(client:latest_backup{ service = "rds", instance_id = seed.rds_instance_id, type = "manual" })
    local r1 = assert(client:sync_backup{ service = "rds", instance_id = seed.rds_instance_id, dir = root,
      backup_id = older.id })
    assert.is_true(r1.ok)
    assert.are.equal("20230720T010400Z_" .. older.id, r1.backup_dir:match("[^/]+$"))
    local foreign = root .. "/20200101T000000Z_someone"
    assert(sh("mkdir -p " .. foreign))
    local r2 = assert(client:sync_backup{ service = "rds", instance_id = seed.rds_instance_id, dir = root, keep = 1 })
    assert.is_true(r2.ok)
    assert.are.equal(seed.rds_backup_id, r2.backup.id)
    assert.are.equal("auto", r2.backup.type)
    assert.are.equal("2023-07-24T10:35:00+0800", r2.backup.end_time)
    assert.are.equal(root .. "/20230724T023500Z_" .. seed.rds_backup_id, r2.backup_dir)
    assert.are.equal(2, r2.new)
    assert.are.equal(1, r2.removed)
    assert.is_false(core.is_dir(r1.backup_dir))
    assert.is_true(core.is_dir(foreign)) -- not hcdl's: no record
    for _, f in ipairs(r2.files) do
      if f.status == "new" then
        assert.are.equal(expected_md5(f.name, core.file_size(f.path)), core.md5_file(f.path))
      end
    end
    -- incremental on request
    local r3 = assert(client:sync_backup{ service = "rds", instance_id = seed.rds_instance_id, dir = root,
      type = "incremental", dry_run = true })
    assert.are.equal("incremental", r3.backup.type)
    assert.are.equal(2, r3.would_fetch)
  end)

  it("DCS: the newest backup's shards; a second run skips them", function()
    local seed = emu.seed
    local r1 = assert(client:sync_backup{ service = "dcs", instance_id = seed.dcs_instance_id, dir = root })
    assert.are.equal(3, r1.new)
    assert.are.equal(seed.dcs_backup_id, r1.backup.id)
    assert.matches("^%d+T%d+Z_" .. seed.dcs_backup_id:gsub("%-", "%%-") .. "$", r1.backup_dir:match("[^/]+$"))
    local r2 = assert(client:sync_backup{ service = "dcs", instance_id = seed.dcs_instance_id, dir = root })
    assert.are.equal(3, r2.skipped)
  end)

  it("refuses bad parameters as input errors naming them", function()
    local seed = emu.seed
    for _, c in ipairs{
      { { instance_id = seed.rds_instance_id, dir = root }, "service" },
      { { service = "rds", dir = root }, "instance_id" },
      { { service = "rds", instance_id = seed.rds_instance_id }, "dir" },
      { { service = "rds", instance_id = "a/b", dir = root }, "instance_id" },
      { { service = "rds", instance_id = seed.rds_instance_id, dir = root, backup_id = "../x" }, "backup_id" },
      { { service = "rds", instance_id = seed.rds_instance_id, dir = root, keep = 0 }, "keep" },
      { { service = "dcs", instance_id = seed.dcs_instance_id, dir = root, type = "incremental" }, "type" },
    } do
      local r, err = client:sync_backup(c[1])
      assert.is_nil(r)
      assert.are.equal("input", err.kind)
      assert.are.equal(c[2], err.field)
    end
    assert.are.same({}, emu:requests())
  end)
end)
