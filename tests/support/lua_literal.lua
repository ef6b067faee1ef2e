-- A Lua value (strings, numbers, booleans, tables of them) as Lua source,
-- for scripts a spec runs in another process.
local function literal(v)
  local t = type(v)
  if t == "string" then return ("%q"):format(v) end
  if t == "number" or t == "boolean" or t == "nil" then return tostring(v) end
  if t == "table" then
    local keys = {}
    for k in pairs(v) do keys[#keys + 1] = k end
    table.sort(keys, function(a, b) return tostring(a) < tostring(b) end)
    local parts = {}
    for _, k in ipairs(keys) do
      parts[#parts + 1] = ("[%s] = %s"):format(literal(k), literal(v[k]))
    end
    return "{ " .. table.concat(parts, ", ") .. " }"
  end
  error("lua_literal: cannot write a " .. t)
end
return literal
