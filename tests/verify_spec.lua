-- Verification (lua/hcdl/verify.lua, src/verifier.c and its parts): the
-- CRCs against their check values in both implementations, multipart
-- ETags, CRC-64 headers over one and four connections, damaged objects
-- never ending under their final name, strict mode, resumes that compare
-- the version id, the formats' own checks (files from
-- tests/support/verify_samples.py), client:verify_file and `hcdl verify`.
local hcdl = require "hcdl"
local core = require "hcdl.core"
local fixture = require "tests.support.fixture"
local helpers = require "tests.support.helpers"
local process = require "tests.support.process"
local seeded = require "tests.support.seeded"
local shell = require "tests.support.shell"

local SEED = tonumber(os.getenv("HCDL_SEED") or "") or os.time() % 100000
local MIB = 1024 * 1024

local sh = shell.ok

local function exists(path) return core.file_size(path) ~= false end

local function has(list, what)
  for _, v in ipairs(list or {}) do if v == what then return true end end
  return false
end

local function show(list) return "{" .. table.concat(list or {}, ", ") .. "}" end

-- A deterministic byte string of n bytes, for in-process checks.
local bytes_of = seeded.bytes

local function md5_bin(s)
  local d = core.md5()
  d:update(s)
  return (d:hex():gsub("..", function(h) return string.char(tonumber(h, 16)) end))
end

local function multipart_etag(data, p)
  local parts = {}
  for i = 1, #data, p do parts[#parts + 1] = md5_bin(data:sub(i, i + p - 1)) end
  local d = core.md5()
  d:update(table.concat(parts))
  return '"' .. d:hex() .. "-" .. #parts .. '"'
end

describe("CRCs", function()
  it("give the check values of CRC-64/XZ and CRC-64/Jones, in the build's and the portable code", function()
    for _, impl in ipairs{ "build", "portable" } do
      assert.are.equal("995dc9bbdf1939fa", core.crc64("123456789", "xz", impl))
      assert.are.equal("e9c6d914c4b8d9ca", core.crc64("123456789", "jones", impl))
      assert.are.equal("0000000000000000", core.crc64("", "xz", impl))
    end
    local f = core.features()
    assert.truthy(f.crc == "isa-l" or f.crc == "portable", f.crc)
    assert.are.equal("zlib", f.inflate)
  end)

  it("agree between the build's code and the portable tables at every length and alignment (seed " .. SEED .. ")", function()
    local data = bytes_of(5000, SEED)
    for _, n in ipairs{ 1, 7, 8, 9, 15, 16, 17, 63, 64, 65, 255, 1000, 4999 } do
      for _, off in ipairs{ 1, 2, 3, 8 } do
        local s = data:sub(off, off + n - 1)
        for _, kind in ipairs{ "xz", "jones" } do
          assert.are.equal(core.crc64(s, kind, "portable"), core.crc64(s, kind),
            ("seed %d, %s, %d bytes at %d"):format(SEED, kind, n, off))
        end
      end
    end
  end)

  it("combine the CRC-64 of ranges into the whole object's (seed " .. SEED .. ")", function()
    local data = bytes_of(20000, SEED + 1)
    local function crc(s)
      local v = core.verifier{ crc64 = true }
      v:update(s)
      return v:result().crc64
    end
    local whole = crc(data)
    for _, cut in ipairs{ 1, 7, 4096, 12345, 19999 } do
      local a, b = data:sub(1, cut), data:sub(cut + 1)
      assert.are.equal(whole, core.crc64_combine(crc(a), crc(b), #b), "seed " .. SEED .. ", cut " .. cut)
    end
    assert.are.equal(crc("abc"), core.crc64_combine(crc("abc"), crc(""), 0))
  end)
end)

describe("multipart ETags (core.verifier)", function()
  local data = bytes_of(3 * 65536 + 1000, SEED + 2)

  it("find the part size among the candidates (seed " .. SEED .. ")", function()
    for _, p in ipairs{ 65536, 131072 } do
      local v = core.verifier{ etag = multipart_etag(data, p), size = #data }
      for i = 1, #data, 4097 do v:update(data:sub(i, i + 4096)) end
      local r = v:result()
      assert.are.equal(p, r.part_size, "seed " .. SEED)
    end
  end)

  -- the ETag's part size, the bytes fed, whether a usual part size could
  -- have made the ETag (a mismatch is then damage)
  for _, case in ipairs{
    { "say nothing matched an unusual part size, and that no usual one was possible", 70001, data, false },
    { "take a mismatch with a usual part size as damage", 65536, data:sub(1, 1000) .. "X" .. data:sub(1002), true },
  } do
    local part, fed, strong = case[2], case[3], case[4]
    it(case[1], function()
      local v = core.verifier{ etag = multipart_etag(data, part), size = #fed }
      v:update(fed)
      local r = v:result()
      assert.is_nil(r.part_size)
      assert.are.equal(strong, r.multipart_strong)
    end)
  end
end)

-- A file the checks read back from: the parts go through src/md5lanes.c
-- eight at a time where the CPU has lanes (core.features().multipart_md5),
-- while the expected ETag is made here with OpenSSL's MD5, one part at a
-- time.  Lengths around MD5's padding edges (55, 56, 63, 64 bytes into the
-- last block), fewer, as many and more parts than lanes, and two candidate
-- sizes at once: a lane that took another lane's bytes or state, or padded
-- wrongly, fails here.
describe("multipart ETags read back from the file (md5 " .. core.features().multipart_md5 .. ")", function()
  local dir, d
  local KIB = 1024
  setup(function()
    dir = shell.mktemp_dir()
    d = assert(core.dir(dir))
  end)
  teardown(function() shell.remove(dir) end)

  -- n seeded random bytes in dir/name, read back as a string.
  local function random_file(name, n, seed)
    local path = dir .. "/" .. name
    assert(sh(("%s -c 'import random,sys; sys.stdout.buffer.write(random.Random(%d).randbytes(%d))' >%s")
      :format(helpers.PY, seed, n, path)))
    return helpers.read_file(path)
  end

  local function verify_pass(name, etag, size)
    local f = assert(d:open(name, { read_only = true }))
    local task = core.task("verify", { file = f, path = dir .. "/" .. name, etag = etag, size = size,
      formats = true })
    assert.is_true(task:wait(60))
    local checks, err = task:result()
    f:close()
    return assert(checks, tostring(err))
  end

  it("give OpenSSL's MD5 in every lane implementation this CPU has (seed " .. SEED .. ")", function()
    local size = 300 * KIB
    local data = random_file("ranges.bin", size, SEED + 11)
    local f = assert(d:open("ranges.bin", { read_only = true }))
    -- more ranges than lanes (lanes are refilled and reassigned), lengths
    -- at every padding edge and across the 32 KiB lane buffer
    local ranges, x = {}, SEED
    for _, len in ipairs{ 0, 1, 55, 56, 57, 63, 64, 65, 119, 120, 127, 128, 4095, 32768, 32769,
      65536 + 55, 100000, 299 * KIB } do
      x = (x * 1103515245 + 12345) % 2147483648
      ranges[#ranges + 1] = { x % (size - len + 1), len }
    end
    local want = {}
    for i, r in ipairs(ranges) do
      local m = core.md5()
      m:update(data:sub(r[1] + 1, r[1] + r[2]))
      want[i] = m:hex()
    end
    local tried = 0
    for _, impl in ipairs{ "avx512vl-x8", "avx2-x8" } do
      local got, err = core.md5_ranges(f, ranges, impl)
      if got then
        tried = tried + 1
        assert.are.same(want, got, impl .. ", seed " .. SEED)
      else
        assert.matches("md5 lanes " .. impl:gsub("%-", "%%-"), err.message)
      end
    end
    -- the fastest, the one the checks use, is among them
    if core.features().multipart_md5 ~= "openssl" then
      assert.is_true(tried > 0)
      assert.are.same(want, core.md5_ranges(f, ranges))
    else
      assert.are.equal(0, tried)
    end
    f:close()
  end)

  local function pick(list, i) return list[(SEED + i * 7) % #list + 1] end
  local tails = { 0, 1, 55, 56, 63, 64, 65, 4097 }
  local counts = { 1, 2, 7, 8, 9, 16, 17 }
  for i = 1, 8 do
    local parts, tail = pick(counts, i), pick(tails, i * 3)
    local p = 64 * KIB
    local size = (tail == 0 and parts or parts - 1) * p + tail
    if parts == 1 and tail == 0 then size = p end
    it(("find %d KiB parts in %d bytes (%d parts, seed %d)"):format(p / KIB, size, parts, SEED), function()
      local name = "lanes" .. i .. ".bin"
      local data = random_file(name, size, SEED + i)
      local r = verify_pass(name, multipart_etag(data, p), size)
      -- one part: its size is the object's (etag_mp.c)
      assert.are.equal(parts == 1 and size or p, r.part_size, "seed " .. SEED)
      assert.are.equal(size, r.bytes)
    end)
  end

  it("tell two candidate sizes apart in the same lanes (seed " .. SEED .. ")", function()
    -- 3 MiB + 1 in 2 parts: 2 MiB (a power of two) and 3 MiB (a whole MiB)
    -- both fit; the parts were 3 MiB
    local size = 3 * MIB + 1
    local data = random_file("two.bin", size, SEED + 99)
    local r = verify_pass("two.bin", multipart_etag(data, 3 * MIB), size)
    assert.are.equal(2, r.multipart_candidates)
    assert.are.equal(3 * MIB, r.part_size)
  end)

  it("take a byte changed in any part as damage (seed " .. SEED .. ")", function()
    local p, size = 64 * KIB, 11 * 64 * KIB + 77
    local data = random_file("dmg.bin", size, SEED + 7)
    local etag = multipart_etag(data, p)
    for _, at in ipairs{ 0, 5 * p + (SEED % p), size - 1 } do
      shell.patch(dir .. "/dmg.bin", at, string.char((data:byte(at + 1) + 1) % 256))
      local r = verify_pass("dmg.bin", etag, size)
      assert.is_nil(r.part_size, "byte " .. at .. ", seed " .. SEED)
      assert.is_true(r.multipart_strong)
      shell.patch(dir .. "/dmg.bin", at, data:sub(at + 1, at + 1))
    end
    assert.are.equal(p, verify_pass("dmg.bin", etag, size).part_size)
  end)

  it("find no match in a file shorter than the object its ETag describes", function()
    local p = 64 * KIB
    local data = random_file("short.bin", 10 * p, SEED + 3)
    local etag = multipart_etag(data, p)
    assert(sh(("truncate -s %d %s/short.bin"):format(9 * p, dir)))
    local r = verify_pass("short.bin", etag, 10 * p)
    assert.is_nil(r.part_size)
  end)
end)

describe("formats", function()
  local dir
  setup(function()
    dir = shell.mktemp_dir()
    assert(sh(("%s %s/tests/support/verify_samples.py %s %d"):format(helpers.PY, helpers.root, dir, SEED)))
  end)
  teardown(function() shell.remove(dir) end)

  local client
  before_each(function() client = client or assert(hcdl.new{ ak = "x", sk = "y", project_id = ("0"):rep(32), region = "eu-de" }) end)

  local want = {
    ["good.rdb"] = "rdb", ["nocrc.rdb"] = "rdb-no-checksum", ["good.xbs"] = "xbstream",
    ["good.gz"] = "gzip", ["padded.gz"] = "gzip",
  }
  for name, check in pairs(want) do
    it("holds for " .. name .. " (" .. check .. ")", function()
      local r = client:verify_file(dir .. "/" .. name)
      assert.is_true(r.ok, tostring(r.err) .. " (seed " .. SEED .. ")")
      assert.are.same({ check }, r.verified)
    end)
  end

  local damaged = {
    ["bad.rdb"] = "RDB checksum does not match", ["trunc.rdb"] = "no EOF opcode",
    ["badcrc.xbs"] = "CRC%-32 of its payload", ["trunc.xbs"] = "ends inside chunk",
    ["badcrc.gz"] = "incorrect data check", ["trunc.gz"] = "ends inside member",
    ["garbage.gz"] = "member 3",
  }
  for name, msg in pairs(damaged) do
    it("does not hold for " .. name, function()
      local r = client:verify_file(dir .. "/" .. name)
      assert.is_false(r.ok)
      assert.are.equal("integrity", r.err.kind)
      assert.matches(msg, r.err.message)
    end)
  end

  it("checks nothing in a file of no known format, and strict says so", function()
    local r = client:verify_file(dir .. "/plain.txt")
    assert.is_true(r.ok)
    assert.are.same({}, r.verified)
    r = client:verify_file(dir .. "/plain.txt", { strict = true })
    assert.is_false(r.ok)
  end)

  it("hcdl verify -r: one line per file, exit 1 when any does not hold", function()
    local hcdl_verify = ("cd %s && HCDL_LUA=%s bin/hcdl verify "):format(shell.q(helpers.root), helpers.LUA)
    local _, out, status = process.run(hcdl_verify .. "-r " .. shell.q(dir))
    assert.are.equal(1, status, out)
    assert.matches("ok    [^\n]*/good%.rdb  rdb\n", out)
    assert.matches("FAIL  [^\n]*/badcrc%.gz  ", out)
    local lines = select(2, out:gsub("\n", ""))
    assert.are.equal(13, lines, out) -- the 13 sample files
    local ok
    ok, out = process.run(hcdl_verify .. shell.q(dir .. "/good.gz") .. " " .. shell.q(dir .. "/good.xbs"))
    assert.is_true(ok, out)
    assert.matches("\n$", out) -- a line per file
  end)
end)

describe("downloads verify", function()
  local emu, client, dir

  local fx = fixture.emulator{ dir = "made" }
  setup(function() emu, client = fx:start() end)
  teardown(function() fx:stop() end)
  before_each(function() dir = fx:reset() end)

  local function object(spec)
    spec.ttl = spec.ttl or 3600
    return emu:object(spec)
  end

  local expected_md5 = helpers.expected_md5

  for _, c in ipairs{ 1, 4 } do
    -- 64 KiB parts: 81 of them, so parts are digested in lanes while the
    -- download goes on (src/hasher.c), not only at its end
    for _, case in ipairs{ { 3 * MIB + 5, MIB }, { 5 * MIB / 2, 512 * 1024 }, { 6 * MIB + 1, 5 * MIB },
      { 5 * MIB + 3, 65536 } } do
      local size, p = case[1], case[2]
      it(("a multipart ETag with %d-byte parts over %d connection(s)"):format(p, c), function()
        local name = ("mp%d_%d.bin"):format(p, c)
        local obj = object{ name = name, size = size, part_size = p }
        assert.matches("%-%d+\"$", obj.etag)
        local r = assert(client:download(obj.url, dir .. "/" .. name, { connections = c }))
        assert.are.same({ "size", "etag-multipart:" .. p }, r.verified)
        assert.are.equal(p, r.part_size)
        assert.are.equal(expected_md5(name, size), core.md5_file(dir .. "/" .. name))
      end)
    end

    it(("an unusual part size over %d connection(s): kept, and said not verified by its ETag"):format(c), function()
      local obj = object{ name = "odd.bin", size = 3 * MIB, part_size = 700000 }
      local r = assert(client:download(obj.url, dir .. "/odd.bin", { connections = c }))
      assert.are.same({ "size" }, r.verified)
      assert.are.same({ "etag-multipart" }, r.unverified)
      assert.is_nil(r.part_size)
      local r2, err = client:download(obj.url, dir .. "/odd2.bin", { connections = c, verify = "strict" })
      assert.is_nil(r2)
      assert.are.equal("integrity", err.kind)
      assert.matches("strict", err.message)
      assert.is_false(exists(dir .. "/odd2.bin"))
      assert.is_false(exists(dir .. "/odd2.bin.part"))
    end)

    -- A damaged byte at a seeded place: the check that must catch it says
    -- so, and nothing is left under the name or as a .part.
    for _, case in ipairs{
      -- 49 parts of 64 KiB: the damaged one may be digested mid-download
      { what = "a multipart", name = "dmg.bin", size = 3 * MIB + 77, says = "multipart ETag",
        at = function(size) return SEED % size end,
        object = { part_size = SEED % 2 == 0 and MIB or 65536 } },
      { what = "a CRC-64", name = "crcbad.bin", size = 4 * MIB, says = "CRC%-64",
        at = function(size) return (SEED * 7919) % size end,
        object = { part_size = 700000, crc64 = "x-obs-hash-crc64ecma" } },
    } do
      it(("a damaged byte in %s object over %d connection(s) never ends under its name (seed %d)")
        :format(case.what, c, SEED), function()
        local at = case.at(case.size)
        local spec = { name = case.name, size = case.size, damage = at }
        for k, v in pairs(case.object) do spec[k] = v end
        local obj = object(spec)
        local r, err = client:download(obj.url, dir .. "/" .. case.name, { connections = c })
        assert.is_nil(r, "damage at " .. at)
        assert.are.equal("integrity", err.kind)
        assert.matches(case.says, err.message)
        assert.is_false(exists(dir .. "/" .. case.name))
        assert.is_false(exists(dir .. "/" .. case.name .. ".part"))
      end)
    end

    for _, spelling in ipairs{ "x-obs-hash-crc64ecma", "x-obs-checksum-crc64ecma", "x-amz-checksum-crc64ecma",
      "x-obs-meta-crc64ecma" } do
      it(("checks %s over %d connection(s)"):format(spelling, c), function()
        local obj = object{ name = "crc.bin", size = 4 * MIB + 3, part_size = 700000, crc64 = spelling }
        local r = assert(client:download(obj.url, dir .. "/crc.bin", { connections = c, verify = "strict" }))
        assert.are.same({ "size", "crc64" }, r.verified)
        assert.are.same({ "etag-multipart" }, r.unverified)
      end)
    end
  end

  it("a plain MD5 ETag and a CRC-64 are both checked and listed in order", function()
    local obj = object{ name = "both.bin", size = 2 * MIB, crc64 = "x-obs-hash-crc64ecma" }
    local r = assert(client:download(obj.url, dir .. "/both.bin"))
    assert.are.same({ "size", "md5", "crc64" }, r.verified)
  end)

  it("a resumed stream checks the bytes kept on disk too (CRC-64 and multipart)", function()
    local size = 3 * MIB
    local obj = object{ name = "res.bin", size = size, part_size = MIB, crc64 = "x-obs-checksum-crc64ecma",
      version_id = "v1" }
    emu:fault{ target = "store", kind = "drop_after", bytes = 1234567, count = 1 }
    assert.is_nil(client:download(obj.url, dir .. "/res.bin", { retries = 0 }))
    assert.are.equal(1234567, core.file_size(dir .. "/res.bin.part"))
    local r = assert(client:download(obj.url, dir .. "/res.bin"))
    assert.is_true(r.resumed)
    assert.are.same({ "size", "etag-multipart:" .. MIB, "crc64" }, r.verified)
    local reqs = emu:requests("store")
    assert.are.equal("bytes=1234567-", reqs[#reqs].range)
  end)

  it("a resume whose answer has another version id starts over", function()
    local size = 2 * MIB
    local obj = object{ name = "ver.bin", size = size, part_size = MIB, version_id = "v1" }
    -- slow enough that the validators are recorded (after a second) before the drop
    emu:fault{ target = "store", kind = "drop_after", bytes = 700000, count = 1 }
    emu:fault{ target = "store", kind = "throttle", rate = 400000, count = 1 }
    assert.is_nil(client:download(obj.url, dir .. "/ver.bin", { retries = 0 }))
    assert.matches("\nversion%-id v1\n", helpers.read_file(dir .. "/ver.bin.part.state"))
    object{ name = "ver.bin", size = size, part_size = MIB, version_id = "v2" } -- same key, same ETag
    local r = assert(client:download(obj.url, dir .. "/ver.bin"))
    assert.is_falsy(r.resumed)
    local reqs = emu:requests("store")
    assert.are.equal("bytes=700000-", reqs[#reqs - 1].range)
    assert.are_not.equal("string", type(reqs[#reqs].range)) -- the whole object again
    assert.are.same({ "size", "etag-multipart:" .. MIB }, r.verified)
  end)

  it("a stream to a sink is checked as it goes", function()
    local obj = object{ name = "sink.bin", size = MIB + 1, part_size = 262144, crc64 = "x-amz-checksum-crc64ecma" }
    local n = 0
    local r = assert(client:download(obj.url, function(chunk) n = n + #chunk end))
    assert.are.equal(MIB + 1, n)
    assert.are.same({ "size", "etag-multipart:262144", "crc64" }, r.verified)
    obj = object{ name = "sinkbad.bin", size = MIB, crc64 = "x-obs-hash-crc64ecma", part_size = 700000,
      damage = 5 }
    local r2, err = client:download(obj.url, function() end)
    assert.is_nil(r2)
    assert.are.equal("integrity", err.kind)
  end)

  it("verify = false checks the size only; strict fails a file only its size proves", function()
    local obj = object{ name = "nov.bin", size = 100000 }
    local r = assert(client:download(obj.url, dir .. "/nov.bin", { verify = false }))
    assert.are.same({ "size" }, r.verified)
    local _, err = client:download(obj.url, dir .. "/x.bin", { verify = "maybe" })
    assert.are.equal("input", err.kind)
  end)

  it("the directory record a download writes lets verify_file re-check every digest", function()
    local obj = object{ name = "own.bin", size = 2 * MIB + 9, part_size = MIB, crc64 = "x-obs-hash-crc64ecma" }
    assert(client:download(obj.url, dir .. "/own.bin", { connections = 4 }))
    local v = client:verify_file(dir .. "/own.bin")
    assert.is_true(v.ok, tostring(v.err))
    assert.are.same({ "size", "etag-multipart:" .. MIB, "crc64" }, v.verified)
    local b = shell.read(dir .. "/own.bin"):byte(2 * MIB + 1)
    shell.patch(dir .. "/own.bin", 2 * MIB, string.char((b + 1) % 256)) -- one byte changed on disk
    v = client:verify_file(dir .. "/own.bin")
    assert.is_false(v.ok)
    assert.are.equal("integrity", v.err.kind)
  end)

  it("client:verify_file re-checks against the directory record", function()
    local obj = object{ name = "rec.bin", size = 2 * MIB, part_size = MIB, crc64 = "x-obs-hash-crc64ecma" }
    local r = assert(client:download(obj.url, dir .. "/rec.bin"))
    local crc = assert(emu:requests("store")[1])
    local facts = ('{"hcdl_record":1,"files":{"rec.bin":{"size":"%d","etag":%s,"part_size":"%d","verified":["size"]}}}')
      :format(2 * MIB, ("%q"):format(obj.etag), MIB)
    shell.write(dir .. "/.hcdl-record.json", facts)
    local v = client:verify_file(dir .. "/rec.bin")
    assert.is_true(v.ok, tostring(v.err))
    assert.are.same({ "size", "etag-multipart:" .. MIB }, v.verified)
    assert.truthy(r and crc)
    -- one byte changed on disk: the record's multipart ETag catches it
    shell.patch(dir .. "/rec.bin", 1500000, "\0\0\0")
    v = client:verify_file(dir .. "/rec.bin")
    assert.is_false(v.ok)
    assert.are.equal("integrity", v.err.kind)
  end)
end)
