-- bench/api.lua - sequential client:show_backup_download_link calls per
-- second (build + sign + send + parse, one kept-alive connection).
-- Usage: lua api.lua ENDPOINT PROJECT_ID SECONDS  -> prints "rate <req/s>"
--        lua api.lua ENDPOINT PROJECT_ID turns  (slice lengths on stdin)
local hcdl = require "hcdl"
local core = require "hcdl.core"

local endpoint, project, seconds = arg[1], arg[2], arg[3] or "5"
local client = assert(hcdl.new{
  project_id = project, ak = "HPUAL0XZ4EXAMPLEAK01", sk = "Z9xQeExampleSecretKey0123456789abcdefGHIJ",
  endpoints = { rds = endpoint },
})
local params = { backup_id = "f1e2d3c4b5a6478899aabbccddeeff00br01" }

-- Calls for `secs` seconds; the rate.
local function run(secs)
  local n, t0 = 0, core.now()
  while core.now() - t0 < secs do
    local r = assert(client:show_backup_download_link(params))
    assert(r.files)
    n = n + 1
  end
  return n / (core.now() - t0)
end

for _ = 1, 200 do assert(client:show_backup_download_link(params)) end
if seconds ~= "turns" then
  print(("rate %.0f"):format(run(tonumber(seconds))))
  return
end
-- turns: one slice per line of stdin (its length in seconds), one rate
-- line back per slice, until stdin ends (bench/api drives the turns)
for line in io.lines() do
  io.write(("rate %.0f\n"):format(run(tonumber(line))))
  io.flush()
end
