-- bench/config.lua - how long hcdl.new takes with the configuration files
-- a user (or an attacker who can write them) may hand it: regions.yaml and
-- the credentials profile at their size limits, nested at the depth limit,
-- and past the limits (refused: the time to refuse).  Prints one line per
-- case: "<case> <bytes> <median ms> <ok|refused: message>".  Run through
-- bench/config.  arg[1]: rounds (default 5), arg[2]: a directory to write in.
local hcdl = require "hcdl"
local configfile = require "hcdl.configfile"

local rounds, dir = tonumber(arg[1] or 5), assert(arg[2], "usage: config.lua ROUNDS DIR")

local function write(name, text)
  local path = dir .. "/" .. name
  local f = assert(io.open(path, "wb"))
  f:write(text)
  f:close()
  return path
end

-- A flat regions file of about n bytes (one service, many regions).
local function flat_regions(n)
  local parts, size, i = { "RDS:" }, 4, 0
  while true do
    i = i + 1
    local item = ("  - id: region-%d\n    endpoint: https://rds.region-%d.example.com"):format(i, i)
    if size + #item + 1 > n then break end
    parts[#parts + 1] = item
    size = size + #item + 1
  end
  return table.concat(parts, "\n") .. "\n"
end

local function nested(depth) return "RDS: " .. ("["):rep(depth) .. ("]"):rep(depth) .. "\n" end

local LIMIT = configfile.MAX_BYTES.regions
local cases = {
  { "regions: flat, at the size limit", "regions_file", flat_regions(LIMIT - 1) },
  { "regions: 8 KB of lists 32 deep", "regions_file", "RDS: [" .. (("["):rep(31) .. ("]"):rep(31) .. ","):rep(
      math.floor((LIMIT - 10) / 63)) .. "[]]\n" },
  { "regions: 8 KB of '- ' 32 deep", "regions_file", "RDS:\n" .. (("- "):rep(32) .. "x\n"):rep(
      math.floor((LIMIT - 10) / 67)) },
  { "regions: brackets at the depth limit", "regions_file", nested(configfile.YAML_MAX_DEPTH) },
  { "regions: 100 KB of nested brackets", "regions_file", ("["):rep(50000) .. ("]"):rep(50000) },
  { "regions: 4 MB flat", "regions_file", flat_regions(4 * 1024 * 1024) },
  { "regions: brackets past the depth limit", "regions_file", nested(configfile.YAML_MAX_DEPTH + 1) },
  { "profile: at the size limit", "credentials_file",
    "[basic]\nak = AK\nsk = SK\n" .. ("# comment line to fill the file\n"):rep(
      math.floor((configfile.MAX_BYTES.profile - 40) / 32)) },
  { "profile: 4 MB", "credentials_file", "[basic]\n" .. ("x = y\n"):rep(math.floor(4 * 1024 * 1024 / 6)) },
}

local function median(t)
  table.sort(t)
  return t[math.floor((#t + 1) / 2)]
end

local clock = require("hcdl.core").now
for i, c in ipairs(cases) do
  local path = write("case" .. i, c[3])
  local times, outcome = {}, "ok"
  for r = 1, rounds do
    local t0 = clock()
    local client, err = hcdl.new{ region = "cn-north-4", ak = "AK", sk = "SK",
      project_id = ("0"):rep(32), [c[2]] = path }
    times[r] = (clock() - t0) * 1000
    if client then client:close() else outcome = "refused: " .. tostring(err):sub(1, 110) end
  end
  print(("%-40s %9d bytes %9.1f ms  %s"):format(c[1], #c[3], median(times), outcome))
  os.remove(path)
end
