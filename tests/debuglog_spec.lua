-- The debug hook: one line per request and per answer, from config.debug
-- or HCDL_DEBUG=1 (stderr); no secret in any line, whatever the
-- credential source, and link signatures redacted.
local hcdl = require "hcdl"
local cjson = require "cjson.safe"
local core = require "hcdl.core"
local debuglog = require "hcdl.debuglog"
local transport = require "hcdl.transport"
local fixture = require "tests.support.fixture"
local proxy_mod = require "tests.support.proxy"
local clients = require "tests.support.clients"
local shell = require "tests.support.shell"

local write = shell.write
local function client_for(cfg, vars) return assert(clients.new(cfg, vars)) end

describe("debug lines", function()
  local emu, seed, dir
  local fx = fixture.emulator{ client = false, dir = "once" }
  setup(function() emu = fx:start(); seed, dir = emu.seed, fx.dir end)
  teardown(function() fx:stop() end)
  before_each(function() fx:reset() end)

  local function call(c)
    return c:show_backup_download_link{ backup_id = seed.rds_backup_id }
  end

  it("says method, host, path, status, request id, timing and attempt, one line each way", function()
    local lines = {}
    local c = assert(hcdl.new(emu:config{ debug = function(l) lines[#lines + 1] = l end, retry_base = 0.01 }))
    emu:fault{ target = "show_backup_download_link", kind = "status", status = 503, count = 1 }
    assert.is_truthy(call(c))
    assert.are.equal(4, #lines)
    for i, l in ipairs(lines) do
      assert.matches("^hcdl time=%d%d%d%d%-%d%d%-%d%dT%d%d:%d%d:%d%dZ event=", l)
      lines[i] = l:gsub(" time=%S+", "", 1)
    end
    local host = emu.endpoint:gsub("^http://", "")
    local path = "/v3/" .. emu.project_id .. "/backup-files"
    assert.are.equal(("hcdl event=request api=show_backup_download_link method=GET host=%s path=%s "
      .. "query=backup_id=%s attempt=1 retries=4"):format(host, path, seed.rds_backup_id), lines[1])
    assert.matches("^hcdl event=answer .* status=503 request_id=%x+ seconds=%d+%.%d%d%d attempt=1 retries=4$", lines[2])
    assert.matches("attempt=2", lines[3])
    local rid = emu:requests("show_backup_download_link")[2].request_id
    assert.matches("status=200 request_id=" .. rid, lines[4], 1, true)
  end)

  it("go to stderr with HCDL_DEBUG=1, and nowhere without it", function()
    local script = dir .. "/debug.lua"
    write(script, [[
local cjson = require "cjson"
local hcdl = require "hcdl"
local f = assert(io.open(arg[1])); local emu = cjson.decode(f:read("*a")); f:close()
local c = assert(hcdl.new{ project_id = emu.project_id, ak = emu.ak, sk = emu.sk, endpoints = { rds = emu.endpoint } })
assert(c:show_backup_download_link{ backup_id = emu.seed.rds_backup_id })
print("done")
]])
    local function run(value)
      local p = assert(io.popen(("env %s %s %s %s 2>&1 >/dev/null"):format(value and ("HCDL_DEBUG=" .. value) or "-u HCDL_DEBUG",
        os.getenv("HCDL_LUA") or "lua5.4", script, emu.cfgfile)))
      local err = p:read("*a")
      p:close()
      return err
    end
    local err = run("1")
    assert.matches("event=request api=show_backup_download_link method=GET", err, 1, true)
    assert.matches("event=answer api=show_backup_download_link .*status=200", err)
    assert.are.equal("", run(nil))
    assert.are.equal("", run("0"))
  end)

  it("redact a link's signature and key, keeping what helps", function()
    local obj = emu:object{ name = "debug.bin", size = 10, ttl = 600, cache_control = "no-cache,no-store" }
    local lines = {}
    debuglog.emit({ debug = function(l) lines[#lines + 1] = l end },
      { event = "request", api = "download", method = "GET", url = obj.url, attempt = 1 })
    local sig = obj.url:match("Signature=([^&]+)")
    local ak = obj.url:match("AWSAccessKeyId=([^&]+)")
    assert.is_nil(lines[1]:find(sig, 1, true))
    assert.is_nil(lines[1]:find(ak, 1, true))
    assert.matches("path=/" .. obj.bucket .. "/" .. obj.key, lines[1], 1, true)
    assert.matches("Signature=<redacted>", lines[1], 1, true)
    assert.matches("AWSAccessKeyId=<redacted>", lines[1], 1, true)
    assert.matches("response-cache-control=<redacted>", lines[1], 1, true)
    assert.matches(("Expires=%d"):format(obj.expires), lines[1], 1, true)
    assert.are.equal("h:1", (debuglog.split_url("https://user:pass@h:1/p?x=1")))
  end)

  it("show no secret from any credential source, whatever the server echoes", function()
    -- every secret that really crosses the wire is collected from the traffic
    local secrets = { emu.sk, emu.temporary.sk, emu.temporary.security_token, emu.iam.password,
      emu.identity.pod_token, emu.identity.id_token }
    local function add(v) if type(v) == "string" and #v >= 8 then secrets[#secrets + 1] = v end end
    local real = assert(transport.curl{ timeout = 10 })
    local spy = { name = "spy", sleep = core.sleep, now = core.now, close = real.close }
    function spy.send(spec, timeout)
      local h = spec.headers or {}
      for k, v in pairs(h) do
        local name = k:lower()
        if name == "authorization" then add(v:match("Signature=(%x+)") or v) end
        if name == "x-security-token" or name == "x-auth-token" or name == "x-metadata-token" then add(v) end
      end
      local res, err = real.send(spec, timeout)
      if res then
        add(res.headers["x-subject-token"])
        if spec.url:find("/api/token", 1, true) then add(res.body) end
        local doc = cjson.decode(res.body or "")
        local c = type(doc) == "table" and (doc.credential or doc.credentials)
        if type(c) == "table" then
          add(c.secret or c.secretAccessKey)
          add(c.securitytoken or c.securityToken)
        end
      end
      return res, err
    end
    local lines, errors = {}, {}
    local function debug(l) lines[#lines + 1] = l end
    local function run(cfg, vars)
      cfg.debug, cfg.transport, cfg.retries = debug, spy, 0
      local r, err = call(client_for(cfg, vars))
      errors[#errors + 1] = err and tostring(err) or nil
      return r, err
    end
    local tmp = emu.temporary
    -- temporary keys given, then with a wrong SK: the gateway echoes the
    -- canonical request, security token included
    assert.is_truthy(run(emu:config{ ak = tmp.ak, sk = tmp.sk, security_token = tmp.security_token }))
    local _, err = run(emu:config{ ak = tmp.ak, sk = "Wrong-Secret-Key-0123", security_token = tmp.security_token })
    assert.are.equal("auth", err.kind)
    assert.matches("x-security-token:<redacted>", err.message, 1, true)
    add("Wrong-Secret-Key-0123")
    -- an IAM password token, ECS metadata keys, pod identity, federation
    assert.is_truthy(run(emu:config{ ak = false, sk = false,
      iam = { user = emu.iam.user, password = emu.iam.password, domain = emu.iam.domain } }))
    assert.is_truthy(run(emu:config{ ak = false, sk = false, metadata_endpoint = emu.endpoint }))
    write(dir .. "/pod", emu.identity.pod_token)
    assert.is_truthy(run(emu:config{ ak = false, sk = false, metadata_endpoint = false },
      { HC_CONTAINER_CREDENTIALS_FULL_URI = emu.identity.pod_identity_url, HC_CONTAINER_AUTHORIZATION_TOKEN_FILE = dir .. "/pod" }))
    write(dir .. "/idt", emu.identity.id_token)
    assert.is_truthy(run(emu:config{ ak = false, sk = false, idp_id = emu.identity.idp_id, id_token_file = dir .. "/idt" }))
    -- a token whose refusal makes IAM's message echo nothing secret, but the lines must still be clean
    run(emu:config{ ak = false, sk = false, token = "MIIForged-Token-Value-0123" })
    add("MIIForged-Token-Value-0123")
    real.close()
    -- through a proxy with a password (the real libcurl transport)
    local proxy = proxy_mod.start("hcdl-user:Debug-Proxy-Pass")
    local c = assert(hcdl.new(emu:config{ debug = debug, retries = 0,
      proxy = proxy.url:gsub("^http://", "http://hcdl-user:Debug-Proxy-Pass@") }))
    assert.is_truthy(call(c))
    proxy.stop()
    add("Debug-Proxy-Pass")

    assert.is_true(#lines >= 20, "expected lines from every flow, got " .. #lines)
    assert.is_true(#secrets >= 15, "expected secrets from every flow, got " .. #secrets)
    local text = table.concat(lines, "\n") .. "\n" .. table.concat(errors, "\n")
    for _, s in ipairs(secrets) do
      assert.is_nil(text:find(s, 1, true), "a secret appears: " .. s:sub(1, 6) .. "...")
    end
    for _, api in ipairs{ "metadata_token", "metadata_securitykey", "pod_identity", "iam_id_token",
                          "iam_securitytokens", "iam_tokens" } do
      assert.matches("api=" .. api, text, 1, true)
    end
  end)

  it("shows the APIs' own non-secret parameters (backup_type was <redacted>)", function()
    local debuglog = require "hcdl.debuglog"
    local line = debuglog.format{ event = "request",
      url = "https://rds.example/v3/p/backups?instance_id=a&backup_type=auto&Signature=s3cr3t" }
    assert.matches("backup_type=auto", line, 1, true)
    assert.is_nil(line:find("s3cr3t", 1, true))
  end)
end)
