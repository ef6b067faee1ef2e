-- The fault matrix of issue 9: downloads that cannot lie.  A hostile server
-- of our own (tests/support/hostile.py) changes objects between requests,
-- ignores Range and If-Range, lies about totals, trickles, stalls, drops,
-- and echoes secrets; the filesystem holds symlinks, hard links and files
-- hcdl did not create.  One `it` per case of the contract in
-- /work/notes/faults.md (numbers in the describe names); results on main
-- are in tests/FAULT_MATRIX.md.
local hcdl = require "hcdl"
local core = require "hcdl.core"
local hostile = require "tests.support.hostile"
local helpers = require "tests.support.helpers"
local process = require "tests.support.process"
local shell = require "tests.support.shell"

local PID = "0123456789abcdef0123456789abcdef"
local AK = "HOSTILEAKEXAMPLE0001"
local SK = "hostileSecretKey-Zq81mXv03pLw77TnRb5cKd"
local SECURITY_TOKEN = "hostileSecurityToken-uV4wQ9eZ2rN8sL1kJ6"
local TOKEN = "hostileIamTokenGiven-MIIEXAMPLE4kQ2w9ZxPt"
local IAM_PASSWORD = "hostile-Passw0rd!-7bQzK2"
local IAM_TOKEN = "hostileIamTokenIssued-MIIFRESH8uJ3nVc5"
local BACKUP_ID = "f1e2d3c4b5a6478899aabbccddeeff00br01"
local PG_INSTANCE = "a1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d6in03"
local GAUSS_INSTANCE = "61a4ea66210545909d74a05c27a7179ein07"

local q, sh, capture, write = shell.q, shell.ok, shell.capture, shell.write

-- lstat: { mode = "600", nlink = 1, mtime = "1600000000.000000000", type = "regular file" }
local function lstat(path)
  local out = capture("stat -c '%a %h %.9Y %F' " .. q(path) .. " 2>/dev/null")
  local mode, nlink, mtime, kind = out:match("^(%d+) (%d+) (%S+) ([^\n]+)")
  if not mode then return nil end
  return { mode = mode, nlink = tonumber(nlink), mtime = mtime, type = kind }
end

local function lexists(path) return lstat(path) ~= nil end

local function readlink(path) return (capture("readlink " .. q(path)):gsub("\n$", "")) end

local function md5(path) return core.md5_file(path) end

-- The API paths the client will call on the hostile server.
local API = {
  show_backup_download_link = "/v3/" .. PID .. "/backup-files",
  download_errorlog = "/v3/" .. PID .. "/instances/" .. PG_INSTANCE .. "/errorlog-download",
  list_audit_log_download_link = "/v3/" .. PID .. "/instance/" .. GAUSS_INSTANCE .. "/auditlog/download-link",
  iam = "/v3/auth/tokens",
}

local function store_xml(code, message)
  return ('<?xml version="1.0" encoding="UTF-8"?><Error><Code>%s</Code><Message>%s</Message>'
    .. '<RequestId>0000018A2B3C4D5E</RequestId></Error>'):format(code, message)
end

-- Every string in err (keys, values, nested tables, tostring) checked for
-- each secret; returns the list of leaks ("where: which secret").
local function leaks(value, secrets)
  local found, seen = {}, {}
  local function check(s, where)
    for _, secret in ipairs(secrets) do
      if s:find(secret[2], 1, true) then found[#found + 1] = where .. ": " .. secret[1] end
    end
  end
  local function walk(v, where)
    if type(v) == "string" then
      check(v, where)
    elseif type(v) == "table" and not seen[v] then
      seen[v] = true
      for k, x in pairs(v) do
        if type(k) == "string" then check(k, where .. "[key]") end
        walk(x, where .. "." .. tostring(k))
      end
    end
  end
  walk(value, "err")
  local ok, text = pcall(tostring, value)
  if ok and type(text) == "string" then check(text, "tostring(err)") end
  return found
end

-- An io error that names its path: kind, err.path and the path in the message.
local function assert_io(err, path)
  assert.is_table(err, "expected an error")
  assert.are.equal("io", err.kind, tostring(err))
  if path then assert.are.equal(path, err.path, tostring(err)) end
  assert.is_string(err.path, "err.path is not set: " .. tostring(err))
  assert.is_string(err.message)
  assert.is_truthy(err.message:find(err.path, 1, true), "the message does not name " .. tostring(err.path))
end

describe("the hostile test server itself", function()
  local h

  setup(function() h = hostile.start() end)
  teardown(function() if h then h:stop() end end)
  before_each(function() h:reset() end)

  local function curl(args)
    return capture("env -u LD_PRELOAD curl -s --path-as-is -D - -o /dev/null " .. args)
  end

  it("logs the raw request-target byte for byte", function()
    h:object{ path = "/b/x/../y", size = 10 }
    curl(q(h.endpoint .. "/b/x/../y?a=1%2C2&b=%7E+c"))
    local reqs = h:requests()
    assert.are.equal(1, #reqs)
    assert.are.equal("/b/x/../y?a=1%2C2&b=%7E+c", reqs[1].target)
    assert.are.equal(200, reqs[1].status)
  end)

  it("honours Range and If-Range, and can be told to ignore them", function()
    local obj = h:object{ path = "/r.bin", size = 1000 }
    assert.matches("HTTP/1.1 206.-Content%-Range: bytes 10%-999/1000",
      curl("-H 'Range: bytes=10-' -H " .. q("If-Range: " .. obj.etag) .. " " .. obj.url))
    assert.matches("HTTP/1.1 200", curl("-H 'Range: bytes=10-' -H 'If-Range: \"other\"' " .. obj.url))
    assert.matches("HTTP/1.1 416.-Content%-Range: bytes %*/1000", curl("-H 'Range: bytes=1000-' " .. obj.url))
    h:script("/r.bin", { { ignore_if_range = true }, { ignore_range = true }, { status_416 = true, range_total = 0 } })
    assert.matches("HTTP/1.1 206", curl("-H 'Range: bytes=10-' -H 'If-Range: \"other\"' " .. obj.url))
    assert.matches("HTTP/1.1 200", curl("-H 'Range: bytes=10-' " .. obj.url))
    assert.matches("HTTP/1.1 416.-bytes %*/0", curl(obj.url))
  end)

  it("changes an object between requests and drops after N bytes", function()
    local v1 = h:object{ path = "/c.bin", size = 5000, seed = "v1" }
    h:script("/c.bin", { { drop_after = 100 }, { set_object = { seed = "v2", size = 6000 } } })
    local s = assert(core.session{ timeout = 10 })
    local _, err = s:perform{ method = "GET", url = v1.url }
    assert.is_table(err) -- a short body is an error for libcurl
    local res = assert(s:perform{ method = "GET", url = v1.url })
    s:close()
    assert.are.equal(6000, #res.body)
    assert.are_not.equal(v1.etag, res.headers.etag)
    assert.are.equal(100, h:requests("/c.bin")[1].bytes_sent)
  end)

  it("echoes the query, a query parameter and a header into canned answers", function()
    h:script("/e", nil, { status = 403, body = "<Error><Code>{{param:Signature}}</Code><Message>{{query}} {{header:authorization}}</Message></Error>" })
    local s = assert(core.session{ timeout = 10 })
    local res = assert(s:perform{ method = "GET", url = h.endpoint .. "/e?x=1&Signature=ab%2Bc",
      headers = { Authorization = "Bearer zz" } })
    s:close()
    assert.are.equal(403, res.status)
    assert.are.equal("<Error><Code>ab%2Bc</Code><Message>x=1&Signature=ab%2Bc Bearer zz</Message></Error>", res.body)
  end)
end)

describe("fault matrix (issue 9)", function()
  local h, client, dir

  local function new_client(over)
    local c = { project_id = PID, ak = AK, sk = SK, retry_base = 0.05,
      endpoints = { gaussdb = h.endpoint, rds = h.endpoint, dcs = h.endpoint, iam = h.endpoint } }
    for k, v in pairs(over or {}) do
      if v == false then c[k] = nil else c[k] = v end
    end
    return assert(hcdl.new(c))
  end

  setup(function()
    h = hostile.start()
    client = new_client()
  end)
  teardown(function()
    if h then h:stop() end
    shell.remove(dir)
  end)
  before_each(function()
    h:reset()
    dir = shell.renew_dir(dir)
  end)

  -- The MD5 of the bytes hostile serves for (seed, size), learnt from a
  -- scratch definition (random.Random(seed) is deterministic).
  local function md5_of(seed, size)
    return h:object{ path = "/scratch/" .. seed .. "/" .. size, seed = seed, size = size }.md5
  end

  -- A victim file with known bytes and an old mtime.
  local function victim()
    local v = dir .. "/victim.txt"
    write(v, "precious bytes that are not hcdl's")
    assert(sh("touch -d @1600000000 " .. q(v)))
    return v
  end

  local function assert_victim_intact(v)
    assert.are.equal("precious bytes that are not hcdl's", helpers.read_file(v))
    assert.are.equal("1600000000.000000000", lstat(v).mtime)
  end

  describe("1. temporary files hcdl does not own", function()
    it("a symlink at <dest>.part to a victim: io error on the .part, victim and symlink untouched", function()
      local obj = h:object{ path = "/own/a.bin", size = 5000 }
      local v, dest = victim(), dir .. "/a.bin"
      assert(sh("ln -s " .. q(v) .. " " .. q(dest .. ".part")))
      local r, err = client:download(obj.url, dest)
      assert.is_nil(r)
      assert_io(err, dest .. ".part")
      assert_victim_intact(v)
      assert.is_false(lexists(dest))
      assert.are.equal("symbolic link", lstat(dest .. ".part").type)
      assert.are.equal(v, readlink(dest .. ".part"))
    end)

    it("a dangling symlink at <dest>.part: io error, its target is not created", function()
      local obj = h:object{ path = "/own/b.bin", size = 5000 }
      local dest, target = dir .. "/b.bin", dir .. "/created-through-the-link"
      assert(sh("ln -s " .. q(target) .. " " .. q(dest .. ".part")))
      local r, err = client:download(obj.url, dest)
      assert.is_nil(r)
      assert_io(err, dest .. ".part")
      assert.is_false(lexists(target))
      assert.is_false(lexists(dest))
      assert.are.equal("symbolic link", lstat(dest .. ".part").type)
    end)

    -- how many connections, in words; the object's name and size
    for _, case in ipairs{ { 1, "one connection", "c.bin", 5000 }, { 4, "4 connections", "d.bin", 4 * 1024 * 1024 + 11 } } do
      local connections, words, name, size = case[1], case[2], case[3], case[4]
      it("a symlink at <dest>.part.state to a victim (" .. words .. "): io error on the state file", function()
        local obj = h:object{ path = "/own/" .. name, size = size }
        local v, dest = victim(), dir .. "/" .. name
        assert(sh("ln -s " .. q(v) .. " " .. q(dest .. ".part.state")))
        local r, err = client:download(obj.url, dest, { connections = connections })
        assert.is_nil(r)
        assert_io(err, dest .. ".part.state")
        assert_victim_intact(v)
        assert.is_false(lexists(dest))
        assert.are.equal(v, readlink(dest .. ".part.state"))
      end)
    end

    it("a hard link at <dest>.part (nlink > 1): io error, the other name's bytes untouched", function()
      local obj = h:object{ path = "/own/e.bin", size = 5000 }
      local v, dest = victim(), dir .. "/e.bin"
      assert(sh("ln " .. q(v) .. " " .. q(dest .. ".part")))
      local r, err = client:download(obj.url, dest)
      assert.is_nil(r)
      assert_io(err, dest .. ".part")
      assert_victim_intact(v)
      assert.are.equal(2, lstat(v).nlink)
      assert.is_false(lexists(dest))
    end)

    it("a regular <dest>.part that hcdl did not create (no .part.state): io error, left as it was", function()
      local obj = h:object{ path = "/own/f.bin", size = 5000 }
      local dest = dir .. "/f.bin"
      write(dest .. ".part", "someone else's work in progress")
      assert(sh("touch -d @1600000000 " .. q(dest .. ".part")))
      local r, err = client:download(obj.url, dest)
      assert.is_nil(r)
      assert_io(err, dest .. ".part")
      assert.are.equal("someone else's work in progress", helpers.read_file(dest .. ".part"))
      assert.are.equal("1600000000.000000000", lstat(dest .. ".part").mtime)
      assert.is_false(lexists(dest))
    end)
  end)

  describe("2. names that collide with temporary names", function()
    it("download_all with a and a.part: a gets a's exact bytes, a.part is an input error", function()
      local a = h:object{ path = "/n/a", size = 3000, seed = "a" }
      local ap = h:object{ path = "/n/a.part", size = 4000, seed = "a.part" }
      local entries = { { name = "a", download_link = a.url }, { name = "a.part", download_link = ap.url } }
      local report = client:download_all(entries, dir)
      assert.is_table(report)
      assert.is_true(report.files[1].ok, tostring(report.files[1].err))
      assert.are.equal(a.md5, md5(dir .. "/a"))
      assert.is_false(report.files[2].ok)
      assert.are.equal("input", report.files[2].err.kind)
      assert.are.equal("name", report.files[2].err.field)
      assert.are.equal(entries[1], report.files[1].entry)
      assert.are.equal(entries[2], report.files[2].entry)
      assert.is_false(lexists(dir .. "/a.part"))
    end)

    it("download_all with a.part.state, a.part, a (in that order): only a is downloaded, order kept", function()
      local a = h:object{ path = "/n/a", size = 3000, seed = "a" }
      local ap = h:object{ path = "/n/a.part", size = 4000, seed = "a.part" }
      local ast = h:object{ path = "/n/a.part.state", size = 50, seed = "a.part.state" }
      local entries = { { name = "a.part.state", download_link = ast.url },
        { name = "a.part", download_link = ap.url }, { name = "a", download_link = a.url } }
      local report = client:download_all(entries, dir)
      assert.is_table(report)
      assert.is_true(report.files[3].ok, tostring(report.files[3].err))
      assert.are.equal(a.md5, md5(dir .. "/a"))
      for i = 1, 2 do
        assert.is_false(report.files[i].ok, entries[i].name)
        assert.are.equal("input", report.files[i].err.kind)
        assert.are.equal("name", report.files[i].err.field)
        assert.are.equal(entries[i], report.files[i].entry)
      end
      assert.is_false(lexists(dir .. "/a.part"))
      assert.is_false(lexists(dir .. "/a.part.state"))
    end)

    it("a name of 241 bytes is refused before any request; 240 bytes is fine", function()
      local obj = h:object{ path = "/n/long", size = 100 }
      local r, err = client:download({ name = string.rep("n", 241), download_link = obj.url }, dir)
      assert.is_nil(r)
      assert.are.equal("input", err.kind)
      assert.are.equal("name", err.field)
      assert.are.equal(0, #h:requests())
      local ok, oerr = client:download({ name = string.rep("m", 240), download_link = obj.url }, dir)
      assert.is_table(ok, tostring(oerr))
      assert.are.equal(obj.md5, md5(dir .. "/" .. string.rep("m", 240)))
    end)
  end)

  describe("3. a directory where the file should go", function()
    it("download: an io error naming the directory, never skipped", function()
      local obj = h:object{ path = "/d/d.bin", size = 1000 }
      assert(sh("mkdir " .. q(dir .. "/d.bin")))
      local r, err = client:download({ name = "d.bin", download_link = obj.url }, dir)
      assert.is_nil(r)
      assert_io(err, dir .. "/d.bin")
    end)

    it("download_all: that file fails with an io error naming it, never skipped or ok", function()
      local obj = h:object{ path = "/d/d.bin", size = 1000 }
      assert(sh("mkdir " .. q(dir .. "/d.bin")))
      local report = client:download_all({ { name = "d.bin", download_link = obj.url } }, dir)
      assert.is_table(report)
      local f = report.files[1]
      assert.is_false(f.ok)
      assert.is_falsy(f.skipped)
      assert.are.equal(0, report.skipped)
      assert_io(f.err, dir .. "/d.bin")
    end)
  end)

  describe("4. file modes", function()
    it("a downloaded file is 0600 by default", function()
      local obj = h:object{ path = "/m/a.bin", size = 1000 }
      assert.is_table(client:download(obj.url, dir .. "/a.bin"))
      assert.are.equal("600", lstat(dir .. "/a.bin").mode)
    end)

    it("the .part (and its state) of an interrupted download are 0600", function()
      local obj = h:object{ path = "/m/b.bin", size = 100000 }
      h:script("/m/b.bin", { { drop_after = 40000 } })
      assert.is_nil(client:download(obj.url, dir .. "/b.bin", { retries = 0 }))
      assert.are.equal("600", (lstat(dir .. "/b.bin.part") or {}).mode)
      local st = lstat(dir .. "/b.bin.part.state")
      if st then assert.are.equal("600", st.mode) end
    end)

    it("opts.mode = tonumber('640', 8) gives exactly 0640, for download and download_all", function()
      local a = h:object{ path = "/m/c.bin", size = 1000 }
      local b = h:object{ path = "/m/d.bin", size = 1000 }
      local r, err = client:download(a.url, dir .. "/c.bin", { mode = tonumber("640", 8) })
      assert.is_table(r, tostring(err))
      assert.are.equal("640", lstat(dir .. "/c.bin").mode)
      local report, rerr = client:download_all({ { name = "d.bin", download_link = b.url } }, dir,
        { mode = tonumber("640", 8) })
      assert.is_table(report, tostring(rerr))
      assert.is_true(report.ok, tostring(rerr))
      assert.are.equal("640", lstat(dir .. "/d.bin").mode)
    end)
  end)

  describe("5. an object that changes between attempts", function()
    local S, N = 300000, 120000

    -- true when request `r` fetches from byte 0 (no Range, or bytes=0-)
    local function from_zero(r)
      local range = r.headers.range
      return range == nil or range:match("^bytes=0%-") ~= nil
    end

    it("the resume carries If-Range with the first answer's ETag", function()
      local obj = h:object{ path = "/v/a.bin", size = S }
      h:script("/v/a.bin", { { drop_after = N } })
      local r, err = client:download(obj.url, dir .. "/a.bin")
      assert.is_table(r, tostring(err))
      local reqs = h:requests("/v/a.bin")
      assert.are.equal(2, #reqs)
      assert.are.equal("bytes=" .. N .. "-", reqs[2].headers.range)
      assert.are.equal(obj.etag, reqs[2].headers["if-range"])
      assert.are.equal(obj.md5, md5(dir .. "/a.bin"))
    end)

    it("the resume carries If-Range with Last-Modified when there is no ETag", function()
      local obj = h:object{ path = "/v/b.bin", size = S, etag = "none" }
      h:script("/v/b.bin", { { drop_after = N } })
      local r, err = client:download(obj.url, dir .. "/b.bin")
      assert.is_table(r, tostring(err))
      local reqs = h:requests("/v/b.bin")
      assert.are.equal(2, #reqs)
      assert.are.equal(obj.last_modified, reqs[2].headers["if-range"])
      assert.are.equal(obj.md5, md5(dir .. "/b.bin"))
    end)

    it("changed object, server honours If-Range: the file is entirely the new object", function()
      local obj = h:object{ path = "/v/c.bin", size = S, seed = "c1" }
      local new_md5 = md5_of("c2", S)
      h:script("/v/c.bin", { { drop_after = N }, { set_object = { seed = "c2", size = S } } })
      local r, err = client:download(obj.url, dir .. "/c.bin")
      assert.is_table(r, tostring(err))
      assert.are.equal(new_md5, md5(dir .. "/c.bin"))
    end)

    it("changed object, server ignores If-Range (206, new ETag): restarts from zero, new object", function()
      local obj = h:object{ path = "/v/d.bin", size = S, seed = "d1" }
      local new_md5 = md5_of("d2", S)
      h:script("/v/d.bin", { { drop_after = N }, { set_object = { seed = "d2", size = S }, ignore_if_range = true } })
      local r, err = client:download(obj.url, dir .. "/d.bin")
      assert.is_table(r, tostring(err))
      assert.are.equal(new_md5, md5(dir .. "/d.bin"))
      local reqs = h:requests("/v/d.bin")
      assert.is_true(#reqs >= 3)
      assert.is_true(from_zero(reqs[3]), "the third request does not start from zero")
    end)

    it("changed object with the same ETag but another Content-Range total: restarts, new object", function()
      local obj = h:object{ path = "/v/e.bin", size = S, seed = "e1", etag = '"fixed-tag"' }
      local new_md5 = md5_of("e2", S + 1000)
      h:script("/v/e.bin", { { drop_after = N },
        { set_object = { seed = "e2", size = S + 1000, etag = '"fixed-tag"' }, ignore_if_range = true } })
      local r, err = client:download(obj.url, dir .. "/e.bin")
      assert.is_table(r, tostring(err))
      assert.are.equal(S + 1000, core.file_size(dir .. "/e.bin"))
      assert.are.equal(new_md5, md5(dir .. "/e.bin"))
    end)

    it("a 416 to a request without Range is never success", function()
      local obj = h:object{ path = "/v/f.bin", size = S, etag = "none" }
      h:script("/v/f.bin", nil, { status_416 = true, range_total = 0 })
      local r, err = client:download(obj.url, dir .. "/f.bin", { deadline = 10, retries = 2 })
      assert.is_nil(r)
      assert.is_table(err)
      assert.is_false(lexists(dir .. "/f.bin"))
    end)

    it("a 416 'you have it all' when the .part cannot be verified (no MD5 ETag): restarts from zero", function()
      local obj = h:object{ path = "/v/g.bin", size = S, etag = "opaque" }
      h:script("/v/g.bin", { { drop_after = N } })
      assert.is_nil(client:download(obj.url, dir .. "/g.bin", { retries = 0 }))
      h:clear()
      h:script("/v/g.bin", { { status_416 = true, range_total = N } })
      local r, err = client:download(obj.url, dir .. "/g.bin")
      assert.is_table(r, tostring(err))
      assert.are.equal(obj.md5, md5(dir .. "/g.bin"))
      local reqs = h:requests("/v/g.bin")
      assert.is_true(#reqs >= 2)
      assert.is_true(from_zero(reqs[#reqs]), "the last request does not start from zero")
    end)

    it("a 416 'you have it all' when the .part does not match the MD5 ETag: restarts from zero", function()
      local obj = h:object{ path = "/v/h.bin", size = S }
      h:script("/v/h.bin", { { drop_after = N } })
      assert.is_nil(client:download(obj.url, dir .. "/h.bin", { retries = 0 }))
      h:clear()
      h:script("/v/h.bin", { { status_416 = true, range_total = N } })
      local r, err = client:download(obj.url, dir .. "/h.bin")
      assert.is_table(r, tostring(err))
      assert.are.equal(obj.md5, md5(dir .. "/h.bin"))
    end)

    it("non-MD5 ETag, changed object, server honours If-Range: no splice", function()
      local obj = h:object{ path = "/v/i.bin", size = S, seed = "i1", etag = "opaque" }
      local new_md5 = md5_of("i2", S)
      h:script("/v/i.bin", { { drop_after = N }, { set_object = { seed = "i2", size = S, etag = "opaque" } } })
      local r, err = client:download(obj.url, dir .. "/i.bin")
      assert.is_table(r, tostring(err))
      assert.are.equal(new_md5, md5(dir .. "/i.bin"))
    end)

    it("non-MD5 ETag, changed object, server ignores If-Range: no splice", function()
      local obj = h:object{ path = "/v/j.bin", size = S, seed = "j1", etag = "opaque" }
      local new_md5 = md5_of("j2", S)
      h:script("/v/j.bin", { { drop_after = N },
        { set_object = { seed = "j2", size = S, etag = "opaque" }, ignore_if_range = true } })
      local r, err = client:download(obj.url, dir .. "/j.bin")
      assert.is_table(r, tostring(err))
      assert.are.equal(new_md5, md5(dir .. "/j.bin"))
    end)
  end)

  describe("6. kill -9 during a 4-connection download", function()
    local script_path

    after_each(function() if script_path then os.remove(script_path) end end)

    it("the next run asks only for what is missing and is byte-exact", function()
      local size = 8 * 1024 * 1024
      local path = "/k/big.bin"
      local obj = h:object{ path = path, size = size }
      h:script(path, nil, { rate = 256 * 1024 }) -- 4 x 256 KiB/s: about 8 s in all
      local dest = dir .. "/big.bin"
      script_path = os.tmpname()
      write(script_path, ([[
local hcdl = require "hcdl"
local c = assert(hcdl.new{ project_id = %q, ak = %q, sk = %q, endpoints = { rds = %q } })
c:download(%q, %q, { connections = 4 })
]]):format(PID, AK, SK, h.endpoint, obj.url, dest))
      local pid = process.start_lua(q(script_path))
      assert.is_number(pid)
      -- wait until about half the object has been sent
      local deadline, sent = core.now() + 30, 0
      repeat
        core.sleep(0.1)
        sent = 0
        for _, r in ipairs(h:requests(path)) do sent = sent + r.bytes_sent end
      until sent >= size / 2 or core.now() > deadline
      sh("kill -9 " .. pid)
      core.sleep(0.3)
      assert.is_true(sent >= size / 2 and sent < size, "the first run did not get half-way: " .. sent)
      h:clear()
      h:script(path, nil, nil) -- full speed now
      local r, err = client:download(obj.url, dest, { connections = 4 })
      assert.is_table(r, tostring(err))
      assert.are.equal(obj.md5, md5(dest))
      local asked = 0
      for _, req in ipairs(h:requests(path)) do asked = asked + hostile.requested(req, size) end
      assert.is_true(asked < 0.75 * size,
        ("the second run asked for %d of %d bytes (%.0f%%)"):format(asked, size, 100 * asked / size))
    end)
  end)

  describe("7. one bad transfer does not fail forever", function()
    it("after an integrity failure the next run against a healthy server succeeds", function()
      local obj = h:object{ path = "/i/a.bin", size = 200000 }
      h:script("/i/a.bin", { { corrupt = true } })
      local r, err = client:download(obj.url, dir .. "/a.bin")
      assert.is_nil(r)
      assert.are.equal("integrity", err.kind)
      r, err = client:download(obj.url, dir .. "/a.bin")
      assert.is_table(r, tostring(err))
      assert.are.equal(obj.md5, md5(dir .. "/a.bin"))
    end)
  end)

  describe("8. deadlines hold during a transfer", function()
    -- name, object size, how the store answers after the queue
    for _, case in ipairs{
      { "trickle", 12, { rate = 1 }, "trickles a byte a second" },
      { "stall", 1000, { stall = 6 }, "stalls after the headers" },
    } do
      local name, size, behaviour, what = case[1], case[2], case[3], case[4]
      it("opts.deadline = 2 holds when the store " .. what, function()
        local path = "/t/" .. name .. ".bin"
        local obj = h:object{ path = path, size = size }
        h:script(path, nil, behaviour)
        local t0 = core.now()
        local r, err = client:download(obj.url, dir .. "/" .. name .. ".bin", { deadline = 2 })
        local took = core.now() - t0
        assert.is_nil(r)
        assert.are.equal("timeout", err and err.kind)
        assert.is_true(took < 3.5, ("returned after %.1f s"):format(took))
      end)
    end

    it("a 503 with Retry-After: 1 is honoured for downloads", function()
      local obj = h:object{ path = "/t/busy.bin", size = 1000 }
      h:script("/t/busy.bin", { { status = 503, headers = { ["Retry-After"] = "1" },
        body = store_xml("ServiceUnavailable", "Please slow down") } })
      local cpu0 = os.clock()
      local r, err = client:download(obj.url, dir .. "/busy.bin")
      local cpu = os.clock() - cpu0
      assert.is_table(r, tostring(err))
      local reqs = h:requests("/t/busy.bin")
      assert.are.equal(2, #reqs)
      assert.is_true(reqs[2].time - reqs[1].time >= 0.95,
        ("the retry came after %.2f s"):format(reqs[2].time - reqs[1].time))
      -- the second of waiting is spent asleep, not polling an idle engine
      -- (os.clock is this process's CPU time, every thread's)
      assert.is_true(cpu < 0.5, ("the wait used %.2f s of CPU"):format(cpu))
    end)

    it("a Retry-After longer than the remaining deadline fails promptly", function()
      local obj = h:object{ path = "/t/later.bin", size = 1000 }
      h:script("/t/later.bin", nil, { status = 503, headers = { ["Retry-After"] = "30" },
        body = store_xml("ServiceUnavailable", "Come back later") })
      local t0 = core.now()
      -- a deadline long enough that backoff alone cannot run into it quickly:
      -- only honouring Retry-After (30 s > 10 s left) fails within a second
      local r, err = client:download(obj.url, dir .. "/later.bin", { deadline = 10 })
      local took = core.now() - t0
      assert.is_nil(r)
      assert.is_table(err)
      assert.is_true(took < 1, ("returned after %.1f s"):format(took))
    end)
  end)

  describe("9. links byte for byte", function()
    local function refused(link)
      local ok, r, err = pcall(client.download, client, { name = "x.bin", download_link = link }, dir)
      assert.is_true(ok, "raised: " .. tostring(r))
      assert.is_nil(r)
      assert.are.equal("input", err and err.kind)
      assert.are.equal(0, #h:requests())
    end

    it("a NUL in a link is an input error and no request is made", function()
      h:object{ path = "/l/a", size = 10 }
      refused(h.endpoint .. "/l/a\0b?x=1")
      refused(h.endpoint .. "/l/a?x=1\0")
    end)

    it("a space in a link is an input error and no request is made", function()
      refused(h.endpoint .. "/l/a b?x=1")
      refused(h.endpoint .. "/l/a?x=1 2")
    end)

    it("a control character in a link is an input error and no request is made", function()
      for _, c in ipairs{ "\1", "\t", "\r", "\n", "\r\nX-Injected: 1", "\27", "\127" } do
        refused(h.endpoint .. "/l/a?x=1" .. c .. "y")
      end
    end)

    it("dot segments are sent as given", function()
      for _, path in ipairs{ "/b/x/../y.bin", "/b/./z.bin", "/b/x/%2E%2E/w.bin" } do
        local obj = h:object{ path = path, size = 100 }
        h:clear()
        local r, err = client:download(obj.url .. "?k=v", dir .. "/dots.bin")
        assert.is_table(r, path .. ": " .. tostring(err))
        os.remove(dir .. "/dots.bin")
        local reqs = h:requests()
        assert.are.equal(path .. "?k=v", reqs[1] and reqs[1].target)
      end
    end)

    it("nothing of the query or the path is re-encoded", function()
      local path = "/q/o%7Ebj%20x.bin"
      local query = "a=1%2C2&b=%7Ex&c=%2B0800&d=1+2&e=~&Signature=ab%2Fc%3D"
      local obj = h:object{ path = path, size = 100 }
      local r, err = client:download(obj.url .. "?" .. query, dir .. "/q.bin")
      assert.is_table(r, tostring(err))
      assert.are.equal(path .. "?" .. query, h:requests()[1].target)
    end)
  end)

  describe("10. service data never makes hcdl raise", function()
    -- an RDS answer listing three files, the middle one with `size` = raw JSON text
    local function rds_answer(size_json)
      local good1 = h:object{ path = "/s/good1.bin", size = 3000, seed = "g1" }
      local bad = h:object{ path = "/s/bad.bin", size = 3000, seed = "b" }
      local good2 = h:object{ path = "/s/good2.bin", size = 3000, seed = "g2" }
      h:script(API.show_backup_download_link, { { status = 200, body = ([[
{"files":[{"name":"good1.bin","size":3,"download_link":"%s"},
{"name":"bad.bin","size":%s,"download_link":"%s"},
{"name":"good2.bin","size":3,"download_link":"%s"}],"bucket":"b"}]]):format(good1.url, size_json, bad.url, good2.url) } })
      return { good1, bad, good2 }
    end

    local function pg_answer(size_json)
      local good1 = h:object{ path = "/s/pg1.log", size = 3000, seed = "p1" }
      local bad = h:object{ path = "/s/pgbad.log", size = 3000, seed = "pb" }
      local good2 = h:object{ path = "/s/pg2.log", size = 3000, seed = "p2" }
      h:script(API.download_errorlog, { { status = 200, body = ([[
{"status":"FINISH","count":3,"list":[{"file_name":"pg1.log","file_size":"3000","file_link":"%s"},
{"file_name":"pgbad.log","file_size":%s,"file_link":"%s"},
{"file_name":"pg2.log","file_size":"3000","file_link":"%s"}]}]]):format(good1.url, size_json, bad.url, good2.url) } })
      return { good1, bad, good2 }
    end

    -- download(bad) -> nil, err; download_all(all three) fails only the bad one
    local function check_entries(files, bad_name, objects)
      local ok, r, err = pcall(client.download, client, files[2], dir)
      assert.is_true(ok, "download raised: " .. tostring(r))
      assert.is_nil(r, "a size that cannot be checked was accepted")
      assert.is_true(core.is_error(err), "no hcdl error: " .. tostring(err))
      assert.is_false(lexists(dir .. "/" .. bad_name))
      local sub = dir .. "/all"
      assert(sh("mkdir " .. q(sub)))
      local ok2, report = pcall(client.download_all, client, files, sub)
      assert.is_true(ok2, "download_all raised: " .. tostring(report))
      assert.is_table(report)
      assert.is_true(report.files[1].ok, tostring(report.files[1].err))
      assert.is_true(report.files[3].ok, tostring(report.files[3].err))
      assert.is_false(report.files[2].ok)
      assert.are.equal(objects[1].md5, md5(sub .. "/" .. files[1].name))
    end

    for _, size in ipairs{ "1.5", "1e300", "-5", "123456789012345678901234567890", "NaN", "Infinity",
                           '"NaN"', '"inf"', '"12abc"', '"-1"' } do
      it("RDS size " .. size .. ": that entry fails, never raises; download_all fails only it", function()
        local objects = rds_answer(size)
        local ok, list, lerr = pcall(client.show_backup_download_link, client, { backup_id = BACKUP_ID })
        assert.is_true(ok, "the list call raised: " .. tostring(list))
        assert.is_table(list, tostring(lerr))
        check_entries(list.files, "bad.bin", objects)
      end)
    end

    for _, size in ipairs{ '"12abc"', '"NaN"', '"1e300"', '"-1"', '"1.5"', '"0x1F"', "12.5", "1e300" } do
      it("PostgreSQL file_size " .. size .. ": that entry fails, never raises; download_all fails only it", function()
        local objects = pg_answer(size)
        local ok, list, lerr = pcall(client.download_errorlog, client, { instance_id = PG_INSTANCE })
        assert.is_true(ok, "the list call raised: " .. tostring(list))
        assert.is_table(list, tostring(lerr))
        local files = list.list
        local okd, r, err = pcall(client.download, client, files[2], dir)
        assert.is_true(okd, "download raised: " .. tostring(r))
        assert.is_nil(r, "a size that cannot be checked was accepted")
        assert.is_true(core.is_error(err))
        local sub = dir .. "/all"
        assert(sh("mkdir " .. q(sub)))
        local ok2, report = pcall(client.download_all, client, files, sub)
        assert.is_true(ok2, "download_all raised: " .. tostring(report))
        assert.is_true(report.files[1].ok, tostring(report.files[1].err))
        assert.is_true(report.files[3].ok, tostring(report.files[3].err))
        assert.is_false(report.files[2].ok)
        assert.are.equal(objects[1].md5, md5(sub .. "/pg1.log"))
      end)
    end

    for _, body in ipairs{ '{"error_code":123,"error_msg":"number code"}',
                           '{"error_code":1.5e300,"error_msg":"huge code"}',
                           '{"error_code":{"nested":"DBS.1"},"error_msg":"table code"}',
                           '{"error_code":true,"error_msg":"boolean code"}',
                           '{"error_code":["DBS.1"],"error_msg":{"text":"table message"}}',
                           '{"error_code":null,"error_msg":null,"request_id":42}' } do
      it("error body " .. body .. ": nil, err, never raises", function()
        h:script(API.show_backup_download_link, nil, { status = 400, body = body })
        local c = new_client{ retries = 0 }
        local ok, r, err = pcall(c.show_backup_download_link, c, { backup_id = BACKUP_ID })
        assert.is_true(ok, "raised: " .. tostring(r))
        assert.is_nil(r)
        assert.is_true(core.is_error(err))
        local okt, text = pcall(tostring, err)
        assert.is_true(okt, "tostring raised: " .. tostring(text))
        assert.is_string(text)
      end)
    end

    it("`files` as an object instead of an array: nil, err (kind api) from the list calls", function()
      local body = '{"files":{"a":{"name":"x.bin","size":1,"download_link":"http://127.0.0.1:1/x"}},"bucket":"b"}'
      h:script(API.show_backup_download_link, nil, { status = 200, body = body })
      local ok, r, err = pcall(client.show_backup_download_link, client, { backup_id = BACKUP_ID })
      assert.is_true(ok, "raised: " .. tostring(r))
      assert.is_nil(r)
      assert.are.equal("api", err and err.kind)
      h:script(API.list_audit_log_download_link, nil, { status = 200, body = body })
      local ok2, r2, err2 = pcall(client.list_audit_log_download_link, client, { instance_id = GAUSS_INSTANCE,
        start_time = "2023-07-24T00:00:00+0800", end_time = "2023-07-25T00:00:00+0800" })
      assert.is_true(ok2, "raised: " .. tostring(r2))
      assert.is_nil(r2)
      assert.are.equal("api", err2 and err2.kind)
    end)
  end)

  describe("11. errors never carry secrets", function()
    -- an API error answer that echoes every credential header everywhere
    local ECHO = {
      body = '{"error_code":"DBS.{{json:header:authorization}}{{json:header:x-auth-token}}",'
        .. '"error_msg":"refused {{json:header:authorization}} {{json:header:x-auth-token}} {{json:header:x-security-token}}",'
        .. '"request_id":"{{json:header:x-auth-token}}{{json:header:authorization}}"}',
      headers = { ["X-Request-Id"] = "{{header:authorization}}{{header:x-auth-token}}" },
    }

    local function echo(status)
      return { status = status, body = ECHO.body, headers = ECHO.headers }
    end

    -- the secrets of what was actually sent (the Authorization header and
    -- its Signature) plus the configured ones
    local function sent_secrets(path, configured)
      local list = {}
      for _, s in ipairs(configured) do list[#list + 1] = s end
      for _, r in ipairs(h:requests(path)) do
        local a = r.headers.authorization
        if a then
          list[#list + 1] = { "the Authorization header", a }
          local sig = a:match("Signature=(%x+)")
          if sig then list[#list + 1] = { "the request signature", sig } end
        end
      end
      return list
    end

    local function assert_no_leak(err, secrets)
      assert.is_table(err)
      local found = leaks(err, secrets)
      assert.are.same({}, found)
    end

    it("API error echoing Authorization and the security token (ak/sk client, HTTP 400)", function()
      h:script(API.show_backup_download_link, nil, echo(400))
      local c = new_client{ retries = 0, security_token = SECURITY_TOKEN }
      local r, err = c:show_backup_download_link{ backup_id = BACKUP_ID }
      assert.is_nil(r)
      assert_no_leak(err, sent_secrets(API.show_backup_download_link,
        { { "SK", SK }, { "the security token", SECURITY_TOKEN } }))
    end)

    it("API error echoing Authorization (ak/sk client, HTTP 401)", function()
      h:script(API.show_backup_download_link, nil, echo(401))
      local c = new_client{ retries = 0 }
      local r, err = c:show_backup_download_link{ backup_id = BACKUP_ID }
      assert.is_nil(r)
      assert_no_leak(err, sent_secrets(API.show_backup_download_link, { { "SK", SK } }))
    end)

    it("API error echoing X-Auth-Token (token client)", function()
      h:script(API.show_backup_download_link, nil, echo(400))
      local c = new_client{ retries = 0, ak = false, sk = false, token = TOKEN }
      local r, err = c:show_backup_download_link{ backup_id = BACKUP_ID }
      assert.is_nil(r)
      assert_no_leak(err, sent_secrets(API.show_backup_download_link, { { "the IAM token", TOKEN } }))
    end)

    it("API error echoing X-Auth-Token (IAM password client)", function()
      h:script(API.iam, nil, { status = 201, headers = { ["X-Subject-Token"] = IAM_TOKEN },
        body = '{"token":{"expires_at":"2099-01-01T00:00:00.000000Z"}}' })
      h:script(API.show_backup_download_link, nil, echo(400))
      local c = new_client{ retries = 0, ak = false, sk = false,
        iam = { user = "hostile-user", password = IAM_PASSWORD, domain = "hostile-domain" } }
      local r, err = c:show_backup_download_link{ backup_id = BACKUP_ID }
      assert.is_nil(r)
      assert.are.equal(IAM_TOKEN, (h:requests(API.show_backup_download_link)[1] or { headers = {} }).headers["x-auth-token"])
      assert_no_leak(err, sent_secrets(API.show_backup_download_link,
        { { "the IAM password", IAM_PASSWORD }, { "the IAM token", IAM_TOKEN } }))
    end)

    it("IAM error echoing the request body with the password (IAM password client)", function()
      h:script(API.iam, nil, { status = 401, headers = { ["X-Request-Id"] = "{{json:body}}" },
        body = '{"error":{"code":401,"message":"denied: {{json:body}}","title":"{{json:body}}"}}' })
      local c = new_client{ retries = 0, ak = false, sk = false,
        iam = { user = "hostile-user", password = IAM_PASSWORD, domain = "hostile-domain" } }
      local r, err = c:show_backup_download_link{ backup_id = BACKUP_ID }
      assert.is_nil(r)
      assert_no_leak(err, { { "the IAM password", IAM_PASSWORD } })
    end)

    -- a store link with a distinctive signature, and the store echoing it
    local SIG = "c2VjcmV0LXNpZ25hdHVyZS12YWx1ZS0xMjM0NTY3%2Bg%3D%3D"
    local SIG_DECODED = "c2VjcmV0LXNpZ25hdHVyZS12YWx1ZS0xMjM0NTY3+g=="
    local function store_secrets(query)
      return { { "the link's query", query }, { "the raw signature", SIG }, { "the decoded signature", SIG_DECODED } }
    end
    local STORE_ECHO_BODY = "<Error><Code>AccessDenied{{param:Signature}}</Code><Message>denied for {{query}}</Message>"
      .. "<RequestId>{{param:Signature}}</RequestId><HostId>{{query}}</HostId></Error>"
    local STORE_ECHO_HEADERS = { ["x-obs-request-id"] = "{{param:Signature}}", ["X-Request-Id"] = "{{query}}" }

    for _, status in ipairs{ 403, 500 } do
      it("store error " .. status .. " echoing the signature in Code, Message, RequestId and headers", function()
        local path = "/sig/s" .. status .. ".bin"
        h:object{ path = path, size = 100 }
        h:script(path, nil, { status = status, body = STORE_ECHO_BODY, headers = STORE_ECHO_HEADERS })
        local query = "AWSAccessKeyId=HOSTILESTOREAK&Expires=9999999999&Signature=" .. SIG
        local r, err = client:download(h.endpoint .. path .. "?" .. query, dir .. "/s.bin", { retries = 1 })
        assert.is_nil(r)
        assert_no_leak(err, store_secrets(query))
      end)
    end

    it("download_all: the batch error and every file's error are free of the signature", function()
      local entries, query = {}, "AWSAccessKeyId=HOSTILESTOREAK&Expires=9999999999&Signature=" .. SIG
      for i = 1, 3 do
        local path = "/sig/batch" .. i .. ".bin"
        h:script(path, nil, { status = 500, body = STORE_ECHO_BODY, headers = STORE_ECHO_HEADERS })
        entries[i] = { name = "batch" .. i .. ".bin", download_link = h.endpoint .. path .. "?" .. query }
      end
      local report, err = client:download_all(entries, dir, { retries = 1 })
      assert.is_table(report)
      assert_no_leak(err, store_secrets(query))
      for i, f in ipairs(report.files) do
        assert.is_false(f.ok, entries[i].name)
        assert_no_leak(f.err, store_secrets(query))
      end
    end)
  end)

  describe("12. throttling is its own kind", function()
    local function api_error(answer)
      h:script(API.show_backup_download_link, nil, answer)
      local c = new_client{ retries = 0 }
      local r, err = c:show_backup_download_link{ backup_id = BACKUP_ID }
      assert.is_nil(r)
      return err
    end

    it("a 429 with APIGW.0308 is kind throttled, retryable", function()
      local err = api_error{ status = 429, headers = { ["Retry-After"] = "0" },
        body = '{"error_code":"APIGW.0308","error_msg":"The throttling threshold has been reached"}' }
      assert.are.equal("throttled", err.kind)
      assert.is_true(err.retryable)
    end)

    it("a 429 without an error code is kind throttled, retryable", function()
      local err = api_error{ status = 429, body = "" }
      assert.are.equal("throttled", err.kind)
      assert.is_true(err.retryable)
    end)

    it("APIGW.0308 with HTTP 403 is kind throttled, retryable, not auth", function()
      local err = api_error{ status = 403,
        body = '{"error_code":"APIGW.0308","error_msg":"The throttling threshold has been reached"}' }
      assert.are.equal("throttled", err.kind)
      assert.is_true(err.retryable)
    end)

    it("a 429 SlowDown from the store is kind throttled, retryable", function()
      local obj = h:object{ path = "/th/a.bin", size = 100 }
      h:script("/th/a.bin", nil, { status = 429, body = store_xml("SlowDown", "Please reduce your request rate") })
      local r, err = client:download(obj.url, dir .. "/a.bin", { retries = 0 })
      assert.is_nil(r)
      assert.are.equal("throttled", err.kind)
      assert.is_true(err.retryable)
    end)
  end)

  describe("13. download_all stops starting files after an auth failure", function()
    for _, status in ipairs{ 403, 401 } do
      it("20 entries, concurrency 2, every link answering " .. status .. ": a handful of requests", function()
        local entries = {}
        for i = 1, 20 do
          local path = ("/auth/f%02d.bin"):format(i)
          h:object{ path = path, size = 1000 }
          h:script(path, nil, { status = status, body = store_xml("AccessDenied", "Access Denied") })
          entries[i] = { name = ("f%02d.bin"):format(i), download_link = h.endpoint .. path .. "?Signature=x" }
        end
        local report = client:download_all(entries, dir, { concurrency = 2 })
        assert.is_table(report)
        local reqs = h:requests()
        assert.is_true(#reqs <= 4, ("the store saw %d requests"):format(#reqs))
        local asked = {}
        for _, r in ipairs(reqs) do asked[r.path] = true end
        for i, f in ipairs(report.files) do
          assert.is_false(f.ok)
          assert.are.equal("auth", f.err and f.err.kind, entries[i].name)
          if not asked[("/auth/f%02d.bin"):format(i)] then
            assert.is_true(f.err.not_started, entries[i].name .. " was not started but not_started is not set")
          end
        end
      end)
    end
  end)

  describe("14. every io error names its path", function()
    local obj
    before_each(function() obj = h:object{ path = "/io/a.bin", size = 3 * 1024 * 1024 } end)

    it("the destination's directory does not exist", function()
      local r, err = client:download(obj.url, dir .. "/missing/a.bin")
      assert.is_nil(r)
      assert_io(err)
    end)

    it("the destination's directory is a regular file", function()
      write(dir .. "/file", "x")
      local r, err = client:download(obj.url, dir .. "/file/a.bin")
      assert.is_nil(r)
      assert_io(err)
    end)

    it("the destination is on a read-only filesystem", function()
      local r, err = client:download(obj.url, "/sys/hcdl-a.bin")
      assert.is_nil(r)
      assert_io(err)
    end)

    it("the disk fills up", function()
      local mnt = dir .. "/small"
      assert(sh("mkdir -p " .. q(mnt)))
      if not sh("mount -t tmpfs -o size=1m tmpfs " .. q(mnt) .. " 2>/dev/null") then
        pending("needs permission to mount a tmpfs")
        return
      end
      local r, err = client:download(obj.url, mnt .. "/a.bin")
      sh("umount " .. q(mnt))
      assert.is_nil(r)
      assert_io(err)
    end)

    it("download_all into something that is not a directory", function()
      write(dir .. "/plain", "x")
      local r, err = client:download_all({ obj.url }, dir .. "/plain")
      assert.is_nil(r)
      assert_io(err, dir .. "/plain")
    end)
  end)
end)
