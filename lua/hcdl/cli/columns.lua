--- hcdl.cli.columns: the tables people see, from a row's columns (hcdl.cli.rows):
-- { HEADER, field, as = format } with format one of FORMAT's names (text
-- by default).  output.table makes the cells visible and cuts them.
local output = require "hcdl.cli.output"

local columns = {}

local function text(v)
  if v == nil or v == output.null then return "-" end
  return tostring(v)
end

local FORMAT = {
  text = text,
  bytes = function(v) return (v ~= nil and v ~= output.null) and output.bytes(v) or "-" end,
  -- a library file entry: its name, its size as the service says it
  entry_name = function(_, entry) return output.describe(entry).name or "?" end,
  entry_size = function(_, entry) return output.size(entry) end,
}

--- The headers and the cells of records under cols.
function columns.render(cols, records)
  local headers, cells = {}, {}
  for i, col in ipairs(cols) do headers[i] = col[1] end
  for r, record in ipairs(records) do
    cells[r] = {}
    for i, col in ipairs(cols) do
      local value = col[2] and record[col[2]]
      cells[r][i] = FORMAT[col.as or "text"](value, record)
    end
  end
  return headers, cells
end

--- Writes records as a table under cols on out.
function columns.write(out, cols, records)
  local headers, cells = columns.render(cols, records)
  output.table(out, headers, cells)
end

--- What --json adds to each record: its columns' fields (null for a
-- missing one when the column says json_null).
function columns.fields(cols, record)
  local o = {}
  for _, col in ipairs(cols) do
    if col[2] then
      local v = record[col[2]]
      if v == nil and col.json_null then v = output.null end
      o[col[2]] = v
    end
  end
  return o
end

return columns
