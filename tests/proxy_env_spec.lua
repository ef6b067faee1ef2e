-- Proxies from the environment, as libcurl reads them: HTTPS_PROXY /
-- https_proxy (with user:password@), NO_PROXY, for API calls and for
-- downloads, and the proxy's password never printed.  Each case runs a
-- real Lua process with its own environment against the HTTPS emulator.
local hcdl = require "hcdl"
local emulator = require "tests.support.emulator"
local proxy_mod = require "tests.support.proxy"
local shell = require "tests.support.shell"

local SCRIPT = [[
local cjson = require "cjson"
local hcdl = require "hcdl"
local f = assert(io.open(arg[1]))
local emu = cjson.decode(f:read("*a"))
f:close()
local c = assert(hcdl.new{ project_id = emu.project_id, ak = emu.ak, sk = emu.sk, cafile = emu.cafile,
  endpoints = { rds = emu.endpoint }, retries = 0 })
local r, err = c:show_backup_download_link{ backup_id = emu.seed.rds_backup_id }
if not r then print("api error: " .. tostring(err)) os.exit(1) end
print("api ok")
-- API calls and downloads share the client's connections: close them, so
-- the download must open (and tunnel) its own
c:close()
local res, derr = c:download(r.files[2], arg[2], { retries = 0 })
if not res then print("download error: " .. tostring(derr)) os.exit(1) end
print("download ok " .. res.bytes)
]]

local PROXY_VARS = { "HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy",
                     "NO_PROXY", "no_proxy" }

describe("proxies from the environment", function()
  local tls, proxy, script, work
  setup(function()
    tls = emulator.start("--tls")
    proxy = proxy_mod.start("hcdl-user:Proxy-Pass-w0rd")
    work = shell.mktemp_dir()
    script = work .. "/client.lua"
    shell.write(script, SCRIPT)
  end)
  teardown(function()
    if proxy then proxy.stop() end
    if tls then tls:stop() end
    shell.remove(work)
  end)
  before_each(function()
    tls:reset()
    proxy.clear()
    os.remove(work .. "/file")
  end)

  -- runs the script with exactly these proxy variables; its output
  local function run(vars)
    local unset = {}
    for _, v in ipairs(PROXY_VARS) do unset[#unset + 1] = "-u " .. v end
    local set = {}
    for k, v in pairs(vars) do set[#set + 1] = ("%s='%s'"):format(k, v) end
    local cmd = ("env %s %s %s %s %s %s 2>&1"):format(table.concat(unset, " "), table.concat(set, " "),
      os.getenv("HCDL_LUA") or "lua5.4", script, tls.cfgfile, work .. "/file")
    local p = assert(io.popen(cmd))
    local out = p:read("*a")
    p:close()
    return out
  end

  local function tunnels()
    local n, all_ok = 0, true
    for _, l in ipairs(proxy.lines()) do
      if l:find(("CONNECT 127.0.0.1:%d"):format(tls.port), 1, true) then
        n = n + 1
        all_ok = all_ok and l:find("auth=ok", 1, true) ~= nil
      end
    end
    return n, all_ok
  end

  local with_password = function() return proxy.url:gsub("^http://", "http://hcdl-user:Proxy-Pass-w0rd@") end

  it("HTTPS_PROXY with user:password carries API calls and downloads", function()
    local out = run{ HTTPS_PROXY = with_password() }
    assert.matches("api ok\ndownload ok 700001", out, 1, true)
    local n, ok = tunnels()
    assert.is_true(n >= 2, "expected a tunnel for the API and one for the download, saw " .. n)
    assert.is_true(ok)
  end)

  it("https_proxy (lower case) too", function()
    local out = run{ https_proxy = with_password() }
    assert.matches("download ok 700001", out, 1, true)
    assert.is_true(tunnels() >= 2)
  end)

  it("NO_PROXY sends the host's requests directly", function()
    local out = run{ HTTPS_PROXY = with_password(), NO_PROXY = "127.0.0.1" }
    assert.matches("download ok 700001", out, 1, true)
    assert.are.equal(0, (tunnels()))
  end)

  it("a refused proxy password is an error that does not show it", function()
    local out = run{ HTTPS_PROXY = proxy.url:gsub("^http://", "http://hcdl-user:Wrong-Pass-w0rd@") }
    assert.matches("api error: hcdl network error", out, 1, true)
    assert.matches("407", out, 1, true)
    assert.is_nil(out:find("Wrong-Pass-w0rd", 1, true))
    assert.matches("auth=refused", table.concat(proxy.lines(), "\n"), 1, true)
  end)

  it("the config's proxy password appears in no error or tostring", function()
    local c = assert(hcdl.new(tls:config{ proxy = "http://hcdl-user:Config-Pass-w0rd@127.0.0.1:9", retries = 0 }))
    local _, err = c:show_backup_download_link{ backup_id = tls.seed.rds_backup_id }
    assert.are.equal("network", err.kind)
    assert.is_nil(tostring(err):find("Config-Pass-w0rd", 1, true))
    assert.is_nil(tostring(c):find("Config-Pass-w0rd", 1, true))
  end)
end)
