--- hcdl.params: the check every helper gives its parameter table first.
-- A non-table is a programmer error (raised); a name the helper does not
-- know, or a value of the wrong type, is an "input" error naming it,
-- returned before any request: nothing is silently ignored.
local core = require "hcdl.core"

local params = {}

--- known: a list of names, or a map of name -> Lua type name.  level: the
-- stack level to blame for a non-table (the helper's caller: 3 from a
-- function that calls this directly).  Returns true, or nil, err.
function params.check(what, t, known, level)
  if type(t) ~= "table" then
    error(("hcdl: %s expects a table of parameters"):format(what), level or 3)
  end
  local types, names = {}, {}
  if #known > 0 then
    for _, k in ipairs(known) do types[k], names[#names + 1] = true, k end
  else
    for k, ty in pairs(known) do types[k], names[#names + 1] = ty, k end
    table.sort(names)
  end
  for k, v in pairs(t) do
    local want = types[k]
    if not want then
      return nil, core.error{ kind = "input", field = tostring(k), message = ("%s: unknown parameter for %s "
        .. "(known: %s)"):format(tostring(k), what, table.concat(names, ", ")) }
    end
    if want ~= true and type(v) ~= want then
      return nil, core.error{ kind = "input", field = k, message = ("%s: must be a %s, got %s"):format(
        k, want, type(v)) }
    end
  end
  return true
end

return params
