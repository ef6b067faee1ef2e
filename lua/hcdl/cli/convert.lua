--- hcdl.cli.convert: argparse converters for the command line's values,
-- by the name a row of hcdl.cli.rows gives (type = "whole_number", ...).
-- Each takes the option's name and returns argparse's converter: the
-- value, or nil and why (argparse prints it).
local core = require "hcdl.core"

local convert = {}

-- The library's floor for max_rate, from its option table (src/options.h).
local MIN_RATE
for _, row in ipairs(core.options()) do
  if row.name == "max_rate" then MIN_RATE = row.min end
end

function convert.whole_number(option)
  return function(s)
    local n = tonumber(s)
    if n and n == math.floor(n) and n >= 0 then return math.floor(n) end
    return nil, ("%s: '%s' is not a whole number"):format(option, s)
  end
end

function convert.seconds(option)
  return function(s)
    local n = tonumber(s)
    if n and n == n and n >= 0 then return n end
    return nil, ("%s: '%s' is not a number of seconds"):format(option, s)
  end
end

local SUFFIX = { [""] = 1, k = 1024, K = 1024, m = 1048576, M = 1048576, g = 1073741824, G = 1073741824 }

-- "10M", "512K", "1000" -> bytes per second.
function convert.rate(option)
  return function(s)
    local n, unit = tostring(s):match("^(%d+%.?%d*)([kKmMgG]?)i?B?/?s?$")
    local v = n and math.floor(tonumber(n) * SUFFIX[unit])
    if v and v >= MIN_RATE then return v end
    return nil, ("%s: '%s' is not a rate of at least %dK bytes per second (such as 10M, 512K or 1000000)")
      :format(option, s, MIN_RATE / 1024)
  end
end

-- "30d", "12h", "3600" -> seconds (a bare number is seconds).
function convert.age(option)
  return function(s)
    if tostring(s):match("^%d+$") then return tonumber(s) end
    local d = require("hcdl.cli.when").duration(s)
    if d then return d end
    return nil, ("%s: '%s' is not an age such as 30d, 12h or 90m"):format(option, s)
  end
end

return convert
