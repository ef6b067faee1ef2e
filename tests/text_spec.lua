-- The one escaping of text shown to people (hcdl.text, src/text.c) and the
-- faithful JSON of --json (hcdl.cli.jsonout): the documented conventions,
-- byte for byte.
local cjson = require "cjson"
local core = require "hcdl.core"
local text = require "hcdl.text"
local jsonout = require "hcdl.cli.jsonout"
local hcdl = require "hcdl"

describe("text.visible", function()
  it("keeps printable ASCII and valid UTF-8 as they are", function()
    local s = "backup_2023-07-24 (full).qp \\ caf\195\169 \228\184\173\230\150\135 \240\159\146\128"
    assert.are.equal(s, text.visible(s))
  end)

  it("writes each control byte as an escape: \\n \\r \\t, else \\xNN", function()
    assert.are.equal("a\\nb\\rc\\td", text.visible("a\nb\rc\td"))
    assert.are.equal("\\x1b]0;t\\x07\\x1b[2J\\x00\\x7f", text.visible("\27]0;t\7\27[2J\0\127"))
    for b = 0, 31 do
      local v = text.visible(string.char(b))
      assert.matches("^\\[nrtx]", v)
    end
  end)

  it("writes each byte that is not valid UTF-8 as \\xNN", function()
    assert.are.equal("\\xff\\xfe", text.visible("\255\254"))
    assert.are.equal("\\xc3(", text.visible("\195("))          -- truncated sequence
    assert.are.equal("\\xc0\\xaf", text.visible("\192\175"))  -- overlong /
    assert.are.equal("\\xed\\xa0\\x80", text.visible("\237\160\128")) -- a surrogate
    assert.are.equal("\\xf4\\x90\\x80\\x80", text.visible("\244\144\128\128")) -- past U+10FFFF
  end)

  it("writes C1 controls, separators and bidi/invisible format characters as \\u{XXXX}", function()
    assert.are.equal("\\u{009b}31m", text.visible("\194\15531m"))
    assert.are.equal("\\u{202e}x\\u{2028}\\u{feff}\\u{200b}", text.visible("\226\128\174x\226\128\168\239\187\191\226\128\139"))
  end)

  it("cuts to max characters with … and a count of the bytes left out", function()
    assert.are.equal("abc… (7 more bytes)", text.visible("abcdefghij", 3))
    assert.are.equal("abcdefghij", text.visible("abcdefghij", 10))
    assert.are.equal("\\x1b\\x1b… (1 more bytes)", text.visible("\27\27\27", 2))
  end)

  it("shows what tostring shows of a non-string", function()
    assert.are.equal("12", text.visible(12))
    assert.are.equal("nil", text.visible(nil))
  end)

  it("is what tostring(err) applies to every field, bounded", function()
    local err = core.error{ kind = "api", code = "X\27", message = "a\nb" .. ("m"):rep(5000), request_id = "\255", status = 400 }
    local s = tostring(err)
    assert.are.equal(1, select(2, s:gsub("\n", "\n")) + 1)
    assert.matches("^hcdl api error %(HTTP 400%) X\\x1b: a\\nbm", s)
    assert.matches("(request id \\xff)", s, 1, true)
    assert.matches("more bytes) (request id", s, 1, true)
    assert(#s < 1200)
    -- a float code, a NaN status: shown or left out, never a raise
    assert.matches("api error 401.5: m", tostring(core.error{ kind = "api", code = 401.5, message = "m", status = 0 / 0 }))
  end)
end)

describe("hcdl.cli.jsonout", function()
  it("writes nulls in arrays and the null fields of parsed objects as null", function()
    local parsed = assert(core.parse("list_backup_file_links", { status = 200, headers = {},
      body = '{"links":[{"file_name":"a","link":null}],"bucket_name":"b","extra":[null,1,null]}' }))
    assert.are.equal(hcdl.null, parsed.extra[1])
    assert.are.equal('{"bucket_name":"b","extra":[null,1,null],"links":[{"file_name":"a","link":null}]}',
      jsonout.object(parsed))
  end)

  it("writes NaN and infinities as null and lists their paths in unrepresentable", function()
    local s = jsonout.object{ a = 0 / 0, b = { 1, math.huge }, c = { d = -math.huge }, e = 1.5, f = 3 }
    local doc = cjson.decode(s)
    assert.are.equal(cjson.null, doc.a)
    assert.are.same({ 1, cjson.null }, doc.b)
    assert.are.same({ "a", "b/1", "c/d" }, doc.unrepresentable)
    assert.are.equal(1.5, doc.e)
    assert.matches('"f":3[,}]', s)
  end)

  it("replaces bytes that are not UTF-8 by U+FFFD and lists the field; escapes controls", function()
    local s = jsonout.object{ name = "a\255b", ok = "\27[2J\n\226\128\168", ["k\255"] = 1 }
    assert.matches('"name":"a\239\191\189b"', s, 1, true)
    assert.matches('"ok":"\\u001b[2J\\n\\u2028"', s, 1, true)
    local doc = cjson.decode(s)
    table.sort(doc.unrepresentable)
    assert.are.same({ "k\239\191\189", "name" }, doc.unrepresentable)
  end)

  it("never drops a value: 10,000 entries, every one written", function()
    local list = {}
    for i = 1, 10000 do list[i] = { i = i, x = i % 7 == 0 and 0 / 0 or i } end
    local doc = cjson.decode(jsonout.encode(list))
    assert.are.equal(10000, #doc)
    assert.are.equal(cjson.null, doc[7].x)
  end)
end)
