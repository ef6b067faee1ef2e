-- The README's API table, generated from core.apis(): the docs spec
-- compares the README with this, row by row, so the docs cannot drift from
-- the descriptors.  Print the rows for the README with:
--   lua5.4 -e 'package.path="tests/?.lua;lua/?.lua;"..package.path' tests/support/apidoc.lua
local apidoc = {}

apidoc.BEGIN = "<!-- api table begin (generated from core.apis(); tests/readme_spec.lua checks it) -->"
apidoc.END = "<!-- api table end -->"
apidoc.HEADER = {
  "| method | operation | service | request | entries | pages: iterator, collector |",
  "|---|---|---|---|---|---|",
}

local function code(s) return "`" .. s .. "`" end

local function entries(a)
  local parts = {}
  local function add(label, field, extra)
    if field then parts[#parts + 1] = label .. " " .. code(field) .. (extra and (" (" .. extra .. ")") or "") end
  end
  add("id", a.id)
  add("name", a.name)
  add("link", a.link)
  add("size", a.size, a.size_unit)
  add("time", a.mtime, a.mtime_format)
  add("expires", a.expires)
  if a.status and a.finished then
    parts[#parts + 1] = "done when " .. code(a.status) .. " = " .. code(a.finished)
  end
  if a.refresh then parts[#parts + 1] = "renewed by " .. a.refresh end
  local where = a.list and (code(a.list .. "[]")) or a.object and code(a.object)
    or a.link and "the answer" or nil
  if not where then return "—" end
  return where .. (#parts > 0 and (": " .. table.concat(parts, ", ")) or "")
end

local function pages(d)
  local g = d.paging
  if not g then return "—" end
  local limit
  for _, p in ipairs(d.params) do
    if p.name == g.limit then limit = p end
  end
  local by = g.style == "marker" and g.marker or g.offset
  return ("by %s, %s %d–%d (default %d)%s: %s, %s"):format(code(by), code(g.limit), limit.min, g.max,
    g.default, g.total and (", total " .. code(g.total)) or "", code(g.iterator), code(g.collect))
end

--- The table rows, in the order of `names`.
function apidoc.rows(apis, names)
  local rows = {}
  for _, name in ipairs(names) do
    local d = apis[name]
    rows[#rows + 1] = ("| %s | %s | %s | %s | %s | %s |"):format(code(name), code(d.operation), d.service,
      code(d.method .. " " .. d.path .. (d.fixed_query and ("?" .. d.fixed_query) or "")), entries(d.answer),
      pages(d))
  end
  return rows
end

-- The documented order: the five link APIs first, then their companions.
apidoc.ORDER = {
  "list_audit_log_download_link", "show_backup_download_link", "list_backup_file_links",
  "create_redislog_download_link", "download_errorlog",
  "create_redislog", "list_redislog", "list_group_replication_info",
  "list_backups", "list_backup_records", "show_gauss_my_sql_instance_info",
  "list_rds_instances", "list_dcs_instances", "list_gauss_my_sql_instances",
}

if arg and arg[0] and arg[0]:match("apidoc%.lua$") then   -- run as a script: print the table
  local core = require "hcdl.core"
  print(apidoc.BEGIN)
  for _, line in ipairs(apidoc.HEADER) do print(line) end
  for _, row in ipairs(apidoc.rows(core.apis(), apidoc.ORDER)) do print(row) end
  print(apidoc.END)
end

return apidoc
