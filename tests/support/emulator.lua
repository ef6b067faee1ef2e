-- Starts the bundled emulator (tests/emulator/server.py) for a spec file and
-- talks to its control endpoint.  One emulator per `describe`:
--
--   local emu = emulator.start()          -- or emulator.start("--tls")
--   emu:reset(); emu:fault{...}; emu:requests(); emu:stop()
local core = require "hcdl.core"
local cjson = require "cjson"
local process = require "tests.support.process"

local emulator = {}
emulator.__index = emulator

function emulator.start(flags)
  local text, files = process.start_reporting("tests/emulator/server.py", "--quiet " .. (flags or ""), "emulator", 30)
  local self = setmetatable(cjson.decode(text), emulator)
  self.helper_files, self.cfgfile = files, files.json
  -- (with --tls the control endpoint is HTTPS too: trust the emulator's CA)
  self.session = assert(core.session{ timeout = 30, cafile = self.cafile ~= cjson.null and self.cafile or nil })
  return self
end

-- A control-endpoint call: decoded JSON answer (raises on failure: a broken
-- fixture is a broken test).
function emulator:ctl(method, path, body)
  local res = assert(self.session:perform{
    method = method, url = self.control .. path,
    headers = body and { ["Content-Type"] = "application/json" } or nil,
    body = body and cjson.encode(body) or (method ~= "GET" and "" or nil),
  })
  assert(res.status >= 200 and res.status < 300,
    ("control %s %s: HTTP %d %s"):format(method, path, res.status, res.body))
  return cjson.decode(res.body)
end

function emulator:reset() return self:ctl("POST", "/reset") end
function emulator:fault(f) return self:ctl("POST", "/faults", f) end
function emulator:set(cfg) return self:ctl("POST", "/config", cfg) end
function emulator:requests(api)
  local all = self:ctl("GET", "/requests")
  if not api then return all end
  local out = {}
  for _, r in ipairs(all) do if r.api == api then out[#out + 1] = r end end
  return out
end
function emulator:object(spec) return self:ctl("POST", "/objects", spec) end

-- A client config for this emulator (every service on its endpoint).
function emulator:config(over)
  local c = {
    project_id = self.project_id, ak = self.ak, sk = self.sk,
    endpoints = { gaussdb = self.endpoint, rds = self.endpoint, dcs = self.endpoint, iam = self.endpoint },
    cafile = self.cafile ~= cjson.null and self.cafile or nil,
  }
  for k, v in pairs(over or {}) do
    if v == false and (k == "ak" or k == "sk" or k == "cafile") then c[k] = nil else c[k] = v end
  end
  return c
end

-- The same, with each service on its own host name (rds.localhost:PORT, ...),
-- as the cloud tells services apart: needed for the calls two services
-- share a path for (list_rds_instances, list_gauss_my_sql_instances).
function emulator:service_config(over)
  local c = self:config(over)
  local endpoints = {}
  for service, url in pairs(self.endpoints) do endpoints[service] = url end
  for service, url in pairs(over and over.endpoints or {}) do endpoints[service] = url end
  c.endpoints = endpoints
  return c
end

-- An RDS backup file, listed through client, whose link lives 1 s while
-- the store sends 1 MiB/s and drops once at 1.5 MiB: the resume finds the
-- link expired and needs a new one.
function emulator:file_expiring_mid_download(client)
  self:fault{ target = "store", kind = "throttle", rate = 1024 * 1024, count = 1 }
  self:fault{ target = "store", kind = "drop_after", bytes = 1536 * 1024, count = 1 }
  self:set{ link_ttl_rds = 1 }
  local listed = assert(client:show_backup_download_link{ backup_id = self.seed.rds_backup_id })
  self:set{ link_ttl_rds = 3600 }
  return listed.files[1]
end

function emulator:stop()
  if self.session then self.session:close() end
  process.stop(self.pid)
  process.remove_files(self.helper_files)
end

return emulator
