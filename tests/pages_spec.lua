-- client:audit_log_files / list_audit_log_files: pagination against the emulator.
local hcdl = require "hcdl"
local fixture = require "tests.support.fixture"

-- A lasting failure of `target` from the second page on: the loop body
-- gets the first page's `want` items, then one error naming page 2, and
-- the loop ends.  loop(client) starts the paging loop.
local function lasting_failure(emu, target, count, loop, want)
  emu:fault{ target = target, kind = "status", status = 500, skip_first = 1, count = count }
  local client = assert(hcdl.new(emu:config{ retries = 1, retry_base = 0.05 }))
  local got, errors = 0, {}
  for item, err in loop(client) do
    if item then got = got + 1 else errors[#errors + 1] = err end
  end
  assert.are.equal(want, got)
  assert.are.equal(1, #errors)
  assert.are.equal(500, errors[1].status)
  assert.are.equal(2, errors[1].page)
end

describe("full-SQL pagination", function()
  local emu, seed
  local RANGE = { start_time = "2023-07-24T00:00:00+0800", end_time = "2023-07-25T00:00:00+0800" }

  local function params(over)
    local p = { instance_id = seed.gaussdb_instance_id, start_time = RANGE.start_time, end_time = RANGE.end_time }
    for k, v in pairs(over or {}) do p[k] = v end
    return p
  end

  local fx = fixture.emulator{ client = false }
  setup(function() emu = fx:start(); seed = emu.seed end)
  teardown(function() fx:stop() end)
  before_each(function() fx:reset() end)

  it("yields every file exactly once, in order, across pages", function()
    local client = assert(hcdl.new(emu:config()))
    local names, seen = {}, {}
    for file, err in client:audit_log_files(params()) do
      assert.is_nil(err)
      assert.is_nil(seen[file.name], "repeated " .. file.name)
      seen[file.name] = true
      names[#names + 1] = file.name
    end
    assert.are.equal(seed.gaussdb_file_count, #names)
    for i = 2, #names do assert.is_true(names[i - 1] < names[i]) end
    -- 170 files at 50 a page: 4 pages, the last one short
    assert.are.equal(4, #emu:requests("list_audit_log_download_link"))
  end)

  it("respects a smaller page size and the node filter", function()
    local client = assert(hcdl.new(emu:config()))
    local all = assert(client:list_audit_log_files(params{ limit = 7, node_id = seed.gaussdb_node_id }))
    assert.is_true(#all > 7)
    for _, f in ipairs(all) do assert.is_truthy(f.name:find(seed.gaussdb_node_id, 1, true)) end
    assert.are.equal(math.floor(#all / 7) + 1, #emu:requests("list_audit_log_download_link"))
  end)

  it("retries a 503 on page 3 and still yields each file once", function()
    emu:fault{ target = "list_audit_log_download_link", kind = "status", status = 503, skip_first = 2, count = 1 }
    local client = assert(hcdl.new(emu:config{ retry_base = 0.05 }))
    local list = assert(client:list_audit_log_files(params()))
    local seen = {}
    for _, f in ipairs(list) do
      assert.is_nil(seen[f.name]); seen[f.name] = true
    end
    assert.are.equal(seed.gaussdb_file_count, #list)
    local reqs = emu:requests("list_audit_log_download_link")
    assert.are.equal(5, #reqs)
    assert.are.equal(503, reqs[3].status)
  end)

  it("hands a lasting failure to the loop body, then ends", function()
    lasting_failure(emu, "list_audit_log_download_link", 50, function(c) return c:audit_log_files(params()) end, 50)
  end)

  it("detects a service that answers the same page twice", function()
    -- The real answer of page 2 is replayed for page 3: a misbehaving server.
    local t = assert(require("hcdl.transport").curl{ timeout = 10 })
    local calls, page2 = 0, nil
    local client = assert(hcdl.new(emu:config{ transport = {
      send = function(spec, timeout)
        calls = calls + 1
        local res, err = t.send(spec, timeout)
        if calls == 2 then page2 = res end
        if calls == 3 then return page2 end
        return res, err
      end,
    } }))
    local files, failure = 0, nil
    for file, err in client:audit_log_files(params()) do
      if file then files = files + 1 else failure = err end
    end
    assert.are.equal(100, files)
    assert.are.equal("api", failure.kind)
    assert.matches("not advancing", failure.message)
    assert.are.equal(3, calls) -- no endless loop
  end)

  it("reports bad parameters through the loop too", function()
    local client = assert(hcdl.new(emu:config()))
    local got
    for file, err in client:audit_log_files(params{ limit = 500 }) do got = { file, err } end
    assert.are.equal(false, got[1])
    assert.are.equal("limit", got[2].field)
    assert.are.same({}, emu:requests())
  end)
end)

describe("offset pagination", function()
  local emu, seed

  local fx = fixture.emulator{ client = false }
  setup(function() emu = fx:start(); seed = emu.seed end)
  teardown(function() fx:stop() end)
  before_each(function() fx:reset() end)

  -- A client whose transport lets a test change what the service answers.
  local function client_with(rewrite, over)
    local t = assert(require("hcdl.transport").curl{ timeout = 10 })
    local calls = 0
    local cfg = emu:service_config(over)
    cfg.transport = { send = function(spec, timeout)
      calls = calls + 1
      local res, err = t.send(spec, timeout)
      if res and rewrite then res = rewrite(calls, res, spec) or res end
      return res, err
    end }
    return assert(hcdl.new(cfg)), function() return calls end
  end

  it("yields every backup exactly once across pages, in the service's order", function()
    local client = assert(hcdl.new(emu:config()))
    local ids = {}
    for backup, err in client:backups{ instance_id = seed.rds_instance_id, limit = 2 } do
      assert.is_nil(err)
      ids[#ids + 1] = backup.id
    end
    assert.are.same(seed.rds_backup_ids, ids)
    -- 7 backups, 2 a page: 4 pages; the total says when to stop
    local reqs = emu:requests("list_backups")
    assert.are.equal(4, #reqs)
    assert.matches("offset=6", reqs[4].query)
  end)

  it("asks for the largest page the service allows unless told otherwise", function()
    local client = assert(hcdl.new(emu:config()))
    local all = assert(client:all_dcs_instances{})
    assert.are.equal(seed.dcs_instance_count, #all)
    local reqs = emu:requests("list_dcs_instances")
    assert.are.equal(1, #reqs)
    assert.matches("limit=1000", reqs[1].query)
    -- the default page of 10 would need 3 calls: the caller's limit is kept
    assert.are.equal(seed.dcs_instance_count, #assert(client:all_dcs_instances{ limit = 10 }))
    assert.are.equal(4, #emu:requests("list_dcs_instances"))
  end)

  it("pages the listings that share a path, each on its service's host", function()
    local client = assert(hcdl.new(emu:service_config()))
    local rds = assert(client:all_rds_instances{ limit = 5 })
    assert.are.equal(seed.rds_instance_count, #rds)
    assert.are.equal(3, #emu:requests("list_rds_instances"))
    local taurus = assert(client:all_gauss_my_sql_instances{ limit = 5 })
    assert.are.equal(seed.gaussdb_instance_count, #taurus)
    local ids = {}
    for inst in client:gauss_my_sql_instances{ name = "taurus-main" } do ids[#ids + 1] = inst.id end
    assert.are.same({ seed.gaussdb_instance_id }, ids)
    -- on one bare address the shared path is refused, and the error reaches the loop
    local bare = assert(hcdl.new(emu:config()))
    local got
    for inst, err in bare:rds_instances{} do got = { inst, err } end
    assert.are.equal(false, got[1])
    assert.are.equal("APIGW.0101", got[2].code)
  end)

  it("treats a 204 as an empty list", function()
    local client = assert(hcdl.new(emu:config()))
    assert.are.same({}, assert(client:all_redislog_files{ instance_id = seed.dcs_instance_id }))
    assert.are.same({}, assert(client:all_backup_records{ instance_id = seed.dcs_single_instance_id }))
  end)

  it("refuses a service that answers the same page twice", function()
    local first
    local client, calls = client_with(function(n, res)
      if n == 1 then first = res end
      if n == 2 then return first end
    end)
    local got, failure = 0, nil
    for backup, err in client:backups{ instance_id = seed.rds_instance_id, limit = 3 } do
      if backup then got = got + 1 else failure = err end
    end
    assert.are.equal(3, got)
    assert.are.equal("api", failure.kind)
    assert.matches("not advancing", failure.message)
    assert.are.equal(2, failure.page)
    assert.are.equal(2, calls())
  end)

  it("refuses a list whose total changes half-way (entries would shift past the offsets)", function()
    local client = assert((client_with(function(n, res)
      if n == 2 then
        res.body = res.body:gsub('"total_count":(%d+)', function(t) return '"total_count":' .. (t + 1) end)
      end
    end)))
    local all, err = client:all_backups{ instance_id = seed.rds_instance_id, limit = 3 }
    assert.is_nil(all)
    assert.are.equal("api", err.kind)
    assert.matches("changed while paging", err.message)
  end)

  it("hands a lasting failure to the loop body, then ends", function()
    lasting_failure(emu, "list_backup_records", 10, function(c)
      return c:backup_records{ instance_id = seed.dcs_instance_id, limit = 2 }
    end, 2)
  end)

  it("reports bad parameters through the loop, before any request", function()
    local client = assert(hcdl.new(emu:config()))
    local got
    for record, err in client:backup_records{ instance_id = seed.dcs_instance_id, begin_time = "yesterday" } do
      got = { record, err }
    end
    assert.are.equal(false, got[1])
    assert.are.equal("begin_time", got[2].field)
    local _, err = client:all_backups{ instance_id = seed.rds_instance_id, limit = 101 }
    assert.are.equal("limit", err.field)
    assert.are.same({}, emu:requests())
  end)

  it("turns entries that are not a list into an api error in the loop, never a crash", function()
    local client = assert((client_with(function(_, res)
      res.body = '{"backups":{"id":"x"},"total_count":1}'
    end)))
    local got
    for backup, err in client:backups{ instance_id = seed.rds_instance_id } do got = { backup, err } end
    assert.are.equal(false, got[1])
    assert.are.equal("api", got[2].kind)
    assert.are.equal("backups", got[2].field)
  end)

  it("raises only for programmer errors", function()
    local client = assert(hcdl.new(emu:config()))
    assert.has_error(function() client:backups("x") end)
    assert.has_error(function() client.all_backups({}) end)
  end)
end)
