-- Nothing a server sends can forge hcdl's output or leak a secret.
--
-- A server of our own (tests/support/hostile.py) answers every API the
-- command lists with every control byte, invalid UTF-8, C1 and bidi
-- characters, a 100,000-byte string, NaN, infinities and nulls in every
-- field, and puts the same into error bodies, error codes, request-id
-- headers and object-store errors.  What comes out is checked through the
-- library (tostring(err), every error field, debug lines) and through the
-- installed command as a subprocess in every output form (table, --json,
-- --links, stderr errors, HCDL_DEBUG lines): one line per message, no raw
-- ESC/CR/LF/control byte, valid UTF-8, bounded sizes, faithful JSON.  A
-- proxy that echoes everything it receives checks the redaction of every
-- form of its user and password.
local cjson = require "cjson"
local core = require "hcdl.core"
local hcdl = require "hcdl"
local redact = require "hcdl.redact"
local hostile_mod = require "tests.support.hostile"
local helpers = require "tests.support.helpers"
local proxy_mod = require "tests.support.proxy"
local shell = require "tests.support.shell"
local command = require "tests.support.command"

local q, sh = shell.q, shell.ok

-- The order hostile strings are mixed into fields: seeded, printed on failure.
local SEED = tonumber(os.getenv("HCDL_TEST_SEED") or "") or os.time()
math.randomseed(SEED)
local function why(s) return ("%s (seed %d: HCDL_TEST_SEED=%d reproduces)"):format(s, SEED, SEED) end

local PROJECT = "0123456789abcdef0123456789abcdef"
local AK, SK = "HOSTILEAK0123456789", "Hostile-Secret-Key-0123456789abcdef"
local INSTANCE = "0123456789abcdef0123456789abcdefin07"
local RDS_BACKUP = "0123456789abcdef0123456789abcdefbr01"
local DCS_INSTANCE, DCS_BACKUP = "5560df16-cebf-4473-95c4-d1b573c16e79", "backup-20230724"

-- Every C0 control, DEL, terminal commands, a forged line of hcdl's own
-- output, invalid UTF-8 (stray continuation, bad lead, truncated sequence,
-- a surrogate, an overlong form), C1 CSI, bidi overrides and separators.
local function controls()
  local t = {}
  for b = 0, 31 do t[#t + 1] = string.char(b) end
  t[#t + 1] = "\127"
  return table.concat(t)
end
local EVIL = {
  "\27]0;pwned title\7", "\27[2J\27[H", "a\r\nhcdl: 3 files: 3 downloaded", controls(),
  "\255\254bad\195\40utf8\237\160\128\192\175", "\194\155 31m C1 CSI", "\226\128\174 bidi \226\128\168 sep",
  "tab\there", "\240\159\146\128 fine emoji",
}
local HUGE = ("H"):rep(100000)

local function evil(i) return EVIL[(i - 1) % #EVIL + 1] end
local function shuffled_evil()
  local t = {}
  for i, s in ipairs(EVIL) do t[i] = s end
  for i = #t, 2, -1 do
    local j = math.random(i)
    t[i], t[j] = t[j], t[i]
  end
  return t
end

-- JSON with NaN / Infinity where a value is the string NAN / INF / -INF:
-- lua-cjson writes neither, services have been seen to.
local function json(v)
  local s = cjson.encode(v)
  return (s:gsub('"%%%%NAN%%%%"', "NaN"):gsub('"%%%%INF%%%%"', "Infinity"):gsub('"%%%%%-INF%%%%"', "-Infinity"))
end
local NAN, INF, NINF = "%%NAN%%", "%%INF%%", "%%-INF%%"

-- How many bytes of s are not part of valid UTF-8 (written here, not
-- taken from hcdl, which is what is being checked).
local function invalid_utf8(s)
  local bad, i, n = 0, 1, #s
  while i <= n do
    local c = s:byte(i)
    local len, min, cp = 0, 0, 0
    if c < 0x80 then len, cp = 1, c
    elseif c >= 0xC2 and c <= 0xDF then len, min, cp = 2, 0x80, c - 0xC0
    elseif c >= 0xE0 and c <= 0xEF then len, min, cp = 3, 0x800, c - 0xE0
    elseif c >= 0xF0 and c <= 0xF4 then len, min, cp = 4, 0x10000, c - 0xF0 end
    local ok = len > 0 and i + len - 1 <= n
    for k = 1, ok and len - 1 or 0 do
      local b = s:byte(i + k)
      if b < 0x80 or b > 0xBF then ok = false break end
      cp = cp * 64 + (b - 0x80)
    end
    if ok and len > 1 and (cp < min or cp > 0x10FFFF or (cp >= 0xD800 and cp <= 0xDFFF)) then ok = false end
    if ok then i = i + len else bad, i = bad + 1, i + 1 end
  end
  return bad
end

-- Valid UTF-8, no control byte but the line feeds between lines, no C1,
-- no line longer than max: what a person's terminal may safely receive.
local function assert_clean(s, what, max)
  assert(invalid_utf8(s) == 0, why(what .. ": not valid UTF-8"))
  assert(not s:find("\0", 1, true), why(what .. ": a NUL byte"))
  local i = s:find("[\1-\9\11-\31\127]")
  assert(not i, why(what .. (": a raw control byte %d at %d"):format(i and s:byte(i) or 0, i or 0)))
  assert(not s:find("\194[\128-\159]"), why(what .. ": a raw C1 control"))
  assert(not s:find("\226\128[\168-\174]"), why(what .. ": a raw separator or bidi override"))
  for line in s:gmatch("[^\n]+") do
    assert(#line <= max, why(("%s: a line of %d bytes (at most %d)"):format(what, #line, max)))
  end
end

local function no_secrets(s, what, extra)
  assert(not s:find(SK, 1, true), why(what .. ": the SK appeared"))
  for _, secret in ipairs(extra or {}) do
    assert(not s:find(secret, 1, true), why(what .. ": a secret appeared: " .. secret))
  end
end

-- Every string of an error, recursively, as one text.
local function all_fields(err)
  local out = {}
  local function walk(t, depth)
    if depth > 8 then return end
    for _, v in pairs(t) do
      if type(v) == "string" then out[#out + 1] = v elseif type(v) == "table" then walk(v, depth + 1) end
    end
  end
  walk(err, 0)
  return table.concat(out, "\n")
end

local lines = helpers.lines

describe("hostile output", function()
  local h, work, installed

  local AUDIT = "/v3/" .. PROJECT .. "/instance/" .. INSTANCE .. "/auditlog/download-link"
  local RDS = "/v3/" .. PROJECT .. "/backup-files"
  local DCS = "/v2/" .. PROJECT .. "/instances/" .. DCS_INSTANCE .. "/backups/" .. DCS_BACKUP .. "/links"

  local function answer(path, status, body, headers_b64)
    local a = { status = status, body_b64 = redact.base64(body), headers = { ["Content-Type"] = "application/json" } }
    if headers_b64 then
      a.headers_b64 = {}
      for k, v in pairs(headers_b64) do a.headers_b64[k] = redact.base64(v) end
    end
    h:script(path, {}, a)
  end

  -- n TaurusDB entries with hostile names (strictly increasing, as the
  -- marker pager wants), sizes NaN/inf/null, a hostile link or two.
  local function audit_entries(n)
    local files, names = {}, shuffled_evil()
    for i = 1, n do
      local name = ("%03d-"):format(i) .. names[(i - 1) % #names + 1]
      local sizes = { 12, NAN, INF, NINF, cjson.null, 34 }
      files[i] = { name = name, size = sizes[(i - 1) % #sizes + 1],
        download_link = h.endpoint .. "/obs/f" .. i .. "?AccessKeyId=x&Signature=sig" .. i .. "SECRET",
        updated_time = evil(i), link_expired_time = cjson.null, extra = { cjson.null, 1, "\255x" } }
    end
    return files
  end

  local function client(over)
    local cfg = { project_id = PROJECT, ak = AK, sk = SK, retries = 0,
      endpoints = { gaussdb = h.endpoint, rds = h.endpoint, dcs = h.endpoint } }
    for k, v in pairs(over or {}) do
      if v == false then cfg[k] = nil else cfg[k] = v end
    end
    return assert(hcdl.new(cfg))
  end

  -- The installed command against the hostile server: exit status, stdout, stderr.
  -- The installed command against the hostile server, keys and endpoints
  -- in the SDK variables: exit status, stdout, stderr.
  local function run(argv, env) return installed:run(argv, env) end

  local function fullsql(...)
    return run{ "fullsql", "--instance", INSTANCE, "--start", "2023-07-24T00:00:00+0800",
      "--end", "2023-07-24T12:00:00+0800", ... }
  end

  setup(function()
    h = hostile_mod.start()
    work = shell.mktemp_dir()
    installed = command.install({ ak = AK, sk = SK, project_id = PROJECT, endpoint = h.endpoint }, work)
  end)
  teardown(function()
    if h then h:stop() end
    shell.remove(work)
  end)
  before_each(function() h:reset() end)

  describe("the table", function()
    it("is one line per entry, visible, and bounded by the answer's size", function()
      local files = audit_entries(30)
      files[7].name = "007-" .. HUGE
      local body = json{ files = files }
      answer(AUDIT, 200, body)
      local code, out, err = fullsql()
      assert.are.equal(0, code, err)
      assert_clean(out, "table", 2000)
      assert_clean(err, "stderr", 2000)
      assert.are.equal(#files + 1, #lines(out), why("one line per entry plus the header"))
      assert(#out <= 3 * #body, why(("a %d-byte table for a %d-byte answer"):format(#out, #body)))
      assert.matches("\\x1b]0;pwned title\\x07", out, 1, true)
      assert.matches("a\\r\\nhcdl: 3 files", out, 1, true)
      assert.matches("\\xff\\xfebad\\xc3(utf8", out, 1, true)
      assert.matches("… (99", out, 1, true) -- the huge name cut, with a count
      no_secrets(out .. err, "table", { "SECRET", "Signature=" })
    end)

    it("of 200 files with one name of 100,000 bytes stays near the answer's size", function()
      local files = {}
      for i = 1, 200 do
        files[i] = { name = i == 100 and HUGE or ("file-%03d.qp"):format(i), size = 1000 + i,
          download_link = h.endpoint .. "/obs/f" .. i .. "?Signature=s" .. i, database_name = evil(i) }
      end
      local body = json{ files = files, bucket = "b" }
      answer(RDS, 200, body)
      local code, out, err = run{ "backup", "--backup-id", RDS_BACKUP }
      assert.are.equal(0, code, err)
      assert_clean(out, "table", 2000)
      assert.are.equal(201, #lines(out))
      assert(#out <= 2 * #body, why(("a %d-byte table for a %d-byte answer"):format(#out, #body)))
    end)
  end)

  describe("--json", function()
    it("keeps every entry, nulls, NaN listed as unrepresentable, bad UTF-8 escaped: strict JSON", function()
      local files = audit_entries(12)
      answer(AUDIT, 200, json{ files = files })
      local code, out, err = fullsql("--json")
      assert.are.equal(0, code, err)
      -- a strict reader: UTF-8, no NaN/Infinity
      shell.write(work .. "/out.json", out)
      local ok, perr = shell.run(helpers.PY .. " -c " .. q([[
import json, sys
def no(c): raise ValueError("non-standard constant " + c)
json.loads(open(sys.argv[1], "rb").read().decode("utf-8"), parse_constant=no)
]]) .. " " .. q(work .. "/out.json"))
      assert(ok, why("strict JSON: " .. perr))
      assert.are.equal(1, #lines(out), "one line")
      local doc = cjson.decode(out)
      assert.are.equal(#files, #doc.files, why("every entry is kept"))
      for i, e in ipairs(doc.files) do
        local sent = files[i]
        local unrep = {}
        for _, p in ipairs(e.unrepresentable or {}) do unrep[p] = true end
        -- sizes: numbers stay, NaN/inf become null and are listed, null stays null
        if sent.size == NAN or sent.size == INF or sent.size == NINF then
          assert.are.equal(cjson.null, e.size)
          assert.is_true(unrep.size, why("size listed in unrepresentable of entry " .. i))
        elseif sent.size == cjson.null then
          assert.are.equal(cjson.null, e.size, why("a null size stays null"))
          assert.is_nil(unrep.size)
        else
          assert.are.equal(sent.size, e.size)
        end
        assert.are.equal(cjson.null, e.link_expired_time, why("a null field stays null"))
        assert.are.same({ cjson.null, 1, "\239\191\189x" }, e.extra, why("nulls in arrays stay null"))
        assert.is_true(unrep["extra/2"], why("the repaired string is listed"))
        -- names: exactly the service's when they are UTF-8, else repaired and listed
        assert.are.equal(0, invalid_utf8(e.name))
        assert.are.equal(invalid_utf8(sent.name) > 0, unrep.name == true)
        if not unrep.name then assert.are.equal(sent.name, e.name) end
        assert.are.equal(sent.download_link, e.download_link)
        -- "link" is hcdl's reading: only for entries it can use (a NaN size it cannot)
        if type(sent.size) == "number" then assert.are.equal(sent.download_link, e.link) end
      end
    end)
  end)

  describe("--links", function()
    it("writes only one-line printable links and fails the others as an api error (exit 4)", function()
      local files = audit_entries(6)
      for _, e in ipairs(files) do e.size = 10 end
      files[2].download_link = h.endpoint .. "/obs/a?Signature=s\nhttp://evil.example/pwn"
      files[4].download_link = h.endpoint .. "/obs/\27[2Jb?Signature=s"
      files[5].download_link = h.endpoint .. "/obs/c d?Signature=s"
      answer(AUDIT, 200, json{ files = files })
      local code, out, err = fullsql("--links")
      assert.are.equal(4, code, err)
      local got = lines(out)
      assert.are.same({ files[1].download_link, files[3].download_link, files[6].download_link }, got)
      for _, l in ipairs(got) do assert.matches("^https?://[!-~]+$", l) end
      assert_clean(err, "stderr", 2000)
      assert.are.equal(1, #lines(err), why("one error line: " .. err))
      assert.matches("^hcdl api error: ", err)
      assert.matches("3 link(s)", err, 1, true)
      assert.is_nil(err:find("evil.example", 1, true))
    end)
  end)

  describe("errors", function()
    local function error_body(extra)
      return json{ error_code = "DBS.\27[2J" .. evil(3), error_msg = "bad\nhcdl: 3 files: 3 downloaded\27]0;x\7"
        .. "\255\254" .. HUGE .. (extra or "") }
    end
    local REQUEST_ID = "\27[31mred\7\255\254\194\155req"

    it("of the service are one visible, bounded line on stderr and in HCDL_DEBUG lines", function()
      answer(RDS, 400, error_body(), { ["X-Request-Id"] = REQUEST_ID })
      local code, out, err = run({ "backup", "--backup-id", RDS_BACKUP }, { HCDL_DEBUG = "1" })
      assert.are.equal(4, code, err)
      assert.are.equal("", out)
      assert_clean(err, "stderr", 5000)
      local errors, debug_lines = 0, 0
      for _, l in ipairs(lines(err)) do
        if l:match("^hcdl time=%S+ event=") then debug_lines = debug_lines + 1
        else
          errors = errors + 1
          assert.matches("^hcdl api error %(HTTP 400%) DBS%.\\x1b%[2J", l)
          assert.matches("(request id \\x1b[31mred\\x07\\xff\\xfe\\u{009b}req)", l, 1, true)
          assert.matches("more bytes)", l, 1, true)
        end
        assert.is_nil(l:match("^hcdl: 3 files"), why("a forged summary line"))
      end
      assert.are.equal(1, errors, why("one error line: " .. err))
      assert(debug_lines >= 2, why("request and answer lines: " .. err))
      no_secrets(err, "stderr")
    end)

    it("through the library: tostring and every field bounded, visible, free of secrets", function()
      answer(RDS, 400, error_body(SK), { ["X-Request-Id"] = REQUEST_ID .. SK })
      local debug_lines = {}
      local c = client{ debug = function(l) debug_lines[#debug_lines + 1] = l end }
      local r, err = c:show_backup_download_link{ backup_id = RDS_BACKUP }
      assert.is_nil(r)
      assert.are.equal("api", err.kind)
      local s = tostring(err)
      assert_clean(s, "tostring(err)", 2000)
      assert.are.equal(1, #lines(s))
      assert(#err.message <= 1100, why("a message of " .. #err.message .. " bytes"))
      no_secrets(all_fields(err) .. s .. table.concat(debug_lines, "\n"), "error")
      for _, l in ipairs(debug_lines) do assert_clean(l, "debug line", 5000) end
    end)

    it("of the object store: visible, without the link's signature", function()
      local link = h.endpoint .. "/obs/file.bin?AccessKeyId=AK&Expires=1&Signature=Store-Signature-0123"
      h:script("/obs/file.bin", {}, { status = 403, body_b64 = redact.base64(
        "<Error><Code>AccessDenied\27[2J</Code><Message>bad\r\nhcdl: done {{query}} \255\254" .. HUGE
        .. "</Message></Error>"), headers_b64 = { ["X-Obs-Request-Id"] = redact.base64(REQUEST_ID) } })
      local c = client()
      local dir = work .. "/dl"
      assert(sh("rm -rf " .. q(dir) .. " && mkdir -p " .. q(dir)))
      local res, err = c:download({ url = link, name = "file.bin" }, dir .. "/file.bin", { retries = 0 })
      err = err or (res and res.err)
      assert.is_table(err)
      local s = tostring(err)
      assert_clean(s, "tostring(store error)", 2000)
      no_secrets(all_fields(err) .. s, "store error", { "Store-Signature-0123" })
      assert(#err.message <= 1100, why("a message of " .. #err.message .. " bytes"))
    end)

    it("of IAM with a float code or 20,000 matching projects: no raise, bounded", function()
      local iam_cfg = { project_id = false, region = "cn-north-4", endpoints = { iam = h.endpoint, rds = h.endpoint } }
      h:script("/v3/projects", {}, { status = 401, body = '{"error":{"code":401.5,"message":"no\\u001b[2J"}}' })
      local c = client(iam_cfg)
      local ok, r, err = pcall(c.show_backup_download_link, c, { backup_id = RDS_BACKUP })
      assert.is_true(ok, tostring(r))
      assert.is_nil(r)
      assert.are.equal("auth", err.kind)
      assert.are.equal("401.5", err.code)
      assert_clean(tostring(err), "tostring(iam error)", 2000)
      local projects = {}
      for i = 1, 20000 do projects[i] = { id = ("%032x"):format(i), name = "cn-north-4" } end
      h:script("/v3/projects", {}, { status = 200, body = cjson.encode{ projects = projects } })
      local c2 = client(iam_cfg)
      local _, err2 = c2:show_backup_download_link{ backup_id = RDS_BACKUP }
      assert.are.equal("api", err2.kind)
      assert(#err2.message <= 1100, why("a message of " .. #err2.message .. " bytes"))
      assert.matches("and 19990 more", err2.message, 1, true)
    end)
  end)

  describe("service data hcdl cannot use", function()
    it("a marker it cannot send back is an api error naming the field (exit 4), not input", function()
      local files = {}
      for i = 1, 50 do
        files[i] = { name = ("%03d.log"):format(i), size = 1, download_link = h.endpoint .. "/obs/" .. i }
      end
      files[50].name = "050\t.log"
      h:script(AUDIT, {}, { status = 200, body = cjson.encode{ files = files } })
      local c = client()
      local list, err = c:list_audit_log_files{ instance_id = INSTANCE,
        start_time = "2023-07-24T00:00:00+0800", end_time = "2023-07-24T12:00:00+0800" }
      assert.is_nil(list)
      assert.are.equal("api", err.kind)
      assert.are.equal("last_file_name", err.field)
      assert.matches("list_audit_log_download_link", tostring(err), 1, true)
      assert.matches("050\\t.log", tostring(err), 1, true)
      local code, _, stderr = fullsql()
      assert.are.equal(4, code, stderr)
      assert.matches("^hcdl api error", stderr)
      assert_clean(stderr, "stderr", 2000)
    end)

    it("a size that is not a size fails the file as an api error naming the field", function()
      local files = audit_entries(6)
      local c = client()
      for _, e in ipairs(files) do
        e.size = ({ 1.5, NAN, -3, "12x", INF, 1e300 })[_]
      end
      answer(AUDIT, 200, json{ files = files })
      local list = assert(c:list_audit_log_files{ instance_id = INSTANCE,
        start_time = "2023-07-24T00:00:00+0800", end_time = "2023-07-24T12:00:00+0800" })
      local dir = work .. "/sz"
      assert(sh("rm -rf " .. q(dir) .. " && mkdir -p " .. q(dir)))
      for _, e in ipairs(list) do
        local ok, res, err = pcall(c.download, c, e, dir .. "/f", { retries = 0 })
        assert.is_true(ok, tostring(res))
        err = err or (res and res.err)
        assert.are.equal("api", err.kind)
        assert.are.equal("size", err.field)
        assert_clean(tostring(err), "tostring(size error)", 2000)
      end
    end)
  end)

  describe("a proxy that echoes what it receives", function()
    local USER, PASS = "hcdl-us%65r", "p%40ss%3Aw0rd-Secret"
    local FORMS = { "hcdl-user", "hcdl-us%65r", "p@ss:w0rd-Secret", "p%40ss%3Aw0rd-Secret",
      redact.base64("hcdl-user:p@ss:w0rd-Secret") }
    local proxy
    setup(function() proxy = proxy_mod.start("echo") end)
    teardown(function() if proxy then proxy.stop() end end)

    it("shows no form of the proxy's user or password in errors or debug lines (library)", function()
      local url = "http://" .. USER .. ":" .. PASS .. "@" .. proxy.url:sub(#"http://" + 1)
      local debug_lines = {}
      local c = client{ proxy = url, debug = function(l) debug_lines[#debug_lines + 1] = l end }
      local _, err = c:show_backup_download_link{ backup_id = RDS_BACKUP }
      assert.is_table(err)
      local echoed = false
      for _, l in ipairs(proxy.lines()) do echoed = echoed or l:find("ECHO", 1, true) ~= nil end
      assert.is_true(echoed, "the proxy answered")
      local all = all_fields(err) .. "\n" .. tostring(err) .. "\n" .. table.concat(debug_lines, "\n")
      no_secrets(all, "proxy echo", FORMS)
      assert_clean(tostring(err), "tostring(proxy error)", 2000)
    end)

    it("and none through the command (http_proxy, HCDL_DEBUG)", function()
      local url = "http://" .. USER .. ":" .. PASS .. "@" .. proxy.url:sub(#"http://" + 1)
      local code, out, err = run({ "backup", "--backup-id", RDS_BACKUP }, { http_proxy = url, HCDL_DEBUG = "1" })
      assert.are.equal(4, code, err)
      no_secrets(out .. err, "command via proxy", FORMS)
      assert_clean(err, "stderr", 5000)
    end)
  end)
end)
