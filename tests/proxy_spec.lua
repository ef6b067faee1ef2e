-- API calls and downloads through an HTTP proxy (plain and CONNECT for TLS).
local hcdl = require "hcdl"
local emulator = require "tests.support.emulator"
local proxy_mod = require "tests.support.proxy"
local shell = require "tests.support.shell"

describe("through a proxy", function()
  local emu, tls, proxy
  setup(function()
    emu = emulator.start()
    tls = emulator.start("--tls")
    proxy = proxy_mod.start()
  end)
  teardown(function()
    if proxy then proxy.stop() end
    if emu then emu:stop() end
    if tls then tls:stop() end
  end)

  it("sends API calls and downloads through the proxy", function()
    local client = assert(hcdl.new(emu:config{ proxy = proxy.url }))
    local r = assert(client:show_backup_download_link{ backup_id = emu.seed.rds_backup_id })
    local dir = shell.mktemp_dir()
    assert.is_truthy(client:download(r.files[2], dir))
    shell.remove(dir)
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
