--- hcdl.timefmt: the cloud's time strings as epoch seconds, independent of
-- the local time zone (os.time reads its table as local time).
local timefmt = {}

--- Days since 1970-01-01 of a proleptic Gregorian date.
function timefmt.days_from_civil(y, m, d)
  local yy = m <= 2 and y - 1 or y
  local era = math.floor(yy / 400)
  local yoe = yy - era * 400
  local doy = math.floor((153 * ((m + 9) % 12) + 2) / 5) + d - 1
  return era * 146097 + yoe * 365 + math.floor(yoe / 4) - math.floor(yoe / 100) + doy - 719468
end

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

return timefmt
