-- Backups checked inside: the emulator serves real RDB (written by
-- redis-server), xbstream and gzip files, good ones and corrupted ones
-- (tests/emulator/README.md, "Backup contents").  hcdl must put every good
-- file under its final name, saying it checked the format, and the
-- independent checkers must accept it: redis-check-rdb (Debian redis-tools),
-- gzip -t, and tests/support/xbstream_check.py (written from the format's
-- description, not from hcdl's code).  A corrupted file whose bytes match
-- its ETag (so only the format can tell) must never end under its final
-- name, and hcdl's error is an "integrity" one; the independent checker
-- rejects the same bytes.
local core = require "hcdl.core"
local fixture = require "tests.support.fixture"
local helpers = require "tests.support.helpers"
local shell = require "tests.support.shell"

local q, sh = shell.q, shell.ok

-- The independent judge of a file of `kind`: accepted?, what it said.
local function judge(kind, path)
  local cmd
  if kind == "rdb" then
    cmd = "redis-check-rdb " .. q(path)
  elseif kind == "gzip" then
    cmd = "gzip -t " .. q(path)
  else
    cmd = helpers.PY .. " " .. q(helpers.root .. "/tests/support/xbstream_check.py") .. " " .. q(path)
  end
  return shell.run(cmd)
end

local function has(list, value)
  for _, v in ipairs(list or {}) do if v == value then return true end end
  return false
end

local function listing(list) return table.concat(list or {}, ",") end

local EXT = { rdb = ".rdb", xbstream = ".qp", gzip = ".gz" }

describe("backup contents", function()
  local emu, client, dir, contents

  local fx = fixture.emulator{ dir = "made" }
  setup(function()
    emu, client = fx:start()
    contents = emu:ctl("GET", "/contents").contents
  end)
  teardown(function() fx:stop() end)
  before_each(function() dir = fx:reset() end)

  -- The served bytes as they are, fetched without hcdl, into `path`.
  local function raw(url, path)
    local res = assert(emu.session:perform{ method = "GET", url = url })
    assert.are.equal(200, res.status)
    shell.write(path, res.body)
  end

  -- Nothing of a failed file looks finished: no file under its final name.
  local function assert_absent(name)
    assert.is_false(core.file_size(dir .. "/" .. name), name .. " ended under its final name")
  end

  local function assert_good(r, err, c, name)
    assert(r, ("%s: %s"):format(c.content, tostring(err)))
    local path = dir .. "/" .. name
    assert.are.equal(c.size, core.file_size(path), c.content)
    assert.is_true(has(r.verified, "md5"), c.content .. ": verified = " .. listing(r.verified))
    if c.content ~= "rdb-nochecksum" then
      assert.is_true(has(r.verified, c.kind), c.content .. ": verified = " .. listing(r.verified))
    end
    local ok, said = judge(c.kind, path)
    assert.is_true(ok, c.content .. ": the independent checker refuses hcdl's file: " .. said)
  end

  local function assert_refused(r, err, c, name, url)
    assert.is_nil(r, c.content .. ": hcdl accepted a corrupted file")
    assert.are.equal("integrity", err.kind, c.content .. ": " .. tostring(err))
    assert_absent(name)
    -- the same bytes, fetched without hcdl: the independent checker agrees
    local copy = dir .. "/raw-" .. name
    raw(url, copy)
    local ok, said = judge(c.kind, copy)
    assert.is_false(ok, c.content .. ": the independent checker accepts it: " .. said)
  end

  it("serves every kind, each with good and corrupted copies", function()
    local seen = {}
    for _, c in ipairs(contents) do
      seen[c.kind .. (c.valid and "+" or "-")] = true
    end
    for _, k in ipairs{ "rdb+", "rdb-", "xbstream+", "xbstream-", "gzip+", "gzip-" } do
      assert.is_true(seen[k], k)
    end
  end)

  for _, kind in ipairs{ "rdb", "xbstream", "gzip" } do
    it(kind .. ": good files end under their names, checked; corrupted ones never do", function()
      local n = 0
      for _, c in ipairs(contents) do
        if c.kind == kind then
          n = n + 1
          local name = c.content:gsub("[^%w]", "-") .. EXT[kind]
          local obj = emu:object{ name = name, content = c.content }
          local r, err = client:download(obj.url, dir .. "/" .. name, { retries = 0 })
          if c.valid then
            assert_good(r, err, c, name)
          else
            assert_refused(r, err, c, name, obj.url)
          end
        end
      end
      assert.is_true(n >= 3)
    end)
  end

  it("recognises a format by its first bytes, not by the file's name", function()
    local good = emu:object{ name = "dump.bin", content = "rdb" }
    local r = assert(client:download(good.url, dir .. "/dump.bin"))
    assert.is_true(has(r.verified, "rdb"), listing(r.verified))
    local bad = emu:object{ name = "notes.txt", content = "xbstream-corrupt-payload" }
    local r2, err = client:download(bad.url, dir .. "/notes.txt", { retries = 0 })
    assert.is_nil(r2)
    assert.are.equal("integrity", err.kind)
    assert_absent("notes.txt")
  end)

  it("checks the whole file over 4 connections and across a resume", function()
    for _, c in ipairs{ { content = "xbstream", kind = "xbstream", valid = true },
                        { content = "rdb-corrupt", kind = "rdb", valid = false },
                        { content = "gzip-corrupt-crc", kind = "gzip", valid = false } } do
      local name = "multi-" .. c.content .. EXT[c.kind]
      local obj = emu:object{ name = name, content = c.content }
      c.size = obj.size
      local r, err = client:download(obj.url, dir .. "/" .. name, { connections = 4, retries = 0 })
      if c.valid then assert_good(r, err, c, name) else assert_refused(r, err, c, name, obj.url) end
    end
    -- the corrupted byte of rdb-corrupt is mid-file: the first attempt drops
    -- after it, so it lies in the resumed prefix that hcdl must read back
    local obj = emu:object{ name = "resumed.rdb", content = "rdb-corrupt" }
    emu:fault{ target = "store", kind = "drop_after", bytes = math.floor(obj.size * 3 / 4), count = 1 }
    local r, err = client:download(obj.url, dir .. "/resumed.rdb", { retries = 2, connections = 1 })
    assert.is_nil(r, "a corrupted RDB was accepted after a resume")
    assert.are.equal("integrity", err.kind, tostring(err))
    assert_absent("resumed.rdb")
    local ranges = {}
    for _, req in ipairs(emu:requests("store")) do ranges[#ranges + 1] = tostring(req.range) end
    assert.is_true(#ranges >= 2, "no resume happened: " .. table.concat(ranges, " "))
  end)

  it("downloads the services' backups: good by default, refused when the seed's copies are corrupted", function()
    local seed = emu.seed
    local function fetch_all()
      local rds = assert(client:backup_files{ service = "rds", backup_id = seed.rds_backup_id })
      local dcs = assert(client:backup_files{ service = "dcs", instance_id = seed.dcs_instance_id,
        backup_id = seed.dcs_backup_id })
      local entries = {}
      for _, f in ipairs(rds) do entries[#entries + 1] = f end
      for _, f in ipairs(dcs) do entries[#entries + 1] = f end
      return entries, client:download_all(entries, dir, { retries = 0 })
    end
    local entries, report = fetch_all()
    assert.is_true(report.ok)
    assert.are.equal(5, #entries)                   -- 2 .qp + 3 .rdb
    for _, f in ipairs(report.files) do
      local kind = f.path:match("%.rdb$") and "rdb" or "xbstream"
      assert.is_true(has(f.verified, kind), f.path .. ": verified = " .. listing(f.verified))
      local ok, said = judge(kind, f.path)
      assert.is_true(ok, f.path .. ": " .. said)
    end
    sh("rm -rf " .. q(dir) .. "/*")
    emu:set{ rdb_variant = "corrupt", xbstream_variant = "corrupt-crc" }
    local _, bad, err = fetch_all()
    assert.is_false(bad.ok)
    assert.are.equal(5, #bad.failed)
    assert.are.equal("integrity", err.kind)
    for _, f in ipairs(bad.failed) do
      assert.are.equal("integrity", f.err.kind, tostring(f.err))
      assert_absent(f.name)
    end
  end)

  it("the PostgreSQL backup (.tar.gz) is checked as gzip", function()
    local seed = emu.seed
    local backups = assert(client:list_backups{ instance_id = seed.pg_instance_id })
    local files = assert(client:show_backup_download_link{ backup_id = backups.backups[1].id }).files
    local r = assert(client:download(files[1], dir))
    assert.is_true(has(r.verified, "gzip"), listing(r.verified))
    assert.is_true(judge("gzip", r.path))
    emu:set{ gzip_variant = "corrupt-isize" }
    local r2, err = client:download(files[1], dir .. "/again.tar.gz", { retries = 0 })
    assert.is_nil(r2)
    assert.are.equal("integrity", err.kind)
    assert_absent("again.tar.gz")
  end)
end)
