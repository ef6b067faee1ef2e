--- hcdl.cli.output: what `hcdl` writes on stdout: a table for people,
-- one JSON object for programs, or only the links (for xargs).
--
-- Tables and messages never show a link: its query is a signature.  The
-- links appear only where they were asked for (--links, "link" in --json).
local cjson = require "hcdl.json"
local entry_mod = require "hcdl.entry"

local output = {}

local UNITS = { "B", "KiB", "MiB", "GiB", "TiB" }

--- 1536 -> "1.5 KiB"; nil -> "-".
function output.bytes(n)
  if type(n) ~= "number" then return "-" end
  local i = 1
  while n >= 1024 and i < #UNITS do
    n, i = n / 1024, i + 1
  end
  if i == 1 then return ("%d B"):format(math.floor(n + 0.5)) end
  return ("%.1f %s"):format(n, UNITS[i])
end

--- What hcdl knows of an entry (name, link, size in bytes or nil), the
-- library's reading of the five APIs' fields.
function output.describe(entry)
  local info = entry_mod.describe(entry)
  if not info then return { name = "?" } end
  local size = info.exact or (info.kb and info.kb * 1024) or nil
  return { name = info.name, link = info.url, size = size, approximate = info.exact == nil and size ~= nil }
end

--- The size column: "~" marks a size the service gives in KB.
function output.size(entry)
  local d = output.describe(entry)
  if not d.size then return "-" end
  return (d.approximate and "~" or "") .. output.bytes(d.size)
end

--- Writes rows (lists of strings) under headers, columns aligned.
function output.table(out, headers, rows)
  local widths = {}
  for i, h in ipairs(headers) do widths[i] = #h end
  for _, row in ipairs(rows) do
    for i, cell in ipairs(row) do
      if #cell > widths[i] then widths[i] = #cell end
    end
  end
  local function line(cells)
    local parts = {}
    for i, cell in ipairs(cells) do
      parts[i] = i < #cells and cell .. (" "):rep(widths[i] - #cell) or cell
    end
    out:write(table.concat(parts, "  "), "\n")
  end
  line(headers)
  for _, row in ipairs(rows) do line(row) end
end

-- A copy of the entry as JSON can carry it: the service's fields (string
-- keys only), plus what `extra` adds.
local function json_object(entry, extra)
  local o = {}
  if type(entry) == "table" then
    for k, v in pairs(entry) do
      if type(k) == "string" then o[k] = v end
    end
  end
  for k, v in pairs(extra) do o[k] = v end
  return o
end

--- Writes {"files": [...]}: each entry's fields plus "link", plus
-- extras[i] (path, status, error after a download).
function output.json(out, entries, extras)
  local items = {}
  for i, entry in ipairs(entries) do
    local extra = { link = output.describe(entry).link }
    for k, v in pairs(extras and extras[i] or {}) do extra[k] = v end
    items[i] = cjson.encode(json_object(entry, extra))
  end
  -- built by hand: an empty Lua table would encode as {} instead of []
  out:write('{"files":[', table.concat(items, ","), "]}\n")
end

--- Writes each entry's link on a line.
function output.links(out, entries)
  for _, entry in ipairs(entries) do
    local link = output.describe(entry).link
    if link then out:write(link, "\n") end
  end
end

return output
