-- Endpoints: config, HUAWEICLOUD_SDK_REGION_* lists, the regions file, the
-- built-in table, the IAM endpoint's own sources; fail-over to the next
-- endpoint on connection failures only.
local config = require "hcdl.config"
local client_mod = require "hcdl.client"
local regions = require "hcdl.regions"
local emulator = require "tests.support.emulator"
local helpers = require "tests.support.helpers"
local clients = require "tests.support.clients"
local shell = require "tests.support.shell"

local PID = "0123456789abcdef0123456789abcdef"

local env, write = clients.env, shell.write

local function resolve(cfg, vars, home)
  local base = { project_id = PID, ak = "AK", sk = "SK" }
  for k, v in pairs(cfg) do base[k] = v end
  return config.resolve(base, env(vars or {}, home))
end

describe("endpoints", function()
  local dir
  setup(function()
    dir = clients.home()
  end)
  teardown(function() shell.remove(dir) end)

  it("takes every endpoint of a comma-separated HUAWEICLOUD_SDK_REGION_* variable, adding https://", function()
    local cfg = assert(resolve({ region = "cn-north-4" },
      { HUAWEICLOUD_SDK_REGION_RDS_CN_NORTH_4 = "https://rds.internal:8443, rds-backup.example.cn ,," }))
    assert.are.same({ "https://rds.internal:8443", "https://rds-backup.example.cn" }, cfg.endpoint_lists.rds)
    assert.are.equal("https://rds.internal:8443", cfg.endpoints.rds)
    assert.are.same({ "https://dcs.cn-north-4.myhuaweicloud.com" }, cfg.endpoint_lists.dcs)
    local _, err = resolve({ region = "cn-north-4" }, { HUAWEICLOUD_SDK_REGION_DCS_CN_NORTH_4 = "https://h/with/path" })
    assert.are.equal("endpoints.dcs", err.field)
    assert.matches("HUAWEICLOUD_SDK_REGION_DCS_CN_NORTH_4", err.message, 1, true)
  end)

  it("reads the regions file: endpoint or endpoints, service names in any case", function()
    write(dir .. "/.huaweicloud/regions.yaml", [[
rds:
  - id: cn-north-4
    endpoints: [ "https://rds-a.example.com", "https://rds-b.example.com:8443" ]
    endpoint: https://rds-c.example.com
Dcs:
  - id: cn-north-4
    endpoint: dcs.example.com
GAUSSDB:
  - id: my-new-region-1
    endpoint: https://gaussdb.my-new-region-1.example.com
]])
    local cfg = assert(resolve({ region = "cn-north-4" }, {}, dir))
    assert.are.same({ "https://rds-a.example.com", "https://rds-b.example.com:8443", "https://rds-c.example.com" },
      cfg.endpoint_lists.rds)
    assert.are.same({ "https://dcs.example.com" }, cfg.endpoint_lists.dcs)
    assert.are.same({ "https://gaussdb.cn-north-4.myhuaweicloud.com" }, cfg.endpoint_lists.gaussdb)
    -- a region the table does not know works through the file (no SDK upgrade needed)
    cfg = assert(resolve({ region = "my-new-region-1" }, {}, dir))
    assert.are.equal("https://gaussdb.my-new-region-1.example.com", cfg.endpoints.gaussdb)
    assert.is_nil(cfg.endpoints.rds)
    -- the environment comes before the file, the config before both
    cfg = assert(resolve({ region = "cn-north-4", endpoints = { dcs = { "https://1.example.com", "http://2.example.com:80" } } },
      { HUAWEICLOUD_SDK_REGION_RDS_CN_NORTH_4 = "https://env.example.com" }, dir))
    assert.are.same({ "https://env.example.com" }, cfg.endpoint_lists.rds)
    assert.are.same({ "https://1.example.com", "http://2.example.com:80" }, cfg.endpoint_lists.dcs)
  end)

  it("is named by HUAWEICLOUD_SDK_REGIONS_FILE or regions_file; a malformed one is refused, a missing one ignored", function()
    local path = dir .. "/other.yaml"
    write(path, "rds:\n  - id: cn-north-4\n    endpoint: https://other.example.com\n")
    assert.are.equal("https://other.example.com",
      assert(resolve({ region = "cn-north-4" }, { HUAWEICLOUD_SDK_REGIONS_FILE = path })).endpoints.rds)
    assert.are.equal("https://other.example.com", assert(resolve({ region = "cn-north-4", regions_file = path })).endpoints.rds)
    assert.is_truthy(resolve({ region = "cn-north-4", regions_file = dir .. "/missing.yaml" }))
    for _, bad in ipairs{ "rds: [ {id: cn-north-4} ]\n", "rds: [ {endpoint: https://x} ]\n",
                          "rds: [ {id: cn-north-4, endpoint: 'https://x/path'} ]\n", "rds: {\n", "- a\n- b\n" } do
      write(path, bad)
      local cfg, err = resolve({ region = "cn-north-4", regions_file = path })
      assert.is_nil(cfg, bad)
      assert.are.equal("regions_file", err.field)
      assert.matches(path, err.message, 1, true)
    end
  end)

  it("finds IAM in the config, HUAWEICLOUD_SDK_IAM_ENDPOINT, the profile's iam_endpoint, then the table", function()
    write(dir .. "/creds", "[basic]\nak = A\nsk = S\niam_endpoint = https://iam.profile.example.com\n")
    local vars = { HUAWEICLOUD_SDK_CREDENTIALS_FILE = dir .. "/creds" }
    assert.are.equal("https://iam.profile.example.com", assert(resolve({ region = "cn-north-4" }, vars)).endpoints.iam)
    vars.HUAWEICLOUD_SDK_IAM_ENDPOINT = "https://iam.env.example.com"
    assert.are.equal("https://iam.env.example.com", assert(resolve({ region = "cn-north-4" }, vars)).endpoints.iam)
    assert.are.equal("https://iam.config.example.com", assert(resolve({ region = "cn-north-4",
      endpoints = { iam = "https://iam.config.example.com" } }, vars)).endpoints.iam)
    assert.are.equal("https://iam.eu-west-101.myhuaweicloud.eu", assert(resolve({ region = "eu-west-101" })).endpoints.iam)
    assert.are.equal("https://iam.cn-north-4.myhuaweicloud.com", assert(resolve({ region = "cn-north-4" })).endpoints.iam)
    assert.are.equal(regions.IAM_DEFAULT, assert(resolve({ region = "cn-north-11" })).endpoints.iam)
    assert.are.equal("https://iam.eu-de.otc.t-systems.com", assert(resolve({ region = "eu-de" })).endpoints.iam)
  end)

  it("still refuses an unknown region nothing names, listing the known ones", function()
    local cfg, err = resolve({ region = "cn-east-2c" })
    assert.is_nil(cfg)
    assert.are.equal("region", err.field)
    assert.matches("unknown region 'cn-east-2c'", err.message, 1, true)
    assert.matches("regions file", err.message, 1, true)
  end)
end)

describe("endpoint fail-over", function()
  local a, b
  setup(function()
    a = emulator.start()
    b = emulator.start("--project-id " .. a.project_id .. " --ak " .. a.ak .. " --sk " .. a.sk)
  end)
  teardown(function()
    if a then a:stop() end
    if b then b:stop() end
  end)
  before_each(function()
    a:reset()
    b:reset()
  end)

  local REFUSED = "http://127.0.0.1:9"

  local function client(rds, over)
    local lines = {}
    local cfg = a:config{ retries = 0, debug = function(l) lines[#lines + 1] = l end }
    cfg.endpoints.rds = rds
    for k, v in pairs(over or {}) do cfg[k] = v end
    return client_mod.new(assert(config.resolve(cfg, env{}))), lines
  end

  local function call(c)
    return c:show_backup_download_link{ backup_id = a.seed.rds_backup_id }
  end

  it("moves from a refused port to the next endpoint, and stays there", function()
    local c, lines = client{ REFUSED, a.endpoint }
    assert.is_truthy(call(c))
    assert.matches("event=error .* curl_code=7 .*endpoint=1/2", lines[2])
    assert.matches("event=answer .*status=200 .*endpoint=2/2", lines[4])
    assert.is_truthy(call(c))
    assert.are.equal(6, #lines) -- the second call went straight to the endpoint that worked
    assert.matches("endpoint=2/2", lines[5])
    assert.are.equal(2, #a:requests("show_backup_download_link"))
  end)

  it("works the same for a HUAWEICLOUD_SDK_REGION_* list", function()
    local lines = {}
    local cfg = assert(config.resolve({ region = "cn-north-4", project_id = a.project_id, ak = a.ak, sk = a.sk,
      retries = 0, debug = function(l) lines[#lines + 1] = l end },
      env{ HUAWEICLOUD_SDK_REGION_RDS_CN_NORTH_4 = REFUSED .. "," .. a.endpoint }))
    assert.is_truthy(call(client_mod.new(cfg)))
    assert.are.equal(4, #lines)
  end)

  it("does not move on an HTTP answer: a 503 is the service's", function()
    a:fault{ target = "show_backup_download_link", kind = "status", status = 503 }
    local c = client{ a.endpoint, b.endpoint }
    local r, err = call(c)
    assert.is_nil(r)
    assert.are.equal(503, err.status)
    assert.are.equal(0, #b:requests())
  end)

  it("does not move on a timeout (the request may have been sent)", function()
    a:fault{ target = "show_backup_download_link", kind = "slow_first_byte", seconds = 1.5 }
    local c = client({ a.endpoint, b.endpoint }, { timeout = 0.5 })
    local r, err = call(c)
    assert.is_nil(r)
    assert.are.equal("timeout", err.kind)
    assert.are.equal(0, #b:requests())
  end)

  it("moves on when the connection times out before the request began (a TLS handshake that never ends)", function()
    -- a listener that accepts and never says a word: the handshake runs
    -- into connect_timeout, before anything was sent
    local p = assert(io.popen(helpers.PY .. [[ -u -c '
import socket, time
s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(16)
print(s.getsockname()[1], flush=True)
conns = []
end = time.time() + 4
while time.time() < end:
    s.settimeout(0.5)
    try:
        conns.append(s.accept()[0])
    except OSError:
        pass
']]))
    local port = tonumber(p:read("*l"))
    local c, lines = client({ ("https://127.0.0.1:%d"):format(port), a.endpoint }, { connect_timeout = 0.5 })
    local r, err = call(c)
    assert.is_nil(err)
    assert.is_truthy(r)
    assert.matches("event=error .* curl_code=28 .*endpoint=1/2", lines[2])
    assert.matches("event=answer .*status=200 .*endpoint=2/2", lines[4])
    p:close()
  end)

  it("when no endpoint answers, says what each one did; the next call starts from the first again", function()
    local c, lines = client{ REFUSED, "http://127.0.0.1:1" }
    local r, err = call(c)
    assert.is_nil(r)
    assert.are.equal("network", err.kind)
    assert.matches("no rds endpoint could be reached: " .. REFUSED .. ": ", err.message, 1, true)
    assert.matches("http://127.0.0.1:1: ", err.message, 1, true)
    call(c)
    assert.matches("endpoint=1/2", lines[#lines - 2])
  end)

  it("moves on when the TLS handshake fails", function()
    local tls = emulator.start("--tls --project-id " .. a.project_id .. " --ak " .. a.ak .. " --sk " .. a.sk)
    -- the first endpoint's certificate is not signed by the CA we trust
    local c = client({ tls.endpoint, a.endpoint }, {})
    local r, err = call(c)
    tls:stop()
    assert.is_nil(err)
    assert.is_truthy(r)
  end)
end)
