-- client:sync_audit_log_files and the skip rules a cron job relies on,
-- against the emulator: files that grow after they are listed, new files
-- after the last run, a run killed half-way, two runs at once.
local core = require "hcdl.core"
local cjson = require "cjson"
local fixture = require "tests.support.fixture"
local helpers = require "tests.support.helpers"
local process = require "tests.support.process"
local shell = require "tests.support.shell"

local DAY = "2023-07-24T00:00:00+0800"

local sh = shell.ok

local expected_md5, expected_md5s = helpers.expected_md5, helpers.expected_md5s

local function by_status(report)
  local out = {}
  for _, f in ipairs(report.files) do
    out[f.status] = out[f.status] or {}
    table.insert(out[f.status], f.name)
  end
  return out
end

describe("sync_audit_log_files", function()
  local emu, client, dir, params

  local fx = fixture.emulator{ dir = "made" }
  setup(function() emu, client = fx:start() end)
  teardown(function() fx:stop() end)
  before_each(function()
    dir = fx:reset()
    params = { instance_id = emu.seed.gaussdb_instance_id, dir = dir, start_time = DAY,
      end_time = "2023-07-24T06:00:00+0800", concurrency = 8 }
  end)

  local function audit(body) return emu:ctl("POST", "/audit", body).files end

  it("downloads a day's files, then the next run fetches nothing and lists only what may grow", function()
    local r1 = assert(client:sync_audit_log_files(params))
    assert.is_true(r1.ok)
    assert.is_true(r1.new > 0)
    assert.are.equal(r1.listed, r1.new)
    local r2 = assert(client:sync_audit_log_files(params))
    assert.are.equal(0, r2.new + r2.updated + r2.failed)
    assert.is_true(r2.listed < r1.listed, "the second run listed everything again")
    assert.is_true(r2.listed >= 2, "the newest file of each node is looked at again")
    -- the files carry their updated_time
    local f = r1.files[1]
    local st = assert(core.dir(dir)):stat(f.name)
    local want = require("hcdl.timefmt").parse_offset(f.entry.updated_time)
    assert.are.equal(want, math.floor(st.mtime))
  end)

  it("downloads again, and replaces atomically, a file that grew after the last run", function()
    params.end_time = nil -- up to now, as a cron job would
    local r1 = assert(client:sync_audit_log_files(params))
    assert.is_true(r1.ok)
    local grown = audit{ grow = "latest", by = 10000, seconds = 30 }[1]
    local r2 = assert(client:sync_audit_log_files(params))
    assert.is_true(r2.ok)
    assert.are.same({ grown.name }, by_status(r2).updated)
    assert.are.equal(grown.size, core.file_size(dir .. "/" .. grown.name))
    assert.are.equal(expected_md5(grown.name, grown.size), core.md5_file(dir .. "/" .. grown.name))
    assert.is_false(core.file_size(dir .. "/" .. grown.name .. ".part"))
  end)

  it("fetches the files added after the last run", function()
    params.end_time = nil
    assert(client:sync_audit_log_files(params))
    local added = audit{ add = 3, seconds = 20 }
    local r2 = assert(client:sync_audit_log_files(params))
    local new = by_status(r2).new or {}
    table.sort(new)
    local want = {}
    for _, f in ipairs(added) do want[#want + 1] = f.name end
    table.sort(want)
    assert.are.same(want, new)
  end)

  it("picks up cleanly after a run killed half-way", function()
    -- a slow store, a run in another process, kill -9 once some files are in
    emu:fault{ target = "store", kind = "throttle", rate = 400000 }
    local script = os.tmpname()
    shell.write(script, ([[
local hcdl = require "hcdl"
local c = assert(hcdl.new(%s))
c:sync_audit_log_files{ instance_id = %q, dir = %q, start_time = %q, end_time = %q, concurrency = 2 }
]]):format(require("tests.support.lua_literal")(emu:config{}), params.instance_id, dir, DAY, params.end_time))
    local pid = process.start_lua(script)
    local deadline = core.now() + 30
    repeat
      core.sleep(0.2)
      local n = 0
      for _, q in ipairs(emu:requests("store")) do if q.status == 200 then n = n + 1 end end
    until n >= 6 or core.now() > deadline
    sh("kill -9 " .. pid)
    core.sleep(0.3)
    os.remove(script)
    emu:reset()
    local r = assert(client:sync_audit_log_files(params))
    assert.is_true(r.ok)
    assert.are.equal(0, r.failed)
    -- every file complete and byte-exact, nothing half-written left
    local sizes = {}
    for i, file in ipairs(r.files) do sizes[i] = { file.name, core.file_size(dir .. "/" .. file.name) } end
    local want = expected_md5s(sizes)
    for i, file in ipairs(r.files) do
      local path = dir .. "/" .. file.name
      assert.are.equal(want[i], core.md5_file(path))
      assert.is_false(core.file_size(path .. ".part"))
    end
  end)

  it("refuses a second run while one holds the directory, and waits when asked", function()
    local d = assert(core.dir(dir))
    local script = ("local core = require 'hcdl.core'; local d = core.dir(%q); local l = d:lock(%q); "
      .. "io.write('held\\n'); io.flush(); os.execute('sleep 1.5')"):format(dir, ".hcdl-sync.lock")
    local holder = process.lua_pipe(script)
    assert.are.equal("held", holder:read("*l"))
    local r, err = client:sync_audit_log_files(params)
    assert.is_nil(r)
    assert.are.equal("io", err.kind)
    assert.is_true(err.busy)
    assert.matches("another sync", err.message)
    local t0 = core.now()
    params.wait = 10
    local r2 = assert(client:sync_audit_log_files(params))
    assert.is_true(r2.ok)
    assert.is_true(core.now() - t0 >= 0.5, "did not wait for the other run")
    holder:close()
    d:close()
  end)

  it("refuses unknown and missing parameters before any request", function()
    -- start_time: only on a directory's first run
    local _, err = client:sync_audit_log_files{ instance_id = emu.seed.gaussdb_instance_id, dir = dir }
    assert.are.equal("start_time", err.field)
    _, err = client:sync_audit_log_files{ instance_id = emu.seed.gaussdb_instance_id, start_time = DAY }
    assert.are.equal("dir", err.field)
    _, err = client:sync_audit_log_files{ instance_id = emu.seed.gaussdb_instance_id, dir = dir,
      start_time = DAY, bogus = 1 }
    assert.are.equal("bogus", err.field)
    _, err = client:sync_audit_log_files{ instance_id = "nope", dir = dir, start_time = DAY }
    assert.are.equal("instance_id", err.field)
    assert.are.equal(0, #emu:requests())
  end)

  describe("skip rules of download and download_all", function()
    it("skips a file that agrees with the entry's size in KB, and replaces one that does not", function()
      local files = assert(client:list_audit_log_files{ instance_id = emu.seed.gaussdb_instance_id,
        start_time = DAY, end_time = "2023-07-24T01:00:00+0800" })
      assert(client:download_all(files, dir))
      emu:reset()
      -- one file shortened by hand: it no longer agrees with its listed size
      local victim = dir .. "/" .. files[1].name
      local size = core.file_size(victim)
      assert(sh(("truncate -s %d %q"):format(size - 5000, victim)))
      local report = assert(client:download_all(files, dir))
      assert.are.equal(#files - 1, report.skipped)
      assert.are.equal(1, report.done)
      assert.are.equal(expected_md5(files[1].name, size), core.md5_file(victim))
      assert.are.equal(1, #emu:requests("store"))
    end)

    it("gives files the entry's modification time", function()
      local pg = assert(client:wait_errorlog_links{ instance_id = emu.seed.pg_instance_id, interval = 0.05 })
      local r = assert(client:download(pg[1], dir))
      local st = assert(core.dir(dir)):stat(pg[1].file_name)
      assert.are.equal(math.floor(pg[1].update_at / 1000), math.floor(st.mtime))
      assert.are.equal(tonumber(pg[1].file_size), r.bytes)
    end)
  end)
end)
