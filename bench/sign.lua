-- bench/sign.lua - signatures per second of hcdl.sign, called from Lua, on
-- a typical GaussDB full-SQL link request (Lua 5.1-5.4 and LuaJIT).  Prints "rate <signatures/s>"
-- (the median of several rounds).  Run through bench/sign.
local hcdl = require "hcdl"

local rounds, per_round = tonumber(arg[1] or 7), tonumber(arg[2] or 200000)

local PID = "0b2a5c6d7e8f40a1b2c3d4e5f6a7b8c9"
local req = {
  method = "GET",
  host = "gaussdb.cn-north-4.myhuaweicloud.com",
  path = "/v3/" .. PID .. "/instance/a1b2c3d4e5f6471890abcdef12345678in07/auditlog/download-link",
  query = {
    start_time = "2023-07-24T09:27:00+0800", end_time = "2023-07-24T10:27:00+0800",
    limit = 50, node_id = "b2c3d4e5f6a7481990bcdef123456789no07",
  },
  headers = { ["Content-Type"] = "application/json", ["X-Project-Id"] = PID },
  body = "",
  ak = "HPUAL0XZ4EXAMPLEAK01", sk = "Z9xQeExampleSecretKey0123456789abcdefGHIJ",
  -- no date: like a real client, every signature takes the current time
}

local sign = hcdl.sign
for _ = 1, math.floor(per_round / 10) do sign(req) end -- warm up

local rates = {}
for r = 1, rounds do
  local t0 = os.clock()
  for _ = 1, per_round do sign(req) end
  rates[r] = per_round / (os.clock() - t0)
end
table.sort(rates)
print(string.format("rate %.0f", rates[math.floor((rounds + 1) / 2)]))
