-- client:audit_log_files / list_audit_log_files: pagination against the emulator.
local hcdl = require "hcdl"
local emulator = require "tests.support.emulator"

describe("full-SQL pagination", function()
  local emu, seed
  local RANGE = { start_time = "2023-07-24T00:00:00+0800", end_time = "2023-07-25T00:00:00+0800" }

  local function params(over)
    local p = { instance_id = seed.gaussdb_instance_id, start_time = RANGE.start_time, end_time = RANGE.end_time }
    for k, v in pairs(over or {}) do p[k] = v end
    return p
  end

  setup(function()
    emu = emulator.start()
    seed = emu.seed
  end)
  teardown(function() if emu then emu:stop() end end)
  before_each(function() emu:reset() end)

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
    emu:fault{ target = "list_audit_log_download_link", kind = "status", status = 500, skip_first = 1, count = 50 }
    local client = assert(hcdl.new(emu:config{ retries = 1, retry_base = 0.05 }))
    local files, errors = 0, {}
    for file, err in client:audit_log_files(params()) do
      if file then files = files + 1 else errors[#errors + 1] = err end
    end
    assert.are.equal(50, files)
    assert.are.equal(1, #errors)
    assert.are.equal(500, errors[1].status)
    assert.are.equal(2, errors[1].page)
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
