--- hcdl.pages: every entry of a paged list, across pages, for any API
-- whose descriptor has `paging` (core.apis()).
--
-- Two styles.  "marker" (TaurusDB full SQL): ask with `limit`, then again
-- with the marker (last_file_name) = the last name seen; names strictly
-- increase, and a page shorter than `limit` is the last one (as the
-- official Terraform provider does).  "offset" (backups, instances, run
-- logs): ask at offset 0, 0+n, ...; the last page is short, or reaches the
-- answer's total.
--
-- The iterator never loses or repeats an entry: a service that answers the
-- same page twice, goes backwards (a name not after the last one, an id
-- seen before) or whose total changes while paging (entries would shift
-- past the offsets) is an error, not an endless loop or a silent gap.
-- Errors reach the loop body: the iterator yields `false, err` once and
-- then ends.  Pages are as large as the service allows unless the caller
-- asks for a `limit`: fewest calls.
local core = require "hcdl.core"
local apis = require "hcdl.apis"
local text = require "hcdl.text"

local pages = {}

local function copy(t)
  local c = {}
  for k, v in pairs(t) do c[k] = v end
  return c
end

-- Service data hcdl cannot use: an "api" error naming the API (and the
-- field, when one is named), never the caller's input.
local function refuse(api, page_no, field, fmt, ...)
  return nil, core.error{ kind = "api", api = api, page = page_no, field = field, retryable = false,
    message = ("%s page %d: " .. fmt):format(api, page_no, ...) }
end

-- One page: the answer's entries, or nil, err (err.page set).
local function get_page(client, api, query, page_no)
  local r, err = client[api](client, query)
  if not r then
    err.page = page_no
    return nil, err
  end
  local list = apis.get(api).answer.list
  if type(r[list]) ~= "table" then
    return refuse(api, page_no, list, "the answer has no '%s' list", list)
  end
  return r[list], r
end

-- Pages that resume after the last name seen.  fetch() -> entries, last | nil, err
local function marker_pages(client, api, d, query)
  local paging, name = d.paging, d.answer.name
  local last_name = query[paging.marker]
  local page_no = 0
  return function()
    page_no = page_no + 1
    query[paging.marker] = last_name
    local entries, err = get_page(client, api, query, page_no)
    if not entries then
      if page_no > 1 and err.kind == "input" and err.field == paging.marker then
        -- the marker is the service's own last name, not the caller's input
        return refuse(api, page_no, paging.marker, "the service's last %s on page %d, '%s', cannot be sent back as %s "
          .. "(%s)", name, page_no - 1, text.visible(last_name, 200), paging.marker, err.message)
      end
      return nil, err
    end
    for i, e in ipairs(entries) do
      if type(e[name]) ~= "string" then
        return refuse(api, page_no, name, "item %d has no %s", i, name)
      end
      local prev = i > 1 and entries[i - 1][name] or last_name
      if prev and e[name] <= prev then
        return refuse(api, page_no, name, "the service is not advancing: '%s' after '%s' "
          .. "(a repeated or unordered page)", text.visible(e[name], 200), text.visible(prev, 200))
      end
    end
    if #entries > 0 then last_name = entries[#entries][name] end
    return entries, #entries < query[paging.limit]
  end
end

-- Pages at growing offsets.  fetch() -> entries, last | nil, err
local function offset_pages(client, api, d, query)
  local paging, answer = d.paging, d.answer
  local offset = query[paging.offset] or 0
  local key = answer.id or answer.name
  local seen, total = {}, nil
  local page_no = 0
  return function()
    page_no = page_no + 1
    query[paging.offset] = offset
    local entries, r = get_page(client, api, query, page_no)
    if not entries then return nil, r end
    local t = paging.total and r[paging.total]
    if type(t) ~= "number" then t = nil end
    if page_no == 1 then
      total = t
    elseif t ~= total then
      return refuse(api, page_no, paging.total, "the list changed while paging (%s was %s, now %s): "
        .. "entries would be lost or repeated, start again", paging.total, tostring(total), tostring(t))
    end
    for _, e in ipairs(entries) do
      local id = e[key]
      if id ~= nil then
        if seen[id] then
          return refuse(api, page_no, key, "the service is not advancing: %s %s was on an earlier page "
            .. "(a repeated page, or one that went backwards)", key, text.visible(tostring(id), 200))
        end
        seen[id] = true
      end
    end
    offset = offset + #entries
    return entries, #entries == 0 or #entries < query[paging.limit] or (total ~= nil and offset >= total)
  end
end

--- An iterator over every entry of API `api` with `params`, across pages:
-- `for entry, err in pages.iterate(client, "list_backups", params) do`.
function pages.iterate(client, api, params)
  local d = apis.get(api)
  if type(params) ~= "table" then
    error(("hcdl: %s expects a table of parameters"):format(d.paging.iterator), 3)
  end
  local query = copy(params)
  if query[d.paging.limit] == nil then query[d.paging.limit] = d.paging.max end
  local fetch = (d.paging.style == "marker" and marker_pages or offset_pages)(client, api, d, query)
  local buffer, index = {}, 0
  local last, failed = false, false
  return function()
    if failed then return nil end
    index = index + 1
    if index > #buffer then
      if last then return nil end
      local entries, is_last = fetch()
      if not entries then
        failed = true
        return false, is_last
      end
      buffer, index, last = entries, 1, is_last
      if #buffer == 0 then return nil end
    end
    return buffer[index]
  end
end

--- Every entry as one list, or nil, err.
function pages.collect(client, api, params)
  local list = {}
  for entry, err in pages.iterate(client, api, params) do
    if not entry then return nil, err end
    list[#list + 1] = entry
  end
  return list
end

return pages
