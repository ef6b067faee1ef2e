-- hcdl.sign: SDK-HMAC-SHA256 signing, checked against the official SDKs'
-- own output (tests/data/signing-vectors.json, a copy of the project's
-- external vector set; see tests/support/helpers.lua) and against the
-- rules of docs/apis.md "Signing".
local hcdl = require "hcdl"
local cjson = require "cjson"
local helpers = require "tests.support.helpers"
local shell = require "tests.support.shell"

local vectors = cjson.decode(helpers.read_file(helpers.root .. "/tests/data/signing-vectors.json"))

local AK, SK = "AccessKey", "SecretKey-never-shown"
local EMPTY_SHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

local function base(over)
  local req = {
    method = "GET", host = "rds.cn-north-4.myhuaweicloud.com",
    path = "/v3/0123456789abcdef0123456789abcdef/backup-files",
    ak = AK, sk = SK, date = "20240101T000000Z",
  }
  for k, v in pairs(over or {}) do req[k] = v end
  return req
end

-- Splits a canonical request into its six parts.
local function parts(cr)
  local lines = {}
  for line in (cr .. "\n"):gmatch("(.-)\n") do lines[#lines + 1] = line end
  return {
    method = lines[1], uri = lines[2], query = lines[3],
    signed = lines[#lines - 1], payload = lines[#lines],
  }
end

-- The spec's encoding, written independently of the C code: unreserved
-- bytes stay, every other byte becomes %XX with upper-case hex.
local function spec_encode(s)
  return (s:gsub("[^A-Za-z0-9%-_%.~]", function(c)
    return string.format("%%%02X", c:byte())
  end))
end

describe("hcdl.sign", function()
  it("uses an up-to-date copy of the shared signing vectors", function()
    local f = io.open(helpers.spec_dir .. "/signing-vectors.json", "rb")
    if f then
      local shared = f:read("*a")
      f:close()
      assert.are.equal(shared, helpers.read_file(helpers.root .. "/tests/data/signing-vectors.json"))
    end
    assert.is_true(#vectors >= 20)
  end)

  describe("matches every official SDK vector", function()
    for _, v in ipairs(vectors) do
      it(v.name, function()
        local s, err = hcdl.sign{
          method = v.method, host = v.host, path = v.path, query = v.query,
          headers = v.headers, body = v.body, ak = v.ak, sk = v.sk, date = v.date,
        }
        assert.is_nil(err)
        assert.are.equal(v.expect.canonical_request, s.canonical_request)
        assert.are.equal(v.expect.string_to_sign, s.string_to_sign)
        assert.are.equal(v.expect.signed_headers, s.signed_headers)
        assert.are.equal(v.expect.authorization, s.authorization)
        assert.are.equal(v.expect.authorization, s.headers.Authorization)
        -- what is sent is what was signed
        assert.are.equal(parts(s.canonical_request).query, s.query_string)
      end)
    end
  end)

  it("encodes every byte 0-255 in a path segment as the spec says", function()
    for b = 0, 255 do
      local seg = "a" .. string.char(b) .. "z"
      local s = assert(hcdl.sign(base{ path = "/v3/" .. seg }))
      if b == 47 then -- '/' separates segments: kept as is
        assert.are.equal("/v3/a/z/", parts(s.canonical_request).uri)
      else
        assert.are.equal("/v3/" .. spec_encode(seg) .. "/", parts(s.canonical_request).uri,
          "byte " .. b)
        assert.are.equal("/v3/" .. spec_encode(seg), s.path, "wire path, byte " .. b)
      end
    end
  end)

  it("encodes every byte 0-255 in query keys and values as the spec says", function()
    for b = 0, 255 do
      local c = string.char(b)
      local s = assert(hcdl.sign(base{ query = { { "k" .. c, "v" .. c .. "w" } } }))
      local want = spec_encode("k" .. c) .. "=" .. spec_encode("v" .. c .. "w")
      assert.are.equal(want, s.query_string, "byte " .. b)
      assert.are.equal(want, parts(s.canonical_request).query, "byte " .. b)
    end
  end)

  it("sends '+' in time offsets as %2B and ':' as %3A", function()
    local s = assert(hcdl.sign(base{ query = { start_time = "2023-07-24T09:27:00+0800" } }))
    assert.are.equal("start_time=2023-07-24T09%3A27%3A00%2B0800", s.query_string)
  end)

  it("sorts repeated keys by value and keeps every occurrence", function()
    local s = assert(hcdl.sign(base{ query = { { "t", "b" }, { "t", "a" }, { "id", "2" }, { "t", "a" }, { "id", "10" } } }))
    assert.are.equal("id=10&id=2&t=a&t=a&t=b", s.query_string)
  end)

  it("accepts the map form, with list values for repeated keys", function()
    local list = assert(hcdl.sign(base{ query = { { "limit", "10" }, { "tag", "x" }, { "tag", "a" } } }))
    local map = assert(hcdl.sign(base{ query = { limit = 10, tag = { "x", "a" } } }))
    assert.are.equal(list.query_string, map.query_string)
    assert.are.equal(list.authorization, map.authorization)
  end)

  it("renders integers and booleans in the query", function()
    local s = assert(hcdl.sign(base{ query = { limit = 50, big = 4294967296, on = true, off = false, neg = -3 } }))
    assert.are.equal("big=4294967296&limit=50&neg=-3&off=false&on=true", s.query_string)
  end)

  it("keeps empty values as key=", function()
    local s = assert(hcdl.sign(base{ query = { { "last_file_name", "" } } }))
    assert.are.equal("last_file_name=", s.query_string)
  end)

  it("hashes an empty or missing body as the empty string", function()
    local a = assert(hcdl.sign(base{ body = "" }))
    local b = assert(hcdl.sign(base{}))
    assert.are.equal(EMPTY_SHA256, parts(a.canonical_request).payload)
    assert.are.equal(a.authorization, b.authorization)
  end)

  it("hashes the exact body bytes", function()
    local a = assert(hcdl.sign(base{ method = "POST", body = '{"expiration":1800}' }))
    local b = assert(hcdl.sign(base{ method = "POST", body = '{"expiration": 1800}' }))
    assert.are_not.equal(parts(a.canonical_request).payload, parts(b.canonical_request).payload)
    assert.are_not.equal(a.authorization, b.authorization)
  end)

  it("uses X-Sdk-Content-Sha256 from the caller as the payload hash", function()
    local s = assert(hcdl.sign(base{ method = "POST", body = "anything",
      headers = { ["x-sdk-content-sha256"] = "UNSIGNED-PAYLOAD" } }))
    assert.are.equal("UNSIGNED-PAYLOAD", parts(s.canonical_request).payload)
    assert.matches("x%-sdk%-content%-sha256", s.signed_headers)
  end)

  it("signs Host and X-Sdk-Date and returns every header to send", function()
    local s = assert(hcdl.sign(base{ headers = { ["X-Project-Id"] = "p" } }))
    assert.are.equal("host;x-project-id;x-sdk-date", s.signed_headers)
    assert.are.equal("rds.cn-north-4.myhuaweicloud.com", s.headers.Host)
    assert.are.equal("20240101T000000Z", s.headers["X-Sdk-Date"])
    assert.are.equal("p", s.headers["X-Project-Id"])
    assert.are.equal(s.authorization, s.headers.Authorization)
  end)

  it("sends but does not sign header names containing '_'", function()
    local s = assert(hcdl.sign(base{ headers = { TEST_UNDERSCORE = "x" } }))
    assert.are.equal("host;x-sdk-date", s.signed_headers)
    assert.are.equal("x", s.headers.TEST_UNDERSCORE)
  end)

  it("trims header values for signing", function()
    local a = assert(hcdl.sign(base{ headers = { ["X-Language"] = "  en-us\t" } }))
    local b = assert(hcdl.sign(base{ headers = { ["X-Language"] = "en-us" } }))
    assert.are.equal(b.authorization, a.authorization)
  end)

  it("sends header values trimmed, and every header of a long list", function()
    local s = assert(hcdl.sign(base{ headers = { ["X-Language"] = "  en-us\t", ["X-A"] = "a b" } }))
    assert.are.equal("en-us", s.headers["X-Language"])
    assert.are.equal("a b", s.headers["X-A"])
    -- more headers than the signer first makes room for (it grows)
    local headers, names = {}, {}
    for i = 1, 60 do
      headers["X-H" .. i] = tostring(i)
      names[#names + 1] = "x-h" .. i
    end
    names[#names + 1] = "host"
    names[#names + 1] = "x-sdk-date"
    table.sort(names)
    s = assert(hcdl.sign(base{ headers = headers }))
    assert.are.equal(table.concat(names, ";"), s.signed_headers)
    for i = 1, 60 do assert.are.equal(tostring(i), s.headers["X-H" .. i]) end
    local sent = 0
    for _ in pairs(s.headers) do sent = sent + 1 end
    assert.are.equal(63, sent) -- the 60, Host, X-Sdk-Date, Authorization
  end)

  it("takes up to 1000 headers and refuses more", function()
    local headers = {}
    for i = 1, 1000 do headers["X-H" .. i] = "v" end
    assert.is_truthy(hcdl.sign(base{ headers = headers }))
    headers["X-H1001"] = "v"
    local s, err = hcdl.sign(base{ headers = headers })
    assert.is_nil(s)
    assert.are.equal("input", err.kind)
    assert.matches("more than 1000 headers", err.message, 1, true)
  end)

  it("defaults the date to now in UTC", function()
    local before = os.time()
    local req = base{}
    req.date = nil
    local s = assert(hcdl.sign(req))
    local y, mo, d, h, mi, se = s.date:match("^(%d%d%d%d)(%d%d)(%d%d)T(%d%d)(%d%d)(%d%d)Z$")
    assert.is_not_nil(y)
    -- compare as UTC calendar fields, not local time
    local now = os.date("!*t", before)
    local t = os.time{ year = tonumber(y), month = tonumber(mo), day = tonumber(d),
      hour = tonumber(h), min = tonumber(mi), sec = tonumber(se) }
    local n = os.time{ year = now.year, month = now.month, day = now.day,
      hour = now.hour, min = now.min, sec = now.sec }
    assert.is_true(math.abs(t - n) <= 5, "date " .. s.date .. " is not now in UTC")
    assert.are.equal(s.date, s.headers["X-Sdk-Date"])
  end)

  it("reuses an X-Sdk-Date header when no date is given", function()
    local req = base{ headers = { ["x-sdk-date"] = "20230724T012700Z" } }
    req.date = nil
    local s = assert(hcdl.sign(req))
    assert.are.equal("20230724T012700Z", s.date)
    assert.are.equal("20230724T012700Z", s.headers["X-Sdk-Date"])
    assert.is_nil(s.headers["x-sdk-date"])
  end)

  it("upper-cases the method", function()
    local s = assert(hcdl.sign(base{ method = "post" }))
    assert.are.equal("POST", parts(s.canonical_request).method)
  end)

  describe("refuses bad input with an error naming the field", function()
    local function refuses(field, over, rule)
      local s, err = hcdl.sign(base(over))
      assert.is_nil(s)
      assert.is_true(hcdl.is_error(err))
      assert.are.equal("input", err.kind)
      assert.are.equal(field, err.field)
      local text = tostring(err)
      assert.matches(field, text, 1, true)
      if rule then assert.matches(rule, text, 1, true) end
      assert.is_nil(text:find(SK, 1, true), "the secret key leaked into the error")
    end

    for _, field in ipairs{ "ak", "sk", "host", "method", "path" } do
      it(field .. " missing", function()
        local req = base{}
        req[field] = nil
        local s, err = hcdl.sign(req)
        assert.is_nil(s)
        assert.are.equal(field, err.field)
        assert.matches("required", err.message)
      end)
      it(field .. " not a string", function() refuses(field, { [field] = 42 }, "must be a string") end)
      it(field .. " a table", function() refuses(field, { [field] = {} }, "must be a string") end)
      it(field .. " empty", function() refuses(field, { [field] = "" }) end)
    end

    for _, bad in ipairs{ "2024-01-01T00:00:00Z", "20240101T000000", "20241301T000000Z",
                          "20240230T000000Z", "20230229T000000Z", "20240101T240000Z",
                          "20240101 000000Z", "", "x", "20240101T000000Z ", "99999999T999999Z" } do
      it("date " .. string.format("%q", bad), function()
        refuses("date", { date = bad }, "YYYYMMDDTHHMMSSZ")
      end)
    end
    it("date not a string", function() refuses("date", { date = 20240101 }, "must be a string") end)
    it("a leap day is a valid date", function()
      assert.is_truthy(hcdl.sign(base{ date = "20240229T235960Z" }))
    end)

    it("an unknown field (a typo must not sign a different request)", function()
      refuses("req", { heders = {} }, "unknown field 'heders'")
    end)
    it("a non-string key", function() refuses("req", { [1] = "x" }) end)
    it("method with non-letters", function() refuses("method", { method = "GE T" }) end)
    it("path without a leading slash", function() refuses("path", { path = "v3/x" }, "'/'") end)
    it("host with a scheme", function() refuses("host", { host = "https://x" }) end)
    it("ak with a comma", function() refuses("ak", { ak = "a,b" }) end)
    it("body not a string", function() refuses("body", { body = {} }, "must be a string") end)
    it("query not a table", function() refuses("query", { query = "a=b" }) end)
    it("query pair without a key", function() refuses("query", { query = { { 1, "v" } } }) end)
    it("query value a table in a pair", function() refuses("query", { query = { { "k", {} } } }) end)
    it("query value a fraction", function() refuses("query", { query = { limit = 1.5 } }, "integer") end)
    it("query mixing the two forms", function() refuses("query", { query = { { "a", "b" }, c = "d" } }) end)
    it("headers not a table", function() refuses("headers", { headers = "x" }) end)
    it("header name with a space", function() refuses("headers", { headers = { ["X Y"] = "v" } }) end)
    it("header value a number", function() refuses("headers", { headers = { ["X-Y"] = 5 } }) end)
    it("header value with CR LF, without echoing the value", function()
      local s, err = hcdl.sign(base{ headers = { ["X-Security-Token"] = "secret-token\r\nX-Evil: 1" } })
      assert.is_nil(s)
      assert.are.equal("headers", err.field)
      assert.is_nil(tostring(err):find("secret-token", 1, true))
    end)
    it("a header given twice in different case", function()
      refuses("headers", { headers = { ["X-Language"] = "a", ["x-language"] = "b" } }, "twice")
    end)
    it("an Authorization header", function() refuses("headers", { headers = { Authorization = "x" } }) end)
    it("a Host header", function() refuses("headers", { headers = { host = "x" } }) end)
    it("a bad X-Sdk-Date header", function()
      local req = base{ headers = { ["X-Sdk-Date"] = "yesterday" } }
      req.date = nil
      local s, err = hcdl.sign(req)
      assert.is_nil(s)
      assert.are.equal("headers", err.field)
    end)
  end)

  it("raises for a non-table argument (a programmer error)", function()
    assert.has_error(function() hcdl.sign("GET /") end)
    assert.has_error(function() hcdl.sign() end)
  end)

  -- The signer keeps the last HMAC key set (a client signs with one SK many
  -- times): every change of key, back and forth, must still sign with the
  -- key given.  The oracle is the openssl command, not hcdl.
  it("signs with the key given when keys alternate, repeat or are long", function()
    local a, b = "SecretKeyA-0123456789", "SecretKeyB-0123456789"
    local keys = { a, b, a, a, a .. "x", a:sub(1, -2), string.rep("K", 128),
                   string.rep("K", 129), string.rep("K", 129), string.rep("K", 128), a }
    for i, key in ipairs(keys) do
      local s = assert(hcdl.sign(base{ sk = key, query = { { "i", tostring(i) } } }))
      local name = os.tmpname()
      shell.write(name, s.string_to_sign)
      local out = shell.capture("openssl dgst -sha256 -hmac " .. shell.q(key) .. " -r " .. shell.q(name))
      os.remove(name)
      assert.are.equal(out:match("^(%x+)"), s.signature, "key " .. i)
    end
  end)

  it("signs large requests (many parameters, long values)", function()
    local q = {}
    for i = 1, 500 do q[#q + 1] = { "k" .. (1000 - i), string.rep("v", i) } end
    local s = assert(hcdl.sign(base{ query = q, body = string.rep("x", 1024 * 1024) }))
    assert.are.equal(500, select(2, s.query_string:gsub("&", "")) + 1)
    -- (no assert.matches here: a failure would print the whole string)
    assert.is_truthy(s.query_string:find("^k500=" .. string.rep("v", 500) .. "&k501=v"))
  end)
end)
