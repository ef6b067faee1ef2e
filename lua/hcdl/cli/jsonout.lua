--- hcdl.cli.jsonout: JSON that says exactly what the service said, for
-- `hcdl --json` (people's pipes, jq, scripts).
--
-- lua-cjson's encoder drops a whole value over one NaN (the entry
-- vanished), writes bytes that are not UTF-8 as they are (strict readers
-- then refuse the whole document) and cannot know which object fields
-- were null.  So hcdl writes its own, and the conventions are (README,
-- "What hcdl prints"):
--   * nothing is dropped: every entry, every field;
--   * null stays null: in arrays (hcdl.null) and in objects (the keys the
--     answers' decoder recorded as null, src/json_decode.c);
--   * a number JSON cannot carry (NaN, +-infinity) is written null, and a
--     string with bytes that are not UTF-8 has each such byte replaced by
--     U+FFFD; either way the field's path is listed in the entry's
--     "unrepresentable" array (a top-level field by its name, a nested one
--     as a JSON Pointer without the leading "/": "tags/0", "a/b");
--   * an empty table is written [] (the decoder makes [] and {} alike);
--   * keys are sorted, so equal answers give equal output.
local core = require "hcdl.core"
local null = require("hcdl.json").null

local jsonout = {}

local MAX_DEPTH = 1000 -- deeper than any decoder hands over

local ESCAPES = { ['"'] = '\\"', ["\\"] = "\\\\", ["\n"] = "\\n", ["\r"] = "\\r", ["\t"] = "\\t",
  ["\b"] = "\\b", ["\f"] = "\\f" }

local function quote(s)
  s = s:gsub('[%z\1-\31"\\]', function(c)
    return ESCAPES[c] or ("\\u%04x"):format(c:byte())
  end)
  -- U+2028/2029 end a line for JavaScript readers
  s = s:gsub("\226\128\168", "\\u2028"):gsub("\226\128\169", "\\u2029")
  return '"' .. s .. '"'
end

local function pointer_part(k)
  return (tostring(k):gsub("~", "~0"):gsub("/", "~1"))
end

local function number(v)
  if v ~= v or v == math.huge or v == -math.huge then return nil end
  if math.type and math.type(v) == "integer" then return ("%d"):format(v) end
  if v == math.floor(v) and math.abs(v) < 2 ^ 53 then return ("%.0f"):format(v) end
  return ("%.17g"):format(v)
end

-- Whether t holds exactly the keys 1..n (an empty table counts).
local function is_array(t)
  local n, count = #t, 0
  for k in pairs(t) do
    if type(k) ~= "number" or k < 1 or k > n or k ~= math.floor(k) then return false end
    count = count + 1
  end
  return count == n
end

local function null_keys(t)
  local mt = getmetatable(t)
  return type(mt) == "table" and type(rawget(mt, "hcdl_nulls")) == "table" and rawget(mt, "hcdl_nulls") or nil
end

local encode

local function string_value(s, path, unrep)
  local repaired, bad = core.utf8_repair(s)
  if bad > 0 then unrep[#unrep + 1] = path end
  return quote(repaired)
end

local function child_path(path, k)
  local part = pointer_part(type(k) == "number" and k - 1 or k)
  return path == "" and part or (path .. "/" .. part)
end

local function object(t, path, unrep, depth)
  local keys, seen = {}, {}
  for k in pairs(t) do
    keys[#keys + 1] = k
    seen[k] = true
  end
  for k in pairs(null_keys(t) or {}) do
    if not seen[k] then keys[#keys + 1] = k end
  end
  table.sort(keys, function(a, b) return tostring(a) < tostring(b) end)
  local parts = {}
  for i, k in ipairs(keys) do
    local ks = tostring(k)
    local kpath = child_path(path, ks)
    local v = t[k]
    if v == nil then v = null end
    parts[i] = string_value(ks, kpath, unrep) .. ":" .. encode(v, kpath, unrep, depth + 1)
  end
  return "{" .. table.concat(parts, ",") .. "}"
end

--- The JSON text of v; paths of values written other than as they are
-- go to the list unrep (see the module comment).  path: v's own path.
function encode(v, path, unrep, depth)
  local t = type(v)
  if v == null or v == nil then return "null" end
  if t == "string" then return string_value(v, path, unrep) end
  if t == "boolean" then return v and "true" or "false" end
  if t == "number" then
    local s = number(v)
    if not s then unrep[#unrep + 1] = path end
    return s or "null"
  end
  if t ~= "table" or depth > MAX_DEPTH then
    unrep[#unrep + 1] = path -- a function or userdata: no JSON for it
    return "null"
  end
  if next(null_keys(v) or {}) ~= nil or not is_array(v) then return object(v, path, unrep, depth) end
  local parts = {}
  for i = 1, #v do parts[i] = encode(v[i], child_path(path, i), unrep, depth + 1) end
  return "[" .. table.concat(parts, ",") .. "]"
end

--- An object's JSON text: its fields, plus "unrepresentable" (the paths
-- of the fields JSON could not carry as they are) when there are any.
function jsonout.object(t)
  local unrep = {}
  local text = encode(t, "", unrep, 0)
  if #unrep == 0 or text:sub(1, 1) ~= "{" then return text end
  local list = encode(unrep, "", {}, 0)
  if text == "{}" then return '{"unrepresentable":' .. list .. "}" end
  return text:sub(1, -2) .. ',"unrepresentable":' .. list .. "}"
end

--- Any value's JSON text (paths it could not carry are dropped).
function jsonout.encode(v)
  return encode(v, "", {}, 0)
end

return jsonout
