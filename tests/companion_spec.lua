-- The companion calls and the helpers built on them, against the emulator:
-- latest_backup, backup_files, show_gauss_my_sql_instance_info, and what
-- hcdl.apis says about entries (describe, refresh).
local hcdl = require "hcdl"
local core = require "hcdl.core"
local apis = require "hcdl.apis"
local fixture = require "tests.support.fixture"
local shell = require "tests.support.shell"

-- The seed, as tests/emulator/README.md documents it: RDS backups newest
-- first (by begin_time) and DCS records newest first (by created_at).
local RDS = { building = 1, failed = 2, incremental_0724 = 3, auto_0724 = 4, incremental_0723 = 5,
              auto_0723 = 6, manual_0720 = 7 }
local DCS = { running = 1, failed = 2, manual_0724 = 3, auto_0723 = 4, expired = 5 }


-- Each describe below has an emulator and a client of its own.
local emu, seed, client
local function with_emulator()
  local fx = fixture.emulator{ client = {} }
  setup(function()
    emu, client = fx:start()
    seed = emu.seed
  end)
  teardown(function() fx:stop() end)
  before_each(function() fx:reset() end)
end

describe("latest_backup", function()
  with_emulator()

  it("RDS: the newest COMPLETED full backup (auto or manual), or of the type asked", function()
    local b = assert(client:latest_backup{ service = "rds", instance_id = seed.rds_instance_id })
    assert.are.equal(seed.rds_backup_ids[RDS.auto_0724], b.id)
    b = assert(client:latest_backup{ service = "rds", instance_id = seed.rds_instance_id, type = "all" })
    assert.are.equal(seed.rds_backup_ids[RDS.incremental_0724], b.id)
    b = assert(client:latest_backup{ service = "rds", instance_id = seed.rds_instance_id, type = "incremental" })
    assert.are.equal(seed.rds_backup_ids[RDS.incremental_0724], b.id)
    assert.are.equal("COMPLETED", b.status)
    b = assert(client:latest_backup{ service = "rds", instance_id = seed.rds_instance_id, type = "auto" })
    assert.are.equal(seed.rds_backup_id, b.id)
    b = assert(client:latest_backup{ service = "rds", instance_id = seed.rds_instance_id, type = "manual" })
    assert.are.equal(seed.rds_backup_ids[RDS.manual_0720], b.id)   -- not the newer FAILED one
    -- the type is the server's filter
    assert.matches("backup_type=manual", emu:requests("list_backups")[5].query)
    b = assert(client:latest_backup{ service = "rds", instance_id = seed.pg_instance_id })
    assert.are.equal(seed.pg_instance_id, b.instance_id)
  end)

  it("DCS: the newest succeed record; its type is filtered here", function()
    local r = assert(client:latest_backup{ service = "dcs", instance_id = seed.dcs_instance_id })
    assert.are.equal(seed.dcs_backup_id, r.backup_id)
    assert.are.equal(seed.dcs_backup_ids[DCS.manual_0724], r.backup_id)
    r = assert(client:latest_backup{ service = "dcs", instance_id = seed.dcs_instance_id, type = "auto" })
    assert.are.equal(seed.dcs_backup_ids[DCS.auto_0723], r.backup_id)
    assert.is_nil(emu:requests("list_backup_records")[2].query:find("type", 1, true))
  end)

  it("says clearly when there is no finished backup", function()
    local _, err = client:latest_backup{ service = "rds", instance_id = seed.rds_instance_id, type = "fragment" }
    assert.are.equal("api", err.kind)
    assert.is_true(err.not_found)
    assert.matches("no finished RDS backup of type fragment of instance " .. seed.rds_instance_id, err.message, 1, true)
    assert.matches("none listed", err.message)
    _, err = client:latest_backup{ service = "dcs", instance_id = seed.dcs_single_instance_id }
    assert.is_true(err.not_found)
    assert.matches("no finished DCS backup", err.message)
  end)

  it("counts what it saw when nothing finished", function()
    -- the emulator's records with every succeed one turned into backuping
    local t = assert(require("hcdl.transport").curl{ timeout = 10 })
    local c = assert(hcdl.new(emu:config{ transport = { send = function(spec, timeout)
      local res, e = t.send(spec, timeout)
      if res and res.body then res.body = res.body:gsub('"succeed"', '"backuping"') end
      return res, e
    end } }))
    local _, err = c:latest_backup{ service = "dcs", instance_id = seed.dcs_instance_id }
    assert.is_true(err.not_found)
    assert.matches("5 listed: 1 expired, 1 failed, 3 backuping", err.message, 1, true)
  end)

  it("refuses bad input before any request", function()
    for _, c in ipairs{
      { { service = "obs", instance_id = seed.rds_instance_id }, "service" },
      { { instance_id = seed.rds_instance_id }, "service" },
      { { service = "rds", instance_id = seed.rds_instance_id, kind = "auto" }, "kind" },
      { { service = "rds", instance_id = "no/pe" }, "instance_id" },
      { { service = "rds", instance_id = seed.rds_instance_id, type = "differential" }, "type" },
      { { service = "dcs", instance_id = seed.dcs_instance_id, type = "incremental" }, "type" },
      { { service = "dcs", instance_id = "" }, "instance_id" },
    } do
      local b, err = client:latest_backup(c[1])
      assert.is_nil(b)
      assert.are.equal("input", err.kind)
      assert.are.equal(c[2], err.field)
    end
    assert.are.same({}, emu:requests())
    assert.has_error(function() client:latest_backup("rds") end)
    assert.has_error(function() client.latest_backup({}) end)
  end)

  it("hands the service's error on", function()
    local _, err = client:latest_backup{ service = "rds", instance_id = ("0"):rep(32) .. "in01" }
    assert.are.equal("DBS.200002", err.code)
  end)
end)

describe("backup_files", function()
  with_emulator()

  it("RDS: the latest backup's files, ready for download_all", function()
    local full = assert(client:backup_files{ service = "rds", instance_id = seed.rds_instance_id })
    assert.are.equal(2, #full) -- the newest full backup: the dump and a database's
    local files, info = assert(client:backup_files{ service = "rds", instance_id = seed.rds_instance_id,
      type = "incremental" })
    assert.are.equal(seed.rds_backup_ids[RDS.incremental_0724], info.backup_id)
    assert.are.equal(info.backup_id, info.backup.id)
    assert.are.equal(2, #files)
    for _, f in ipairs(files) do assert.matches("^mysql%-bin%.%d+$", f.name) end
    local dir = shell.mktemp_dir()
    local report = assert(client:download_all(files, dir))
    assert.is_true(report.ok)
    for i, f in ipairs(files) do
      local bytes = assert(core.file_size(report.files[i].path))
      assert.is_true(math.abs(bytes / 1024 - f.size) < 1, f.name)
    end
    shell.remove(dir)
  end)

  it("RDS: a given backup needs no instance and no listing", function()
    local files, info = assert(client:backup_files{ service = "rds", backup_id = seed.rds_backup_id })
    assert.are.equal(2, #files)
    assert.is_nil(info.backup)
    assert.are.equal(0, #emu:requests("list_backups"))
  end)

  it("DCS: the latest backup's shard links, valid 3600 s unless told otherwise", function()
    local links, info = assert(client:backup_files{ service = "dcs", instance_id = seed.dcs_instance_id })
    assert.are.equal(seed.dcs_backup_id, info.backup_id)
    assert.are.equal(3, #links)
    local now = os.time()
    for _, l in ipairs(links) do
      assert.matches("%.rdb$", l.file_name)
      local expires = tonumber(l.link:match("Expires=(%d+)"))
      assert.is_true(math.abs(expires - now - 3600) < 30, l.link)
    end
  end)

  it("DCS: an explicit backup and expiration", function()
    local older = seed.dcs_backup_ids[DCS.auto_0723]
    local links = assert(client:backup_files{ service = "dcs", instance_id = seed.dcs_instance_id,
      backup_id = older, expiration = 600 })
    assert.are.equal(3, #links)
    local expires = tonumber(links[1].link:match("Expires=(%d+)"))
    assert.is_true(math.abs(expires - os.time() - 600) < 30)
    assert.matches("20230723211816%.rdb$", links[1].file_name)
    local _, err = client:backup_files{ service = "dcs", instance_id = seed.dcs_instance_id,
      backup_id = seed.dcs_backup_ids[DCS.failed] }
    assert.are.equal("DCS.4800", err.code)   -- a failed backup has no files
  end)

  it("refuses bad input before any request", function()
    for _, c in ipairs{
      { { service = "rds" }, "instance_id" },
      { { service = "rds", backup_id = seed.rds_backup_id, expiration = 600 }, "expiration" },
      { { service = "dcs", instance_id = seed.dcs_instance_id, expiration = 60 }, "expiration" },
      { { service = "dcs", instance_id = seed.dcs_instance_id, expiration = "600" }, "expiration" },
      { { service = "dcs", backup_id = seed.dcs_backup_id }, "instance_id" },
      { { service = "dcs", instance_id = seed.dcs_instance_id, backup_id = "a/b" }, "backup_id" },
      { { service = "redis", instance_id = seed.dcs_instance_id }, "service" },
      { { service = "dcs", instance_id = seed.dcs_instance_id, latest = true }, "latest" },
    } do
      local files, err = client:backup_files(c[1])
      assert.is_nil(files)
      assert.are.equal("input", err.kind)
      assert.are.equal(c[2], err.field)
    end
    assert.are.same({}, emu:requests())
  end)

  it("refreshes a backup file's link by asking for the backup again", function()
    local files = assert(client:backup_files{ service = "rds", backup_id = seed.rds_backup_id })
    local fresh = assert(client:refresh_entry(files[2]))
    assert.are.equal(files[2].name, fresh.name)
    assert.is_string(fresh.download_link)
    assert.are.equal(2, #emu:requests("show_backup_download_link"))
    local links = assert(client:backup_files{ service = "dcs", instance_id = seed.dcs_instance_id,
      backup_id = seed.dcs_backup_id })
    fresh = assert(client:refresh_entry(links[3]))
    assert.are.equal(links[3].file_name, fresh.file_name)
    local _, err = client:refresh_entry{ name = "x", download_link = "https://h/x" }
    assert.are.equal("expired", err.kind)
  end)
end)

describe("show_gauss_my_sql_instance_info and the entries' facts", function()
  with_emulator()

  it("gives the nodes whose ids the full-SQL API takes", function()
    local r = assert(client:show_gauss_my_sql_instance_info{ instance_id = seed.gaussdb_instance_id })
    local ids = {}
    for _, n in ipairs(r.instance.nodes) do ids[#ids + 1] = n.id end
    assert.are.same(seed.gaussdb_node_ids, ids)
    local page = assert(client:list_audit_log_download_link{ instance_id = seed.gaussdb_instance_id,
      node_id = r.instance.nodes[2].id, start_time = seed.gaussdb_time_range[1],
      end_time = seed.gaussdb_time_range[2], limit = 1 })
    assert.is_truthy(page.files[1].name:find(ids[2], 1, true))
  end)

  it("describes each kind of entry from its descriptor", function()
    local range = { instance_id = seed.gaussdb_instance_id, start_time = seed.gaussdb_time_range[1],
      end_time = seed.gaussdb_time_range[2], limit = 1 }
    local f = assert(client:list_audit_log_download_link(range)).files[1]
    local info = assert(apis.describe(f))
    assert.are.equal("list_audit_log_download_link", info.api)
    assert.are.equal(f.name, info.name)
    assert.are.equal(f.download_link, info.url)
    assert.are.equal(f.size, info.kb)
    assert.is_nil(info.exact)
    assert.are.equal(require("hcdl.timefmt").parse_offset(f.updated_time), info.mtime)
    assert.is_true(info.expires > os.time())

    local rec = assert(client:all_backup_records{ instance_id = seed.dcs_instance_id })[1]
    info = assert(apis.describe(rec))
    assert.are.equal(rec.size, info.exact)
    -- "2023-07-24T20:01:14.380Z"
    assert.are.equal(require("hcdl.timefmt").days_from_civil(2023, 7, 24) * 86400 + 20 * 3600 + 74, info.mtime)

    emu:set{ errorlog_creating = 0 }
    local logs = assert(client:wait_errorlog_links{ instance_id = seed.pg_instance_id, interval = 0.05 })
    info = assert(apis.describe(logs[1]))
    assert.are.equal(tonumber(logs[1].file_size), info.exact)
    assert.are.equal(logs[1].file_link, info.url)
    assert.are.equal(math.floor(logs[1].update_at / 1000), info.mtime)
  end)

  it("never guesses a size it cannot read", function()
    for _, entry in ipairs{
      { name = "a", download_link = "https://h/a", size = 1.5, updated_time = "2023-07-24T00:00:00+0800" },
      { name = "a", download_link = "https://h/a", size = -1 },
      { name = "a", download_link = "https://h/a", size = 1e300 },
      { name = "a", download_link = "https://h/a", size = "12" },      -- KB must be a number
      { file_name = "a", file_link = "https://h/a", file_size = "12abc" },
      { file_name = "a", file_link = "https://h/a", file_size = "nan" },
    } do
      local info, err = apis.describe(entry)
      assert.is_nil(info)
      assert.are.equal("api", err.kind)
      assert.is_truthy(err.field == "size" or err.field == "file_size")
    end
    local info = assert(apis.describe{ file_name = "a", file_link = "https://h/a", file_size = "123456789" })
    assert.are.equal(123456789, info.exact)
    assert.are.equal("download_errorlog", info.api)
  end)
end)
