--- hcdl.cli.output: what `hcdl` writes on stdout: a table for people,
-- one JSON object for programs, or only the links (for xargs).
--
-- Tables and messages never show a link: its query is a signature.  The
-- links appear only where they were asked for (--links, "link" in --json).
local cjson = require "hcdl.json"
local entry_mod = require "hcdl.entry"

local output = {}

--- JSON's null.
output.null = cjson.null

local UNITS = { "B", "KiB", "MiB", "GiB", "TiB" }

-- Control bytes as \xNN, so a string from a service cannot move the
-- cursor or retitle the terminal; cut to max bytes.  The one place every
-- service string printed by the command goes through (hcdl.text does it
-- fully, invalid UTF-8 included, where it is installed).
local function escape(s, max)
  s = tostring(s):gsub("[%z\1-\31\127]", function(c) return ("\\x%02x"):format(c:byte()) end)
  if max and #s > max then s = s:sub(1, max) .. ("... (%d more bytes)"):format(#s - max) end
  return s
end

--- s as one printable line of at most about max characters.
function output.visible(s, max)
  local ok, text = pcall(require, "hcdl.text")
  if ok and type(text) == "table" and text.visible then return text.visible(tostring(s), max) end
  return escape(s, max)
end

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

-- What hcdl adds to every file of every kind in --json (design.md: the
-- same fields for all five kinds): file_name, size_bytes (an integer, or
-- null when the service gives none), updated_at (RFC 3339 UTC or null).
function output.common(entry)
  local info = entry ~= nil and entry_mod.describe(entry) or nil
  local o = { file_name = cjson.null, size_bytes = cjson.null, updated_at = cjson.null }
  if not info then return o end
  o.file_name = info.name or cjson.null
  local size = info.exact or (info.kb and math.floor(info.kb * 1024 + 0.5)) or nil
  if size then o.size_bytes = size end
  if type(info.mtime) == "number" and info.mtime == info.mtime then
    o.updated_at = os.date("!%Y-%m-%dT%H:%M:%SZ", math.floor(info.mtime))
  end
  return o
end

--- One file of --json: the service's fields, the common ones, then extra.
function output.file_object(entry, extra)
  local o = json_object(entry, output.common(entry))
  for k, v in pairs(extra or {}) do o[k] = v end
  return o
end

-- A file object as JSON: "verified" is a list even when empty (cjson
-- writes an empty Lua table as {}).
local function encode_file(f)
  local verified = f.verified
  if type(verified) ~= "table" then return cjson.encode(f) end
  f.verified = nil
  local text = cjson.encode(f)
  f.verified = verified
  local list = {}
  for i, v in ipairs(verified) do list[i] = cjson.encode(v) end
  return text:sub(1, -2) .. (text == "{}" and "" or ",") .. '"verified":[' .. table.concat(list, ",") .. "]}"
end

--- Writes {"files": [...], "summary": {...}} plus the fields of `top`
-- (such as "backup"): files are tables (output.file_object).
function output.report(out, files, summary, top)
  local items = {}
  for i, f in ipairs(files) do items[i] = encode_file(f) end
  local parts = { '{"files":[', table.concat(items, ","), '],"summary":', cjson.encode(summary) }
  local keys = {}
  for k in pairs(top or {}) do keys[#keys + 1] = k end
  table.sort(keys)
  for _, k in ipairs(keys) do parts[#parts + 1] = "," .. cjson.encode(k) .. ":" .. cjson.encode(top[k]) end
  -- built by hand: an empty Lua table would encode as {} instead of []
  out:write(table.concat(parts), "}\n")
end

--- Writes each entry's link on a line.
function output.links(out, entries)
  for _, entry in ipairs(entries) do
    local link = output.describe(entry).link
    if link then out:write(link, "\n") end
  end
end

return output
