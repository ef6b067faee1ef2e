--- hcdl.cli.when: the times people type on the command line (--since,
-- --start, --end), as epoch seconds.
--
--   2023-07-24T00:00:00+08:00   RFC 3339 (also +0800, Z, fractions)
--   2023-07-24T00:00:00         no offset: the --tz offset
--   2023-07-24                  a bare date: midnight in the --tz offset
--   90m, 24h, 7d, 1h30m, 2w     a duration back from now
--   now                         now
--   1690000000                  seconds since the epoch
--
-- The --tz offset is "+08:00", "+0800", "-05", "Z" or "UTC" (default UTC).
-- Errors name the option the user typed.
local timefmt = require "hcdl.timefmt"

local when = {}

local UNIT = { s = 1, m = 60, h = 3600, d = 86400, w = 7 * 86400 }

local function civil(y, mo, d, h, mi, s)
  y, mo, d = tonumber(y), tonumber(mo), tonumber(d)
  h, mi, s = tonumber(h) or 0, tonumber(mi) or 0, tonumber(s) or 0
  if mo < 1 or mo > 12 or d < 1 or d > 31 or h > 23 or mi > 59 or s > 60 then return nil end
  return timefmt.days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + s
end

--- "+08:00" / "+0800" / "-05" / "Z" / "UTC" -> offset in seconds east of
-- UTC, or nil.
function when.offset(s)
  if s == "Z" or s == "z" or s == "UTC" or s == "utc" or s == "+00:00" then return 0 end
  local sign, h, m = tostring(s):match("^([+-])(%d%d):?(%d?%d?)$")
  if not sign or (#m ~= 0 and #m ~= 2) then return nil end
  h, m = tonumber(h), tonumber(m) or 0
  if h > 23 or m > 59 then return nil end
  return (sign == "-" and -1 or 1) * (h * 3600 + m * 60)
end

--- "90m", "24h", "1h30m" -> seconds, or nil.
function when.duration(s)
  if type(s) ~= "string" or s == "" then return nil end
  local total, rest = 0, s
  while rest ~= "" do
    local n, unit, tail = rest:match("^(%d+%.?%d*)([smhdw])(.*)$")
    if not n then return nil end
    total, rest = total + tonumber(n) * UNIT[unit], tail
  end
  return total
end

local function absolute(s, tz)
  local y, mo, d, rest = s:match("^(%d%d%d%d)-(%d%d)-(%d%d)(.*)$")
  if not y then return nil end
  if rest == "" then
    local t = civil(y, mo, d)
    return t and t - tz
  end
  local h, mi, sec, tail = rest:match("^[Tt ](%d%d):(%d%d):?(%d?%d?)(.*)$")
  if not h or (#sec ~= 0 and #sec ~= 2) then return nil end
  tail = tail:gsub("^%.%d+", "")
  local offset = tz
  if tail ~= "" then
    offset = when.offset(tail)
    if not offset then return nil end
  end
  local t = civil(y, mo, d, h, mi, sec)
  return t and t - offset
end

--- The time `s` typed for `option`: epoch seconds, or nil and a message
-- that names the option.  now: the current epoch time; tz: --tz (or nil).
function when.parse(option, s, now, tz)
  local offset = 0
  if tz ~= nil then
    offset = when.offset(tz)
    if not offset then
      return nil, ("--tz: '%s' is not an offset such as +08:00, +0800, -05 or Z"):format(tz)
    end
  end
  if s == "now" then return now end
  if s:match("^%d+$") and #s >= 9 then return tonumber(s) end
  local t = absolute(s, offset)
  if t then return t end
  local back = when.duration(s)
  if back then return now - math.floor(back) end
  return nil, ("%s: '%s' is not a time: give 2023-07-24T00:00:00+08:00 (or +0800, Z), "
    .. "a date such as 2023-07-24, a duration back from now such as 90m, 24h or 7d, or now"):format(option, s)
end

--- Epoch seconds as the APIs' offset form, in UTC: "2023-07-24T00:00:00+0000".
function when.api(t)
  return os.date("!%Y-%m-%dT%H:%M:%S+0000", t)
end

--- Epoch seconds as RFC 3339 UTC: "2023-07-24T00:00:00Z".
function when.rfc3339(t)
  if type(t) ~= "number" or t ~= t then return nil end
  return os.date("!%Y-%m-%dT%H:%M:%SZ", math.floor(t))
end

return when
