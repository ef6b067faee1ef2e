--- hcdl.entry: what a file entry from any of the APIs (or a plain URL)
-- says about the file behind it, checked, so that service data can never
-- make hcdl raise or trust a size it cannot check.
--
-- describe(e, answer) -> { url, name, exact, kb, mtime, expires } | nil, err
--   url      the link, exactly as the service gave it
--   name     the file name (from the entry, else the link's last segment)
--   exact    the size in bytes, when the service gives bytes (PostgreSQL)
--   kb       the size in KB, when it gives KB (TaurusDB, RDS)
--   mtime    the file's modification time (epoch seconds), when known
--   expires  when the link expires (epoch seconds), when known
--   growing  true when the service may still be writing the file (its
--            descriptor says so): the listed size is a lower bound
--
-- Which fields hold what comes from the entry's API descriptor (hcdl.apis:
-- the API it came from, else the one whose fields it carries).
--
-- A size that cannot be checked: a size that is present but is not a
-- whole, non-negative, finite number (a float, 1e300, NaN, infinity, a
-- negative number, a string that is not a decimal integer) makes the entry
-- unusable: nil, err (kind "api", field = the size field).  hcdl will not
-- download a file whose listed size it would have to ignore.  An entry with
-- no size at all (DCS links, run logs) is checked by the answer's own
-- Content-Length and, where the ETag is an MD5, by its MD5.
local apis = require "hcdl.apis"
local core = require "hcdl.core"

local entry = {}

local function url_decode(s)
  return (s:gsub("%%(%x%x)", function(h) return string.char(tonumber(h, 16)) end))
end

--- See the module comment.
function entry.describe(e)
  local info = {}
  if type(e) == "string" then
    info.url = e
  elseif type(e) == "table" then
    -- the fields come from the entry's API descriptor (hcdl.apis), which
    -- also refuses a size that is not a size
    local described, err = apis.describe(e)
    if not described then return nil, err end
    for k, v in pairs(described) do info[k] = v end
    -- an entry a caller made by hand: { url =, name = }
    if info.url == nil and e.url ~= nil then info.url, info.name = e.url, info.name or e.name end
  else
    return nil, core.error{ kind = "input", field = "entry",
      message = "entry: must be a file entry (a table from one of the APIs) or a URL string" }
  end
  if type(info.url) ~= "string" or not info.url:match("^[hH][tT][tT][pP][sS]?://") then
    return nil, core.error{ kind = "input", field = "entry",
      message = "entry: has no http(s) link (download_link, file_link or link)" }
  end
  if info.name ~= nil and type(info.name) ~= "string" then
    return nil, core.error{ kind = "api", field = "name", retryable = false,
      message = "the service listed a file name that is not a string" }
  end
  if not info.name then
    local path = info.url:match("^[^:]+://[^/]*(/[^?#]*)") or "/"
    info.name = url_decode(path:match("([^/]*)$") or "")
  end
  if not info.expires then
    local exp = info.url:match("[?&]Expires=(%d+)")
    info.expires = exp and tonumber(exp) or nil
  end
  return info
end

--- Does a file of `size` bytes agree with what the entry lists?  (KB
-- sizes agree within the rounding: the services round either way.)
function entry.size_agrees(info, size)
  if info.exact then return size == info.exact end
  if info.kb then return math.abs(size / 1024 - info.kb) < 1 end
  return true
end

return entry
