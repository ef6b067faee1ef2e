-- The answers' JSON decoder (src/json_decode.c, as core.json_decode) against
-- what it replaced: lua-cjson's decode (a private instance with
-- decode_max_depth 64, as src/hcdl.c makes it) followed by core.normalize.
-- Generated documents (nested objects and arrays, every escape, raw UTF-8
-- and control bytes, numbers of every form and size, nulls in objects and
-- arrays, nesting up to 64, whitespace between every token) and mutations
-- of them must decode to the same value, type for type (math.type on Lua
-- 5.3+), byte for byte, null set for null set, or be refused by both.
--
-- Seeded: HCDL_JSON_SEED=<n> replays (the seed is printed, and is in every
-- failure's message); HCDL_JSON_DOCS=<n> sets the count (by default 3000,
-- 1000 under ASan, 300 under valgrind).
local core = require "hcdl.core"
local seeded = require "tests.support.seeded"

local function under(word)
  return (os.getenv("LD_PRELOAD") or ""):find(word, 1, true) or (os.getenv("HCDL_BUILD") or ""):find(word, 1, true)
end

local SEED = tonumber(os.getenv("HCDL_JSON_SEED") or "") or (os.time() % 1000000)
local DOCS = tonumber(os.getenv("HCDL_JSON_DOCS") or "")
  or (under("vgpreload") and 300) or (under("asan") and 1000) or 3000
local function why(s) return ("%s (seed %d: HCDL_JSON_SEED=%d replays)"):format(s, SEED, SEED) end

local cjson = require("cjson.safe").new()
cjson.decode_max_depth(64)
local NULL = require("hcdl").null

-- What the answer parser produced before src/json_decode.c.
local function before(s)
  local v = cjson.decode(s)
  if type(v) == "table" then v = core.normalize(v) end
  return v
end

local function keys(t)
  local out = {}
  for k in pairs(t) do out[#out + 1] = k end
  table.sort(out, function(a, b)
    if type(a) ~= type(b) then return type(a) < type(b) end
    return a < b
  end)
  return out
end

-- nil when a and b are the same value, else where and how they differ.
local function differ(a, b, path)
  path = path or "$"
  if type(a) ~= type(b) then return ("%s: %s vs %s"):format(path, type(a), type(b)) end
  if type(a) == "number" then
    if math.type and math.type(a) ~= math.type(b) then
      return ("%s: %s %s vs %s %s"):format(path, math.type(a), tostring(a), math.type(b), tostring(b))
    end
    if a ~= a then
      if b == b or tostring(a) ~= tostring(b) then return ("%s: %s vs %s"):format(path, tostring(a), tostring(b)) end
    elseif a ~= b or (a == 0 and 1 / a ~= 1 / b) then
      return ("%s: %.17g vs %.17g"):format(path, a, b)
    end
    return nil
  end
  if type(a) ~= "table" then
    if not rawequal(a, b) then return ("%s: %q vs %q"):format(path, tostring(a), tostring(b)) end
    return nil
  end
  local ma, mb = getmetatable(a), getmetatable(b)
  if (ma == nil) ~= (mb == nil) then return path .. ": a metatable on one side only" end
  if ma then
    if #keys(ma) ~= 1 or #keys(mb) ~= 1 then return path .. ": a metatable with more than hcdl_nulls" end
    local na, nb = ma.hcdl_nulls, mb.hcdl_nulls
    local ka, kb = table.concat(keys(na), ","), table.concat(keys(nb), ",")
    if ka ~= kb then return ("%s: nulls {%s} vs {%s}"):format(path, ka, kb) end
    for k, v in pairs(nb) do
      if v ~= true then return path .. ": null set value for " .. tostring(k) end
    end
  end
  if #a ~= #b then return ("%s: length %d vs %d"):format(path, #a, #b) end
  local ka, kb = keys(a), keys(b)
  if #ka ~= #kb then return ("%s: %d keys vs %d"):format(path, #ka, #kb) end
  for i, k in ipairs(ka) do
    if kb[i] ~= k or (math.type and math.type(k) ~= math.type(kb[i])) then
      return ("%s: key %s vs %s"):format(path, tostring(k), tostring(kb[i]))
    end
    local d = differ(a[k], b[k], path .. "." .. tostring(k))
    if d then return d end
  end
  return nil
end

-- ---- the generator ----

local WS = { " ", "\t", "\n", "\r" }
local PLAIN = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 _-.:/?&=%+~!@#$^*()[]{},;'<>|`"
local RAW = { "\195\169", "\228\184\173", "\240\159\146\128", "\239\187\191", "\226\128\168", "\255", "\192\175",
  "\237\160\128", "\127" }
local SIMPLE = { '\\"', "\\\\", "\\/", "\\b", "\\f", "\\n", "\\r", "\\t" }
local EDGE_CODES = { 0x0000, 0x001f, 0x007f, 0x0080, 0x07ff, 0x0800, 0xd7ff, 0xe000, 0xfffd, 0xfeff, 0xffff }
local EDGE_NUMBERS = {
  "0", "-0", "0.0", "-0.0", "0e0", "-0E+0", "0e-400", "1", "-1", "5.0", "1E2", "1e-2", "0.1", "0.3", "2.5", "-2.5",
  "9007199254740991", "9007199254740992", "9007199254740993", "-9007199254740992", "-9007199254740993",
  "9007199254740992.0", "9007199254740991.5", "18014398509481984", "9223372036854775807", "9223372036854775808",
  "-9223372036854775808", "18446744073709551615", "18446744073709551616", "123456789012345678901234567890",
  "1e15", "1e22", "1e23", "1.5e300", "1e308", "1.7976931348623157e308", "1.8e308", "-1e999", "2.2250738585072014e-308",
  "4.9e-324", "5e-324", "2e-324", "1e-400", "0.30000000000000004", "3.141592653589793238462643383279",
  "0.000001", "100000000000000000000000e-10", "1234567890123456789", "12345678901234567890",
  "0.1234567890123456789", "4503599627370496.5", "4503599627370497.5", "1.00000000000000011102230246251565404236316680908203125",
  -- lua-cjson reads numbers with strtod: these are accepted, and must stay so
  "NaN", "-nan", "Infinity", "-Infinity", "inf", "-INF", "+1", "+1.5e3", "01", "-007", "1.", "-1.e3", "0x1F",
  "-0X10", "0x1p3", "0x.8", "nan(123)",
}

local function generator(seed)
  local g = seeded.numbers(seed)
  local gen = {}

  local function pick(t) return t[g(1, #t)] end
  local function ws()
    if g(1, 10) <= 6 then return "" end
    local t = {}
    for i = 1, g(1, 3) do t[i] = pick(WS) end
    return table.concat(t)
  end
  local function hex4(v)
    local h = ("%04x"):format(v)
    if g(0, 1) == 1 then h = h:upper() end
    return "\\u" .. h
  end

  function gen.string()
    local t = { '"' }
    for _ = 1, g(0, 8) do
      local kind = g(1, 12)
      if kind <= 4 then
        local n = g(1, kind == 1 and 60 or 8)
        for _ = 1, n do
          local i = g(1, #PLAIN)
          t[#t + 1] = PLAIN:sub(i, i)
        end
      elseif kind == 5 then
        t[#t + 1] = pick(RAW)
      elseif kind == 6 then
        t[#t + 1] = string.char(g(1, 31)) -- lua-cjson takes raw control bytes
      elseif kind == 7 then
        t[#t + 1] = pick(SIMPLE)
      elseif kind == 8 then
        t[#t + 1] = hex4(pick(EDGE_CODES))
      elseif kind <= 10 then
        local v = g(0, 0xffff)
        if v >= 0xd800 and v <= 0xdfff then v = v - 0x800 end
        t[#t + 1] = hex4(v)
      else
        t[#t + 1] = hex4(g(0xd800, 0xdbff)) .. hex4(g(0xdc00, 0xdfff)) -- a surrogate pair
      end
    end
    t[#t + 1] = '"'
    return table.concat(t)
  end

  local function digits(n, first_nonzero)
    local t = {}
    for i = 1, n do t[i] = tostring(i == 1 and first_nonzero and g(1, 9) or g(0, 9)) end
    return table.concat(t)
  end

  function gen.number()
    local kind = g(1, 10)
    if kind <= 3 then return pick(EDGE_NUMBERS) end
    if kind <= 5 then return tostring(g(-100000, 100000)) end
    local t = { g(0, 3) == 0 and "-" or "" }
    t[#t + 1] = g(0, 4) == 0 and "0" or digits(g(1, kind == 6 and 25 or 17), true)
    if g(0, 1) == 1 then t[#t + 1] = "." .. digits(g(1, kind == 7 and 25 or 6)) end
    if g(0, 2) == 0 then
      t[#t + 1] = pick{ "e", "E" } .. pick{ "", "+", "-" } .. digits(g(1, 3))
    end
    return table.concat(t)
  end

  local KEYS = { '"a"', '"b"', '"id"', '"name"', '"1"', '""', '"size"', '"a"' }

  -- A value at depth (the objects and arrays around it).
  function gen.value(depth, wide)
    local kind = g(1, depth < 6 and 10 or 14)
    if depth < 64 and kind <= 2 then return gen.object(depth + 1, wide) end
    if depth < 64 and kind <= 4 then return gen.array(depth + 1, wide) end
    if kind <= 6 then return gen.string() end
    if kind <= 8 then return gen.number() end
    if kind <= 10 then return "null" end
    return pick{ "true", "false", "null" }
  end

  -- wide: sometimes past 32 members (src/json_decode.c's COLLECT); only
  -- the outer table, or the documents would grow without bound
  local function members(depth, wide, one)
    local n = wide and g(0, 3) == 0 and g(30, 70) or g(0, 6)
    local t = {}
    for i = 1, n do t[i] = ws() .. one(depth, false) .. ws() end
    return table.concat(t, ","), n
  end

  function gen.object(depth, wide)
    local body, n = members(depth, wide, function(d, w)
      local key = g(1, 3) == 1 and pick(KEYS) or gen.string()
      local v = g(1, 5) == 1 and "null" or gen.value(d, w)
      return key .. ws() .. ":" .. ws() .. v
    end)
    return "{" .. (n == 0 and ws() or body) .. "}"
  end

  function gen.array(depth, wide)
    local body, n = members(depth, wide, gen.value)
    return "[" .. (n == 0 and ws() or body) .. "]"
  end

  -- Nesting near the limit: depth levels of objects and arrays around a value.
  function gen.deep(levels)
    local open, close = {}, {}
    for i = 1, levels do
      if g(0, 1) == 0 then
        open[i], close[levels - i + 1] = "[" .. ws() .. (g(0, 1) == 0 and "null," or ""), ws() .. "]"
      else
        open[i], close[levels - i + 1] = "{" .. ws() .. '"k' .. i .. '":' .. ws(), ws() .. "}"
      end
    end
    return table.concat(open) .. gen.value(64, false) .. table.concat(close)
  end

  function gen.document(i)
    local kind = g(1, 20)
    local doc
    if kind == 1 then doc = gen.deep(g(55, 64))
    elseif kind == 2 then doc = gen.value(0, true)
    elseif kind <= 12 then doc = gen.object(1, kind <= 5)
    else doc = gen.array(1, kind <= 14) end
    return ws() .. doc .. ws(), i
  end

  -- A damaged copy of s: bytes cut, inserted or changed, or the end cut off.
  local INSERTS = { "{", "}", "[", "]", ",", ":", '"', "\\", "\0", "n", "e", ".", "-", "u", "0", " ", "\255" }
  function gen.mutate(s)
    local kind, n = g(1, 4), #s
    local at = g(1, math.max(n, 1))
    if kind == 1 then return s:sub(1, at - 1) end
    if kind == 2 then return s:sub(1, at - 1) .. s:sub(at + 1) end
    if kind == 3 then return s:sub(1, at - 1) .. pick(INSERTS) .. s:sub(at) end
    return s:sub(1, at - 1) .. pick(INSERTS) .. s:sub(at + 1)
  end

  return gen
end

-- Both decoders on s: nil when they agree, else what differs.
local function compare(s)
  local a, b = before(s), core.json_decode(s)
  if a == nil or b == nil then
    if a ~= nil or b ~= nil then
      return ("lua-cjson %s, json_decode %s"):format(a == nil and "refuses" or "accepts",
        b == nil and "refuses" or "accepts")
    end
    return nil, false
  end
  return differ(a, b), true
end

local function shown(s)
  return #s > 300 and (("%q"):format(s:sub(1, 300)) .. "...") or ("%q"):format(s)
end

describe("core.json_decode (the answers' decoder)", function()
  setup(function()
    io.stderr:write(("\n[json_decode] %d documents, seed %d\n"):format(DOCS, SEED))
  end)

  it("decodes generated documents exactly as lua-cjson + core.normalize", function()
    local gen, accepted = generator(SEED), 0
    for i = 1, DOCS do
      local doc = gen.document(i)
      local d, ok = compare(doc)
      if d then error(why(("document %d %s: %s"):format(i, shown(doc), d)), 0) end
      assert(ok, why(("document %d was refused by both: %s"):format(i, shown(doc))))
      accepted = accepted + 1
    end
    assert.are.equal(DOCS, accepted)
  end)

  it("accepts and refuses damaged documents as lua-cjson does, and reads the accepted alike", function()
    local gen, both_ok, both_refused = generator(SEED + 1), 0, 0
    for i = 1, DOCS do
      local doc = gen.document(i)
      for j = 1, 3 do
        local bad = gen.mutate(doc)
        local d, ok = compare(bad)
        if d then error(why(("mutation %d of document %d %s: %s"):format(j, i, shown(bad), d)), 0) end
        if ok then both_ok = both_ok + 1 else both_refused = both_refused + 1 end
      end
    end
    -- the mutations exercise both sides of the rule
    assert(both_refused > DOCS, why(("only %d refused"):format(both_refused)))
    assert(both_ok > 0, why("no mutation was accepted"))
  end)

  it("refuses what lua-cjson refuses", function()
    local deep = string.rep("[", 65) .. string.rep("]", 65)
    local deep_objects = string.rep('{"a":', 65) .. "1" .. string.rep("}", 65)
    local mixed = string.rep('[{"a":', 32) .. "[1]" .. string.rep("}]", 32) -- 65 levels
    for _, s in ipairs{
      "", " ", "\n\t", "{", "[", "]", "}", '{"a"', '{"a":', '{"a":1', "[1,", "[1,]", '{"a":1,}', "{,}", "[,1]",
      '{"a" 1}', "{a:1}", "{'a':1}", '{"a":1 "b":2}', "[1 2]", "[1] x", "{} {}", "{}}", "[1]]",
      "tru", "nul", "fals", "[True]", "[NULL]", "[none]", "[Inx]", "[truex]", "[nulls]",
      "[.5]", "[-]", "[--1]", "[1e]", "[1e+]", "[1.5e]", "[0x]", "[1.5.5]", "[1_000]", "[- 1]", "[1-2]", "[0x1g]",
      '"abc', '["\\x"]', '["\\U0041"]', '["\\u12"]', '["\\u12G4"]', '["\\u"]', '["\\', '["\\"]',
      '["\\uD800"]', '["\\udbff"]', '["\\uDC00"]', '["\\uDFFF\\uDC00"]', '["\\uD800\\u0041"]', '["\\uD800x"]',
      '["\\uDBFF\\uDBFF"]', '["\\uD800\\"]', '["\\uD800\\u"]', '["\\uD800\\uDC0"]',
      '["a\0b"]', '{"a\0":1}', "1\0", "\0{}", "\0", "[1\0]", "\239\187\191{}", "[\f1]", "[\v1]", "[1,\f2]",
      "/*c*/{}", "{}//c", "[1,,2]", deep, deep_objects, mixed, string.rep("[", 10000),
    } do
      assert.is_nil(before(s), "lua-cjson accepts " .. shown(s))
      assert.is_nil(core.json_decode(s), "json_decode accepts " .. shown(s))
    end
  end)

  it("accepts what lua-cjson accepts beyond the JSON grammar, with the same values", function()
    local depth64 = string.rep("[", 64) .. string.rep("]", 64)
    local objects64 = string.rep('{"a":', 63) .. "[]" .. string.rep("}", 63)
    for _, s in ipairs{
      "[NaN]", "[-nan]", "[Infinity]", "[-Infinity]", "[+Inf]", "[INFINITY]", "[nan(123)]", "[0x10]", "[-0X1p3]",
      "[+1]", "[01]", "[-00]", "[1.]", "[1.e5]", "NaN", "nan", "inf", "+1", "01", "0x10",
      "{}\0junk", "[1]\0", "[1] \0 x", '["\1\2\31\127"]', '["\255\254"]', '{"\9":"\10"}',
      depth64, objects64,
    } do
      assert.is_not_nil(before(s), "lua-cjson refuses " .. shown(s))
      local d = compare(s)
      assert.is_nil(d, shown(s) .. ": " .. tostring(d))
    end
  end)

  it("reads escapes and surrogate pairs to the UTF-8 lua-cjson makes", function()
    local t = assert(core.json_decode('["\\u0000", "\\u00e9\\u00C9", "\\u20ac", "\\uFFFF", "\\uD83D\\uDE00",'
      .. ' "\\udbff\\udfff", "\\"\\\\\\/\\b\\f\\n\\r\\t", "a\\u0041b"]'))
    assert.are.same({ "\0", "\195\169\195\137", "\226\130\172", "\239\191\191", "\240\159\152\128",
      "\244\143\191\191", '"\\/\b\f\n\r\t', "aAb" }, t)
  end)

  it("leaves object nulls out and records them; keeps array nulls as the decoder's null", function()
    local t = assert(core.json_decode('{"a":null,"b":[null,{"c":null,"d":1}],"e":{}}'))
    assert.is_nil(t.a)
    assert.are.same({ a = true }, getmetatable(t).hcdl_nulls)
    assert.is_true(rawequal(NULL, t.b[1]))
    assert.are.same({ c = true }, getmetatable(t.b[2]).hcdl_nulls)
    assert.is_nil(getmetatable(t.e))
    assert.is_nil(getmetatable(t.b))
    -- a name given twice: the last member counts, as in lua-cjson
    assert.is_nil(getmetatable(assert(core.json_decode('{"a":null,"a":1}'))))
    local u = assert(core.json_decode('{"a":1,"a":null}'))
    assert.is_nil(u.a)
    assert.are.same({ a = true }, getmetatable(u).hcdl_nulls)
    assert.is_true(rawequal(NULL, core.json_decode("null")))
  end)

  it("gives objects and arrays of any size, nulls before and after the first 32 members", function()
    local gen = generator(SEED + 2)
    for n = 28, 70 do
      local members, elements = {}, {}
      for i = 1, n do
        local v = (i % 7 == 0 or i == n) and "null" or gen.number()
        members[i] = ('"k%d":%s'):format(i % 40, v) -- names repeat past 40
        elements[i] = v
      end
      for _, s in ipairs{ "{" .. table.concat(members, ",") .. "}", "[" .. table.concat(elements, ",") .. "]",
        '{"x":[' .. table.concat(elements, ",") .. '],"y":{' .. table.concat(members, ",") .. "}}" } do
        local d, ok = compare(s)
        assert.is_true(ok, why(shown(s)))
        assert.is_nil(d, why(shown(s) .. ": " .. tostring(d)))
      end
    end
    local big = {}
    for i = 1, 100000 do big[i] = tostring(i) end
    local t = assert(core.json_decode("[" .. table.concat(big, ",") .. "]"))
    assert.are.equal(100000, #t)
    assert.are.equal(100000, t[100000])
  end)

  it("keeps a number that is the whole text as lua-cjson gives it (normalize converts inside tables)", function()
    assert.are.equal(5, core.json_decode("5"))
    assert.are.equal(5, core.json_decode("[5]")[1])
    if math.type then
      assert.are.equal("float", math.type(core.json_decode("5")))
      assert.are.equal("integer", math.type(core.json_decode("[5]")[1]))
      assert.are.equal("integer", math.type(core.json_decode("[9007199254740992]")[1]))
      assert.are.equal("float", math.type(core.json_decode("[9007199254740994]")[1]))
      assert.are.equal("integer", math.type(core.json_decode("[-0]")[1]))
    end
  end)
end)
