-- Starts the hostile test server (tests/support/hostile.py) for a spec and
-- talks to its control endpoint:
--
--   local h = hostile.start()
--   local obj = h:object{ path = "/b/a.bin", size = 1000, etag = "opaque" }
--   h:script("/b/a.bin", { { drop_after = 100 }, { set_object = { seed = "v2", size = 1000 } } })
--   h:requests("/b/a.bin"); h:reset(); h:stop()
local core = require "hcdl.core"
local cjson = require "cjson"
local process = require "tests.support.process"

local hostile = {}
hostile.__index = hostile

function hostile.start()
  local text, files = process.start_reporting("tests/support/hostile.py", "", "hostile server", 20)
  local self = setmetatable(cjson.decode(text), hostile)
  self.helper_files = files
  self.session = assert(core.session{ timeout = 30 })
  return self
end

-- A control call: the decoded answer (raises on failure: a broken fixture
-- is a broken test).
function hostile:ctl(method, path, body)
  local res = assert(self.session:perform{
    method = method, url = self.control .. path,
    headers = body and { ["Content-Type"] = "application/json" } or nil,
    body = body and cjson.encode(body) or (method ~= "GET" and "" or nil),
  })
  assert(res.status == 200, ("hostile control %s %s: HTTP %d %s"):format(method, path, res.status, res.body))
  return cjson.decode(res.body)
end

function hostile:reset() return self:ctl("POST", "/reset") end
function hostile:object(spec) return self:ctl("POST", "/objects", spec) end
function hostile:clear() return self:ctl("DELETE", "/requests") end

-- answers: the queue for path; default: the answer after the queue (nil:
-- serve the object as it is).  cjson would encode an empty list as {}.
function hostile:script(path, answers, default)
  local body = { path = path, default = default }
  if answers and #answers > 0 then body.answers = answers end
  return self:ctl("POST", "/script", body)
end

-- Every logged request, or those whose path (without query) is `path`.
function hostile:requests(path)
  local all = self:ctl("GET", "/requests")
  if not path then return all end
  local out = {}
  for _, r in ipairs(all) do if r.path == path then out[#out + 1] = r end end
  return out
end

-- How many bytes a logged request asked for, for an object of `size`
-- (Range a-b, a-, -n, or none).
function hostile.requested(req, size)
  local range = req.headers.range
  if type(range) ~= "string" then return size end
  local a, b = range:match("^bytes=(%d*)-(%d*)$")
  if not a then return size end
  if a == "" then return math.min(size, tonumber(b)) end
  local first, last = tonumber(a), b ~= "" and math.min(tonumber(b), size - 1) or size - 1
  return math.max(0, last - first + 1)
end

function hostile:stop()
  if self.session then self.session:close() end
  process.stop(self.pid)
  process.remove_files(self.helper_files)
end

return hostile
