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
--
-- `answer` is the API descriptor's answer description (core.apis()), when
-- the entry's origin is known; without it the usual field names are tried.
--
-- A size that cannot be checked: a size that is present but is not a
-- whole, non-negative, finite number (a float, 1e300, NaN, infinity, a
-- negative number, a string that is not a decimal integer) makes the entry
-- unusable: nil, err (kind "api", field = the size field).  hcdl will not
-- download a file whose listed size it would have to ignore.  An entry with
-- no size at all (DCS links, run logs) is checked by the answer's own
-- Content-Length and, where the ETag is an MD5, by its MD5.
local core = require "hcdl.core"
local timefmt = require "hcdl.timefmt"

local entry = {}

local MAX_EXACT = 2 ^ 53 -- beyond this a Lua number is not an exact integer

local function bad(field, value, rule)
  local shown = type(value) == "string" and ("%q"):format(value:sub(1, 40)) or tostring(value)
  return nil, core.error{ kind = "api", field = field, retryable = false,
    message = ("the service listed %s = %s, which %s; the entry is refused because its size "
      .. "cannot be checked"):format(field, shown, rule) }
end

local function whole_number(v)
  return type(v) == "number" and v == v and v >= 0 and v <= MAX_EXACT and v == math.floor(v)
end

-- A size in bytes: a whole number or a decimal string.
local function bytes_size(field, v)
  if type(v) == "string" then
    if not v:match("^%d+$") or #v > 16 then return bad(field, v, "is not a decimal integer") end
    v = tonumber(v)
  end
  if not whole_number(v) then return bad(field, v, "is not a whole number of bytes") end
  return v
end

local function kb_size(field, v)
  if not whole_number(v) or v > MAX_EXACT / 1024 then
    return bad(field, v, "is not a whole number of KB")
  end
  return v
end

local MTIME_PARSERS = {
  offset = timefmt.parse_offset,
  utc14 = function(s)
    if type(s) ~= "string" then return nil end
    local y, mo, d, h, mi, se = s:match("^(%d%d%d%d)(%d%d)(%d%d)(%d%d)(%d%d)(%d%d)$")
    if not y then return nil end
    return timefmt.days_from_civil(tonumber(y), tonumber(mo), tonumber(d)) * 86400
      + tonumber(h) * 3600 + tonumber(mi) * 60 + tonumber(se)
  end,
  epoch_ms = function(v)
    if type(v) == "number" and v == v and v > 0 and v < 1e15 then return v / 1000 end
  end,
  date = function(s)
    if type(s) ~= "string" then return nil end
    local y, mo, d = s:match("^(%d%d%d%d)-(%d%d)-(%d%d)$")
    return y and timefmt.days_from_civil(tonumber(y), tonumber(mo), tonumber(d)) * 86400 or nil
  end,
}

-- Without a descriptor: the field names the five APIs use.
local GUESS = {
  links = { "download_link", "file_link", "link", "url" },
  names = { "name", "file_name" },
  mtimes = { { "updated_time", "offset" }, { "update_at", "epoch_ms" } },
}

local function first_field(e, names)
  for _, k in ipairs(names) do
    if e[k] ~= nil then return e[k], k end
  end
end

local function size_of(e, answer)
  if answer and answer.size then
    local v = e[answer.size]
    if v == nil then return true end
    if answer.size_unit == "KB" then return kb_size(answer.size, v), "kb" end
    return bytes_size(answer.size, v), "exact"
  end
  if e.file_size ~= nil then return bytes_size("file_size", e.file_size), "exact" end
  if e.size ~= nil then return kb_size("size", e.size), "kb" end
  return true
end

local function mtime_of(e, answer)
  if answer and answer.mtime then
    local parse = MTIME_PARSERS[answer.mtime_format or "offset"]
    return parse and parse(e[answer.mtime])
  end
  for _, m in ipairs(GUESS.mtimes) do
    local t = MTIME_PARSERS[m[2]](e[m[1]])
    if t then return t end
  end
end

local function url_decode(s)
  return (s:gsub("%%(%x%x)", function(h) return string.char(tonumber(h, 16)) end))
end

--- See the module comment.
function entry.describe(e, answer)
  local info = {}
  if type(e) == "string" then
    info.url = e
  elseif type(e) == "table" then
    info.url = answer and answer.link and e[answer.link] or first_field(e, GUESS.links)
    info.name = answer and answer.name and e[answer.name] or first_field(e, GUESS.names)
    local size, unit = size_of(e, answer)
    if not size then return nil, unit end
    if unit then info[unit] = size end
    info.mtime = mtime_of(e, answer)
    info.expires = timefmt.parse_offset(e[answer and answer.expires or "link_expired_time"])
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
