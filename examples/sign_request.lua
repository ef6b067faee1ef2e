-- examples/sign_request.lua - sign a TaurusDB (GaussDB for MySQL) full-SQL
-- link request the way the official SDKs do, and show what would be sent.
--
--   eval "$(make -s env)"; lua5.4 examples/sign_request.lua
--
-- Credentials come from HUAWEICLOUD_SDK_AK / HUAWEICLOUD_SDK_SK when set;
-- otherwise documentation placeholders are used (the request is only
-- printed, never sent).  The secret key is never printed.
local hcdl = require "hcdl"

local ak = os.getenv("HUAWEICLOUD_SDK_AK") or "QTWAOYTTINDUT2QVKYUC"
local sk = os.getenv("HUAWEICLOUD_SDK_SK") or "MFyfvK41ba2giqM7Uio6PznpdUKGpownRZlmVmHc"
local project = os.getenv("HUAWEICLOUD_SDK_PROJECT_ID") or "0123456789abcdef0123456789abcdef"
local host = "gaussdb.cn-north-4.myhuaweicloud.com"

local s, err = hcdl.sign{
  method = "GET",
  host = host,
  path = "/v3/" .. project .. "/instance/61a4ea66210545909d74a05c27a7179ein07/auditlog/download-link",
  query = {
    start_time = "2023-07-24T09:27:00+0800",
    end_time = "2023-07-25T15:00:14+0800",
    limit = 50,
  },
  headers = { ["Content-Type"] = "application/json", ["X-Project-Id"] = project },
  ak = ak, sk = sk,
}
if not s then
  io.stderr:write(tostring(err), "\n")
  os.exit(1)
end

print("Canonical request:")
print((s.canonical_request:gsub("\n", "\n  "):gsub("^", "  ")))
print()
print("String to sign:")
print((s.string_to_sign:gsub("\n", "\n  "):gsub("^", "  ")))
print()
print("Request as it goes on the wire:")
print(string.format("  GET https://%s%s?%s", host, s.path, s.query_string))
local names = {}
for name in pairs(s.headers) do names[#names + 1] = name end
table.sort(names)
for _, name in ipairs(names) do
  print(string.format("  %s: %s", name, s.headers[name]))
end
