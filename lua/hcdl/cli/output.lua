--- hcdl.cli.output: what `hcdl` writes on stdout: a table for people,
-- one JSON object for programs, or only the links (for xargs).
--
-- Tables and messages never show a link: its query is a signature.  The
-- links appear only where they were asked for (--links, "link" in --json).
--
-- Everything here comes from a service: every cell passes text.shown
-- (cleaned by hcdl.redact, then made visible) and is cut to CELL_MAX characters, so a row is one line and the table
-- is at most a few times the size of the answer (README, "What hcdl
-- prints"); --links writes only links that are one line of printable
-- characters; --json says exactly what the service said (hcdl.cli.jsonout).
local core = require "hcdl.core"
local cjson = require "hcdl.json"
local entry_mod = require "hcdl.entry"
local jsonout = require "hcdl.cli.jsonout"
local text = require "hcdl.text"

local output = {}

--- The widest a table cell gets, in characters (the rest is cut, "…").
output.CELL_MAX = 100
--- JSON's null.
output.null = cjson.null

local UNITS = { "B", "KiB", "MiB", "GiB", "TiB" }

--- The longest error line the command writes: tostring(err) bounds each
-- field already (hcdl.text, src/error.c), so this cuts only what is left.
output.ERROR_LINE_MAX = text.MESSAGE_MAX * 2

--- s as one printable line of at most about max characters, secrets and
-- link queries taken out first (hcdl.text.shown: the one rule for
-- everything the command prints, the debug lines' too).
function output.visible(s, max)
  return text.shown(s, max)
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
  local info, err = entry_mod.describe(entry)
  if not info then return { name = "?", err = err } end
  local size = info.exact or (info.kb and info.kb * 1024) or nil
  return { name = info.name, link = info.url, size = size, approximate = info.exact == nil and size ~= nil,
    api = info.api }
end

--- The size column: "~" marks a size the service gives in KB.
function output.size(entry)
  local d = output.describe(entry)
  if not d.size then return "-" end
  return (d.approximate and "~" or "") .. output.bytes(d.size)
end

--- A table cell: one line of visible text, at most CELL_MAX characters.
function output.cell(s)
  return text.shown(s, output.CELL_MAX)
end

--- Writes rows (lists of strings) under headers, columns aligned.  Cells
-- are made visible and cut here, whatever the caller did.
function output.table(out, headers, rows)
  local widths, shown = {}, {}
  for i, h in ipairs(headers) do widths[i] = text.width(output.cell(h)) end
  for r, row in ipairs(rows) do
    shown[r] = {}
    for i, cell in ipairs(row) do
      local v = output.cell(cell)
      shown[r][i] = v
      local w = text.width(v)
      if w > (widths[i] or 0) then widths[i] = w end
    end
  end
  local function line(cells)
    local parts = {}
    for i, cell in ipairs(cells) do
      parts[i] = i < #cells and cell .. (" "):rep(widths[i] - text.width(cell)) or cell
    end
    out:write(table.concat(parts, "  "), "\n")
  end
  local head = {}
  for i, h in ipairs(headers) do head[i] = output.cell(h) end
  line(head)
  for _, row in ipairs(shown) do line(row) end
end

-- A copy of the entry as JSON can carry it: the service's fields (string
-- keys only, nulls kept), plus what `extra` adds.
function output.object(entry, extra)
  local o = {}
  if type(entry) == "table" then
    for k, v in pairs(entry) do
      if type(k) == "string" then o[k] = v end
    end
    local mt = getmetatable(entry)
    if type(mt) == "table" and type(rawget(mt, "hcdl_nulls")) == "table" then
      setmetatable(o, { hcdl_nulls = rawget(mt, "hcdl_nulls") })
    end
  end
  for k, v in pairs(extra) do o[k] = v end
  return o
end

-- A link --links may print: one line of printable ASCII without spaces,
-- so `xargs` and shells read exactly one URL from it.
local function printable_link(link)
  return type(link) == "string" and link:match("^[hH][tT][tT][pP][sS]?://[!-~]+$") ~= nil
end

-- What hcdl adds to every file of every kind in --json (README, "--json": the
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
  local o = output.object(entry, output.common(entry))
  for k, v in pairs(extra or {}) do o[k] = v end
  return o
end

--- Writes {"files": [...], "summary": {...}} plus the fields of `top`
-- (such as "backup"): files are tables (output.file_object), written by
-- hcdl.cli.jsonout like every JSON the command prints (nothing dropped,
-- nulls kept, what JSON cannot carry listed in "unrepresentable"; an
-- empty "verified" is a list, as jsonout writes an empty table).
function output.report(out, files, summary, top)
  local items = {}
  for i, f in ipairs(files) do items[i] = jsonout.object(f) end
  local parts = { '{"files":[', table.concat(items, ","), '],"summary":', jsonout.encode(summary) }
  local keys = {}
  for k in pairs(top or {}) do keys[#keys + 1] = k end
  table.sort(keys)
  for _, k in ipairs(keys) do parts[#parts + 1] = "," .. jsonout.encode(k) .. ":" .. jsonout.encode(top[k]) end
  -- built by hand: an empty Lua table would encode as {} instead of []
  out:write(table.concat(parts), "}\n")
end

--- Writes each entry's link on a line.  A link that is not one line of
-- printable characters (or an entry hcdl cannot use) is not written: nil, err (kind "api", field
-- "link", naming the entry and how many were refused) after the others.
function output.links(out, entries)
  local refused, first = 0, nil
  for _, entry in ipairs(entries) do
    local d = output.describe(entry)
    if printable_link(d.link) then
      out:write(d.link, "\n")
    else
      refused = refused + 1
      first = first or d
    end
  end
  if refused == 0 then return true end
  return nil, core.error{ kind = "api", field = "link", api = first.api, retryable = false,
    message = ("%s%d link(s) are not one line of printable characters and were not written "
      .. "(the first is that of %s%s)"):format(first.api and (first.api .. ": ") or "", refused,
      text.shown(first.name or "?", 200), first.err and (": " .. tostring(first.err.message)) or "") }
end

return output
