--- hcdl.pages: every full-SQL file in a time range, across pages.
--
-- The API pages by name: ask with `limit`, then again with
-- `last_file_name` = the last name seen; a page shorter than `limit` is the
-- last one (as the official Terraform provider does).  The iterator never
-- loses or repeats a file: names must strictly increase across pages, and
-- a service that answers the same page twice is an error, not an endless
-- loop.  Errors reach the loop body: the iterator yields `false, err` once
-- and then ends.
local core = require "hcdl.core"

local pages = {}

local DEFAULT_LIMIT = 50

local function copy(t)
  local c = {}
  for k, v in pairs(t) do c[k] = v end
  return c
end

--- Returns an iterator over files: `for file, err in pages.audit_log_files(client, params) do`.
function pages.audit_log_files(client, params)
  if type(params) ~= "table" then
    error("hcdl: audit_log_files expects a table of parameters", 3)
  end
  local query = copy(params)
  query.limit = query.limit or DEFAULT_LIMIT
  local buffer, index = {}, 0
  local last_name = params.last_file_name
  local done, failed = false, false
  local page_no = 0

  local function fetch()
    page_no = page_no + 1
    query.last_file_name = last_name
    local r, err = client:list_audit_log_download_link(query)
    if not r then
      err.page = page_no
      return nil, err
    end
    local files = r.files
    if type(files) ~= "table" then
      return nil, core.error{ kind = "http", page = page_no, retryable = false,
        message = ("list_audit_log_download_link page %d has no files list"):format(page_no) }
    end
    for i, f in ipairs(files) do
      if type(f) ~= "table" or type(f.name) ~= "string" then
        return nil, core.error{ kind = "http", page = page_no, retryable = false,
          message = ("page %d, item %d has no file name"):format(page_no, i) }
      end
      local prev = last_name
      if i > 1 then prev = files[i - 1].name end
      if prev and f.name <= prev then
        return nil, core.error{ kind = "api", page = page_no, retryable = false,
          message = ("the service is not advancing: page %d gives '%s' after '%s' "
            .. "(a repeated or unordered page)"):format(page_no, f.name, prev) }
      end
    end
    if #files < query.limit then done = true end
    if #files > 0 then last_name = files[#files].name end
    return files
  end

  return function()
    if failed then return nil end
    index = index + 1
    if index > #buffer then
      if done then return nil end
      local files, err = fetch()
      if not files then
        failed = true
        return false, err
      end
      buffer, index = files, 1
      if #buffer == 0 then return nil end
    end
    return buffer[index]
  end
end

--- Every file as one list, or nil, err.
function pages.all_audit_log_files(client, params)
  local list = {}
  for file, err in pages.audit_log_files(client, params) do
    if not file then return nil, err end
    list[#list + 1] = file
  end
  return list
end

return pages
