--- hcdl.timefmt: the cloud's time strings as epoch seconds, independent of
-- the local time zone (os.time reads its table as local time).  The
-- calendar arithmetic itself is src/clock.c's, the one place it is done.
local core = require "hcdl.core"

local timefmt = {}

--- Days since 1970-01-01 of a proleptic Gregorian date (a month out of
-- range counts on from March, as it always did here).
timefmt.days_from_civil = core.days_from_civil

--- "2015-11-09T01:42:57.527363Z" (IAM) -> epoch seconds, or nil.
function timefmt.parse_utc(s)
  if type(s) ~= "string" then return nil end
  local y, mo, d, h, mi, se = s:match("^(%d%d%d%d)-(%d%d)-(%d%d)T(%d%d):(%d%d):(%d%d)")
  if not y then return nil end
  return timefmt.days_from_civil(tonumber(y), tonumber(mo), tonumber(d)) * 86400
    + tonumber(h) * 3600 + tonumber(mi) * 60 + tonumber(se)
end

--- "2023-07-13T12:30:36+0800" (link_expired_time) -> epoch seconds, or nil.
-- Parsed defensively: the official example has an hour of "012".
function timefmt.parse_offset(s)
  if type(s) ~= "string" then return nil end
  local y, mo, d, h, mi, se, sign, oh, om =
    s:match("^(%d%d%d%d)-(%d%d)-(%d%d)T(%d%d):(%d%d):(%d%d)([+-])(%d%d)(%d%d)$")
  if not y then return nil end
  local offset = (tonumber(oh) * 3600 + tonumber(om) * 60) * (sign == "-" and -1 or 1)
  return timefmt.days_from_civil(tonumber(y), tonumber(mo), tonumber(d)) * 86400
    + tonumber(h) * 3600 + tonumber(mi) * 60 + tonumber(se) - offset
end

--- "20230724013000" (DCS, yyyyMMddHHmmss in UTC) -> epoch seconds, or nil.
function timefmt.parse_utc14(s)
  if type(s) ~= "string" then return nil end
  local y, mo, d, h, mi, se = s:match("^(%d%d%d%d)(%d%d)(%d%d)(%d%d)(%d%d)(%d%d)$")
  if not y then return nil end
  return timefmt.days_from_civil(tonumber(y), tonumber(mo), tonumber(d)) * 86400
    + tonumber(h) * 3600 + tonumber(mi) * 60 + tonumber(se)
end

--- "2023-07-24" (a day, taken as its UTC midnight) -> epoch seconds, or nil.
function timefmt.parse_date(s)
  if type(s) ~= "string" then return nil end
  local y, mo, d = s:match("^(%d%d%d%d)-(%d%d)-(%d%d)$")
  if not y then return nil end
  return timefmt.days_from_civil(tonumber(y), tonumber(mo), tonumber(d)) * 86400
end

--- 1589530000000 (milliseconds since the epoch, a number or a decimal
-- string) -> epoch seconds, or nil.
function timefmt.parse_epoch_ms(v)
  if type(v) == "string" and v:match("^%d+$") then v = tonumber(v) end
  if type(v) ~= "number" or v ~= v or v < 0 or v >= 2 ^ 53 then return nil end
  return math.floor(v / 1000)
end

--- "2019-05-10T08:31:16.166Z" (DCS backup records: UTC, milliseconds
-- optional) -> epoch seconds, or nil.
function timefmt.parse_iso_utc(s)
  if type(s) ~= "string" or not s:match("^[%d%-]+T[%d:]+%.?%d*Z$") then return nil end
  return timefmt.parse_utc(s)
end

local PARSERS = {
  offset = timefmt.parse_offset, utc14 = timefmt.parse_utc14, iso_utc = timefmt.parse_iso_utc,
  epoch_ms = timefmt.parse_epoch_ms, date = timefmt.parse_date,
}

--- A time in one of the formats the API descriptors name (core.apis():
-- answer.mtime_format) -> epoch seconds, or nil when it does not parse.
function timefmt.parse(format, value)
  local parse = PARSERS[format]
  return parse and parse(value) or nil
end

return timefmt
