-- One redactor (docs/architecture.md "Redaction"): every secret in every
-- encoding it travels or comes back in, and every shape of pre-signed link,
-- fed through every output path - each error field, tostring(err), debug
-- lines, the command's text and --json output, the metrics file - and
-- none comes out.
--
-- The secrets are generated, not chosen: a seeded generator (the same
-- sequence on every Lua), with %, regex and pattern magic characters,
-- quotes, backslashes, slashes and spaces in every one.  A failure prints
-- the seed; HCDL_TEST_SEED=<n> replays it.
local cjson = require "cjson"
local core = require "hcdl.core"
local hcdl = require "hcdl"
local redact = require "hcdl.redact"
local debuglog = require "hcdl.debuglog"
local text = require "hcdl.text"
local output = require "hcdl.cli.output"
local hostile_mod = require "tests.support.hostile"
local helpers = require "tests.support.helpers"
local shell = require "tests.support.shell"

local LUA = os.getenv("HCDL_LUA") or "lua5.4"
local q, sh, capture, read = shell.q, shell.ok, shell.capture, shell.read

local SEED = tonumber(os.getenv("HCDL_TEST_SEED") or "") or 2121
local function why(s) return ("%s (seed %d: HCDL_TEST_SEED=%d replays it)"):format(s, SEED, SEED) end

-- Park-Miller: exact in doubles, so LuaJIT and 5.1-5.4 draw the same.
local state = SEED % 2147483646 + 1
local function draw(n)
  state = state * 16807 % 2147483647
  return state % n + 1
end
local function pick(s) local i = draw(#s) return s:sub(i, i) end

local ALNUM = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
local MAGIC = "%^$().[]*+-?" -- Lua pattern and regex specials
local OTHER = "/\\\"'&=:@#;,{}|~! <>"

-- A secret of n characters: letters and digits, with at least one '%', one
-- '%' before two hex digits (so it decodes to something else), one magic
-- character and one of the others, at drawn places.
local function secret(n)
  local t = {}
  for i = 1, n do
    local r = draw(6)
    t[i] = r <= 3 and pick(ALNUM) or r == 4 and pick(MAGIC) or r == 5 and pick(OTHER) or "%"
  end
  t[draw(n)] = pick(MAGIC)
  t[draw(n)] = pick(OTHER)
  local at = draw(n - 3)
  t[at], t[at + 1], t[at + 2] = "%", pick("0123456789ABCDEF"), pick("0123456789abcdef")
  return table.concat(t)
end

-- A signature as object stores write them: base64 (+, /, =).
local function signature()
  local t = {}
  for i = 1, 28 do t[i] = pick(ALNUM .. "+/") end
  return table.concat(t) .. "="
end

-- The encodings, written here (not taken from hcdl, which is under test).
local B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
local function base64(s)
  local out = {}
  for i = 1, #s, 3 do
    local a, b, c = s:byte(i, i + 2)
    local n = a * 65536 + (b or 0) * 256 + (c or 0)
    local four = {}
    for k = 1, 4 do
      local v = math.floor(n / 64 ^ (4 - k)) % 64
      four[k] = B64:sub(v + 1, v + 1)
    end
    if not b then four[3], four[4] = "=", "=" elseif not c then four[4] = "=" end
    out[#out + 1] = table.concat(four)
  end
  return table.concat(out)
end
local function percent(s, fmt)
  return (s:gsub("[^%w%-._~]", function(c) return fmt:format(c:byte()) end))
end
local ENCODINGS = {
  { "raw", function(s) return s end },
  { "percent-encoded (upper-case hex)", function(s) return percent(s, "%%%02X") end },
  { "percent-encoded (lower-case hex)", function(s) return percent(s, "%%%02x") end },
  { "JSON-escaped by lua-cjson (\\/)", function(s) return cjson.encode(s):sub(2, -2) end },
  { "JSON-escaped without \\/", function(s) return (s:gsub('[\\"]', "\\%0")) end },
}

-- The client's secrets, and a link's (never known to the client).
local SK, TOKEN, PASSWORD = secret(40), secret(96), secret(16)
local PROXY_USER, PROXY_PASSWORD = "proxy-" .. secret(8), secret(14)
local LINK_SIG, LINK_TOKEN, LINK_AK = signature(), secret(60), "LINKAK" .. ("%08d"):format(draw(99999999))

-- The shapes a pre-signed link comes in (and goes back in, echoed).
local function links(base)
  local sig, tok = percent(LINK_SIG, "%%%02X"), percent(LINK_TOKEN, "%%%02X")
  return {
    base .. "/bucket/backup.qp?AWSAccessKeyId=" .. LINK_AK .. "&Expires=1700000000&Signature=" .. sig,
    base .. "/b/k.qp?x-obs-security-token=" .. tok .. "&Signature=" .. sig,
    base:upper() .. "/B/K?Signature=" .. sig .. "#fragment",
    base .. "/b/k?response-cache-control=no-cache&Signature=" .. LINK_SIG,
  }
end

-- The secrets a client of each kind knows, by name.
local ALL = { SK, TOKEN, PASSWORD, PROXY_PASSWORD, LINK_TOKEN }
local KEYS = { SK, TOKEN }               -- temporary keys (API calls, the command)
local IAM = { PASSWORD }                 -- an IAM password exchanged for a token
local DOWNLOAD = { SK, TOKEN, LINK_TOKEN } -- a download knows its link's values

local function has(list, x)
  for _, v in ipairs(list) do if v == x then return true end end
  return false
end

-- What a server that echoes what it got could send back: every secret of
-- `known` in every encoding (the Basic value of the proxy's user and
-- password when it is known), and every link shape (plain, in JSON, in XML).
local function echo(base, known)
  local parts = {}
  for _, s in ipairs(known) do
    for _, e in ipairs(ENCODINGS) do parts[#parts + 1] = e[1] .. ": [" .. e[2](s) .. "]" end
  end
  if has(known, PROXY_PASSWORD) then
    parts[#parts + 1] = "Proxy-Authorization: Basic " .. base64(PROXY_USER .. ":" .. PROXY_PASSWORD)
  end
  for _, l in ipairs(links(base)) do
    parts[#parts + 1] = "link " .. l
    parts[#parts + 1] = cjson.encode{ url = l }
    parts[#parts + 1] = "<Url>" .. l .. "</Url>"
  end
  return table.concat(parts, " | ")
end

-- What must never come out: every encoding of every known secret, the
-- Basic value, and what links carry (signature, token, access key id).
local function forbidden(known)
  local out = {}
  for _, s in ipairs(known) do
    for _, e in ipairs(ENCODINGS) do out[#out + 1] = { e[1], e[2](s) } end
  end
  for _, e in ipairs(ENCODINGS) do out[#out + 1] = { "link signature, " .. e[1], e[2](LINK_SIG) } end
  out[#out + 1] = { "link token", percent(LINK_TOKEN, "%%%02X") }
  out[#out + 1] = { "link access key", LINK_AK }
  if has(known, PROXY_PASSWORD) then
    out[#out + 1] = { "Basic value", base64(PROXY_USER .. ":" .. PROXY_PASSWORD) }
  end
  return out
end

local function assert_none(s, what, known)
  for _, f in ipairs(forbidden(known)) do
    local at = s:find(f[2], 1, true)
    assert(not at, why(("%s: a secret, %s, at byte %d of %q"):format(what, f[1], at or 0,
      s:sub(math.max(1, (at or 1) - 40), (at or 1) + 60))))
  end
end

-- Each string field of err, by its path ("message", "detail.body", ...).
local function fields(err)
  local out = {}
  local function walk(t, prefix, depth)
    if depth > 8 then return end
    for k, v in pairs(t) do
      local name = prefix .. tostring(k)
      if type(v) == "string" then out[name] = v elseif type(v) == "table" then walk(v, name .. ".", depth + 1) end
    end
  end
  walk(err, "", 0)
  return out
end

local function assert_error_clean(err, what, known)
  assert.is_table(err, what)
  local n = 0
  for name, v in pairs(fields(err)) do
    assert_none(v, what .. ": err." .. name, known)
    n = n + 1
  end
  assert.is_true(n >= 2, what .. ": an error with fields")
  assert_none(tostring(err), what .. ": tostring(err)", known)
  assert_none("x" .. err, what .. ": concatenated", known)
end

describe("one redactor", function()
  -- The secrets list a client builds from its configuration (config.lua):
  -- the keys and password as given, the proxy's through hcdl.redact.
  local function client_list()
    local list = redact.list(SK, TOKEN, PASSWORD)
    -- a proxy URL holds its user and password percent-encoded (RFC 3986)
    local url = "http://" .. percent(PROXY_USER, "%%%02X") .. ":" .. percent(PROXY_PASSWORD, "%%%02X") .. "@proxy:3128"
    for _, s in ipairs(redact.proxy_secrets(url)) do
      list.add(s)
    end
    list.add(LINK_TOKEN) -- a download's list holds its link's values (download.lua)
    return list
  end

  describe("every path, fed every encoding and link shape (no server)", function()
    local BASE = "https://obs.example.com"

    it("errors: each field and tostring, after redact.error", function()
      local message = echo(BASE, ALL)
      local err = core.error{ kind = "api", status = 400, code = "DBS." .. message:sub(1, 200),
        message = message:sub(1, 900), request_id = "rid " .. links(BASE)[4],
        detail = { body = message, headers = { ["x-echo"] = message } } }
      assert_error_clean(redact.error(err, client_list()), "core.error", ALL)
      -- one secret at a time, alone in the message, in every encoding
      for _, s in ipairs{ SK, TOKEN, PASSWORD, PROXY_PASSWORD } do
        for _, e in ipairs(ENCODINGS) do
          local one = core.error{ kind = "auth", message = "x" .. e[2](s) .. "y" }
          assert_error_clean(redact.error(one, client_list()), "one secret, " .. e[1], ALL)
        end
      end
    end)

    it("errors made in C from libcurl's messages pass the same link rule", function()
      for _, l in ipairs(links(BASE)) do
        local shown = core.hide_link_queries("Could not resolve: " .. l .. " (6)")
        assert_none(shown, "core.hide_link_queries", {})
        assert.matches("Signature=" .. redact.MARKER, shown, 1, true)
      end
      assert.are.equal(core.REDACT_MARKER, redact.MARKER)
    end)

    it("debug lines: the sink cleans each whole line before it is made visible", function()
      local lines = {}
      local sink = debuglog.scrubbing(function(l) lines[#lines + 1] = l end, client_list())
      for _, l in ipairs(links(BASE)) do
        local err = core.error{ kind = "network", message = echo(BASE, ALL) }
        debuglog.emit({ debug = sink }, { event = "error", api = "download", method = "GET", url = l, err = err,
          note = echo(BASE, ALL) })
      end
      assert.are.equal(#links(BASE), #lines)
      for i, l in ipairs(lines) do
        assert_none(l, "debug line " .. i, ALL)
        assert.is_nil(l:find("[%c]"), why("debug line " .. i .. ": a control byte"))
        assert.is_true(#l <= debuglog.LINE_MAX * 4 + 100, "a bounded line")
      end
    end)

    it("the command's printers: messages, cells, JSON error fields", function()
      local err = redact.error(core.error{ kind = "http", status = 403, message = echo(BASE, ALL) }, client_list())
      assert_none(output.visible(tostring(err), output.ERROR_LINE_MAX), "output.visible(err)", ALL)
      -- what the command builds itself from service text passes text.shown
      for _, l in ipairs(links(BASE)) do
        assert_none(output.visible("file x: " .. l .. " answered HTTP 403", 2000), "output.visible(link)", {})
        assert_none(output.cell(l), "output.cell(link)", {})
        assert_none(text.shown(l, 2000), "text.shown(link)", {})
      end
      assert_none(text.shown(echo(BASE, ALL), 100000, client_list()), "text.shown with the client's secrets", ALL)
    end)
  end)

  describe("through the library and the command, from a server that echoes", function()
    local PROJECT = "0123456789abcdef0123456789abcdef"
    local AK = "REDACTAK0123456789"
    local INSTANCE = "0123456789abcdef0123456789abcdefin07"
    local RDS_BACKUP = "0123456789abcdef0123456789abcdefbr01"
    local RDS = "/v3/" .. PROJECT .. "/backup-files"
    local AUDIT = "/v3/" .. PROJECT .. "/instance/" .. INSTANCE .. "/auditlog/download-link"
    local h, work, hcdl_bin

    setup(function()
      h = hostile_mod.start()
      work = shell.mktemp_dir()
      assert(sh("mkdir -p " .. q(work .. "/home")))
      local log = work .. "/install.log"
      assert(sh(("make -C %s --no-print-directory -s install LUA=%s PREFIX=%s >%s 2>&1"):format(
        q(helpers.root), LUA, q(work .. "/prefix"), q(log))), read(log))
      hcdl_bin = work .. "/prefix/bin/hcdl"
    end)
    teardown(function()
      if h then h:stop() end
      if work then sh("rm -rf " .. q(work)) end
    end)
    before_each(function() h:reset() end)

    -- The answers an echoing server gives: the echo as a JSON error
    -- message, as a plain body, and in a request-id header.
    local function answers(status, known)
      local e = echo(h.endpoint, known)
      return {
        { "a JSON error", { status = status, body_b64 = base64(cjson.encode{ error_code = "DBS.280001", error_msg = e }),
          headers = { ["Content-Type"] = "application/json" } } },
        { "a plain body", { status = status, body_b64 = base64(e), headers = { ["Content-Type"] = "text/plain" } } },
        { "a request-id header", { status = status, body_b64 = base64('{"error_code":"DBS.1","error_msg":"no"}'),
          headers = { ["Content-Type"] = "application/json" }, headers_b64 = { ["X-Request-Id"] = base64(e) } } },
        { "an XML store error", { status = status, body_b64 = base64("<Error><Code>AccessDenied</Code><Message>" .. e
          .. "</Message></Error>"), headers = { ["Content-Type"] = "application/xml" } } },
      }
    end

    local function client(over)
      local cfg = { project_id = PROJECT, ak = AK, sk = SK, security_token = TOKEN, retries = 0,
        endpoints = { gaussdb = h.endpoint, rds = h.endpoint, dcs = h.endpoint, iam = h.endpoint } }
      for k, v in pairs(over or {}) do
        if v == false then cfg[k] = nil else cfg[k] = v end
      end
      return assert(hcdl.new(cfg))
    end

    it("API calls, IAM token requests and downloads: every field, tostring, debug lines", function()
      local cases = {
        { "API call", KEYS, RDS, function(debug)
          return client{ debug = debug }:show_backup_download_link{ backup_id = RDS_BACKUP } end },
        { "IAM token", IAM, "/v3/auth/tokens", function(debug)
          return client{ ak = false, sk = false, security_token = false, debug = debug,
            iam = { user = "redact-user", password = PASSWORD, domain = "redact-domain" } }
            :show_backup_download_link{ backup_id = RDS_BACKUP } end },
        { "download", DOWNLOAD, "/b/k.qp", function(debug)
          local dir = work .. "/dl"
          assert(sh("rm -rf " .. q(dir) .. " && mkdir -p " .. q(dir)))
          local res, err = client{ debug = debug }:download({ url = links(h.endpoint)[2], name = "k.qp" },
            dir .. "/k.qp", { retries = 0 })
          return nil, err or (res and res.err) end },
      }
      for _, case in ipairs(cases) do
        for _, a in ipairs(answers(400, case[2])) do
          local what = case[1] .. ", " .. a[1]
          h:reset()
          h:script(case[3], {}, a[2])
          local lines = {}
          local r, err = case[4](function(l) lines[#lines + 1] = l end)
          assert.is_nil(r, what)
          assert.is_true(#h:requests(case[3]) >= 1, what .. ": the server was asked")
          assert_error_clean(err, what, case[2])
          assert.is_true(#lines >= 2, what .. ": debug lines")
          assert_none(table.concat(lines, "\n"), what .. ": debug lines", case[2])
        end
      end
    end)

    -- The installed command against the server: exit status, stdout, stderr.
    local function run(argv)
      local vars = { PATH = "/usr/bin:/bin", HOME = work .. "/home", LANG = "C.UTF-8", HCDL_DEBUG = "1",
        HUAWEICLOUD_SDK_AK = AK, HUAWEICLOUD_SDK_SK = SK, HUAWEICLOUD_SDK_SECURITY_TOKEN = TOKEN,
        HUAWEICLOUD_SDK_PROJECT_ID = PROJECT }
      for _, s in ipairs{ "GAUSSDB", "RDS", "DCS", "IAM" } do vars["HUAWEICLOUD_SDK_REGION_" .. s .. "_CN_NORTH_4"] = h.endpoint end
      local words = { "env -i" }
      for k, v in pairs(vars) do words[#words + 1] = k .. "=" .. q(v) end
      words[#words + 1] = q(hcdl_bin) .. " --region cn-north-4"
      for _, x in ipairs(argv) do words[#words + 1] = q(x) end
      local o, e = work .. "/stdout", work .. "/stderr"
      local status = capture(("cd %s && %s >%s 2>%s </dev/null; echo $?"):format(q(work), table.concat(words, " "), q(o), q(e)))
      return tonumber(status:match("(%d+)")), read(o) or "", read(e) or ""
    end

    -- --json's files without the fields that are links by design (asked
    -- for: "link", the service's "download_link").
    local function json_without_links(out)
      local doc = cjson.decode(out)
      for _, f in ipairs(doc.files or {}) do f.link, f.download_link = nil, nil end
      return cjson.encode(doc)
    end

    it("the command: an API error, as text and as --json, debug lines on", function()
      for _, a in ipairs(answers(400, KEYS)) do
        h:reset()
        h:script(RDS, {}, a[2])
        for _, json in ipairs{ false, true } do
          local code, out, err = run{ "backup", "--backup-id", RDS_BACKUP, json and "--json" or nil }
          assert.are.equal(4, code, err)
          assert_none(out, ("stdout%s, %s"):format(json and " (--json)" or "", a[1]), KEYS)
          assert_none(err, ("stderr%s, %s"):format(json and " (--json)" or "", a[1]), KEYS)
          assert.matches("event=answer", err, 1, true)
        end
      end
    end)

    it("the command: failed downloads of a sync, as text and --json, and the metrics file", function()
      local files = {}
      for i, l in ipairs(links(h.endpoint)) do
        files[i] = { name = ("file-%d.log"):format(i), size = 1, download_link = l,
          updated_time = "2023-07-24T02:0" .. i .. ":00+0800", link_expired_time = "2099-01-01T00:00:00+0800" }
      end
      for _, a in ipairs(answers(403, KEYS)) do
        h:reset()
        h:script(AUDIT, {}, { status = 200, body_b64 = base64(cjson.encode{ files = files }),
          headers = { ["Content-Type"] = "application/json" } })
        for _, path in ipairs{ "/bucket/backup.qp", "/b/k.qp", "/B/K", "/b/k" } do h:script(path, {}, a[2]) end
        for _, json in ipairs{ false, true } do
          local dir, metrics = work .. "/sync", work .. "/hcdl.prom"
          assert(sh("rm -rf " .. q(dir) .. " " .. q(metrics)))
          local code, out, err = run{ "sync", "fullsql", "--instance", INSTANCE, "--since", "2023-07-24",
            "--tz", "+08:00", "--out", dir, "--metrics-file", metrics, "--retries", "0", json and "--json" or nil }
          local what = ("%s, %s"):format(json and "--json" or "text", a[1])
          assert.is_true(code == 1 or code == 3, what .. ": exit " .. tostring(code) .. ": " .. err)
          assert.matches("failed", err, 1, true)
          assert_none(json and json_without_links(out) or out, "stdout, " .. what, KEYS)
          assert_none(err, "stderr, " .. what, KEYS)
          local m = assert(read(metrics), "the metrics file was written")
          assert.matches("hcdl_exit_code", m, 1, true)
          assert_none(m, "metrics file, " .. what, KEYS)
          if json then
            local doc = cjson.decode(out)
            assert.is_true(#doc.files >= 4, what)
            for _, f in ipairs(doc.files) do assert.is_string(f.error, what) end
          end
        end
      end
    end)
  end)
end)
