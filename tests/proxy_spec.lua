-- API calls and downloads through an HTTP proxy (plain and CONNECT for TLS).
local hcdl = require "hcdl"
local core = require "hcdl.core"
local emulator = require "tests.support.emulator"
local helpers = require "tests.support.helpers"

local function start_proxy()
  local base = os.tmpname()
  os.execute((helpers.PY .. " %s/tests/support/proxy.py %s.port %s.log >/dev/null 2>&1 & echo $! > %s.pid")
    :format(helpers.root, base, base, base))
  local port
  local deadline = core.now() + 10
  repeat
    local f = io.open(base .. ".port")
    if f then port = f:read("*a"); f:close() else core.sleep(0.05) end
  until port or core.now() > deadline
  assert(port, "the test proxy did not start")
  local pid = helpers.read_file(base .. ".pid"):match("%d+")
  return {
    url = "http://127.0.0.1:" .. port,
    lines = function()
      local f = io.open(base .. ".log")
      if not f then return {} end
      local out = {}
      for l in f:lines() do out[#out + 1] = l end
      f:close()
      return out
    end,
    stop = function()
      os.execute("kill " .. pid .. " 2>/dev/null")
      for _, ext in ipairs{ ".port", ".log", ".pid", "" } do os.remove(base .. ext) end
    end,
  }
end

describe("through a proxy", function()
  local emu, tls, proxy
  setup(function()
    emu = emulator.start()
    tls = emulator.start("--tls")
    proxy = start_proxy()
  end)
  teardown(function()
    if proxy then proxy.stop() end
    if emu then emu:stop() end
    if tls then tls:stop() end
  end)

  it("sends API calls and downloads through the proxy", function()
    local client = assert(hcdl.new(emu:config{ proxy = proxy.url }))
    local r = assert(client:show_backup_download_link{ backup_id = emu.seed.rds_backup_id })
    local dir = os.tmpname()
    os.remove(dir)
    os.execute("mkdir -p " .. dir)
    assert.is_truthy(client:download(r.files[2], dir))
    os.execute("rm -rf " .. dir)
    local lines = table.concat(proxy.lines(), "\n")
    assert.is_truthy(lines:find("GET " .. emu.endpoint .. "/v3/", 1, true))
    assert.is_truthy(lines:find("GET " .. emu.endpoint .. "/rds-backup-emulator/", 1, true))
  end)

  it("tunnels HTTPS with CONNECT and still verifies the server", function()
    local client = assert(hcdl.new(tls:config{ proxy = proxy.url }))
    assert.is_truthy(client:show_backup_download_link{ backup_id = tls.seed.rds_backup_id })
    local lines = table.concat(proxy.lines(), "\n")
    assert.is_truthy(lines:find(("CONNECT 127.0.0.1:%d"):format(tls.port), 1, true))
  end)
end)
