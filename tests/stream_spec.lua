-- client:download(entry, sink): a backup straight into a function or a file
-- handle, in order, verified at the end, resumed after a drop without
-- repeating or losing a byte.
local core = require "hcdl.core"
local fixture = require "tests.support.fixture"
local helpers = require "tests.support.helpers"

local expected = helpers.expected_content

describe("streaming downloads", function()
  local emu, client

  local fx = fixture.emulator()
  setup(function() emu, client = fx:start() end)
  teardown(function() fx:stop() end)
  before_each(function() fx:reset() end)

  local function object(name, size, ttl)
    return emu:object{ name = name, size = size, ttl = ttl or 3600 }
  end

  it("hands every byte to a function, in order, and verifies the MD5", function()
    local obj = object("s1.bin", 3 * 1024 * 1024 + 7)
    local chunks = {}
    local r = assert(client:download(obj.url, function(chunk) chunks[#chunks + 1] = chunk end))
    local got = table.concat(chunks)
    assert.are.equal(obj.size, #got)
    assert.are.equal(expected("s1.bin", obj.size), got)
    assert.are.equal(obj.etag:gsub('"', ""), r.md5)
    assert.is_nil(r.path)
  end)

  it("writes into a file handle such as io.stdout", function()
    local obj = object("s2.bin", 500000)
    local path = os.tmpname()
    local fh = assert(io.open(path, "wb"))
    assert(client:download(obj.url, fh))
    fh:close()
    assert.are.equal(expected("s2.bin", 500000), helpers.read_file(path))
    os.remove(path)
  end)

  it("resumes after a drop from the next byte: nothing repeated, nothing lost", function()
    local size = 2 * 1024 * 1024
    local obj = object("s3.bin", size)
    emu:fault{ target = "store", kind = "drop_after", bytes = 777777, count = 1 }
    local chunks = {}
    local r = assert(client:download(obj.url, function(c) chunks[#chunks + 1] = c end))
    assert.are.equal(expected("s3.bin", size), table.concat(chunks))
    assert.are.equal(obj.etag:gsub('"', ""), r.md5)
    local reqs = emu:requests("store")
    assert.are.equal(2, #reqs)
    assert.are.equal("bytes=777777-", reqs[2].range)
  end)

  it("reports a failure as nil, err after the sink got what arrived", function()
    local obj = object("s4.bin", 1000000)
    emu:fault{ target = "store", kind = "drop_after", bytes = 300000, count = 5 }
    local got = 0
    local r, err = client:download(obj.url, function(c) got = got + #c end, { retries = 0 })
    assert.is_nil(r)
    assert.are.equal("network", err.kind)
    assert.are.equal(300000, got)
  end)

  it("stops when the sink refuses, with an io error", function()
    local obj = object("s5.bin", 1000000)
    local r, err = client:download(obj.url, function() error("disk full downstream") end)
    assert.is_nil(r)
    assert.are.equal("io", err.kind)
    assert.matches("disk full downstream", err.message)
  end)

  it("refuses an object that changed under the stream: the sink cannot be rewound", function()
    local obj = object("s6.bin", 1000000)
    emu:fault{ target = "store", kind = "drop_after", bytes = 200000, count = 1 }
    emu:fault{ target = "store", kind = "ignore_range", count = 1, skip_first = 1 }
    local got = 0
    local r, err = client:download(obj.url, function(c) got = got + #c end)
    assert.is_nil(r)
    assert.are.equal("integrity", err.kind)
    assert.matches("after 200000 bytes", err.message)
    assert.are.equal(200000, got)
  end)

  it("refreshes an expired link and goes on from where the stream was", function()
    local file = emu:file_expiring_mid_download(client)
    local chunks = {}
    local r = assert(client:download(file, function(c) chunks[#chunks + 1] = c end))
    assert.are.equal(1, r.refreshed)
    local body = table.concat(chunks)
    assert.are.equal(expected(file.name, #body), body)
    assert.is_true(math.abs(#body / 1024 - file.size) < 1)
    assert.is_true(core.now() > 0)
  end)
end)
