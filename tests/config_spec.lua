-- hcdl.new / hcdl.config: validation, the credential chain, regions.
local hcdl = require "hcdl"
local config = require "hcdl.config"
local regions = require "hcdl.regions"
local clients = require "tests.support.clients"
local shell = require "tests.support.shell"

local PID = "0123456789abcdef0123456789abcdef"

local env, write = clients.env, shell.write

describe("hcdl.new configuration", function()
  it("accepts a minimal config and fills endpoints from the region", function()
    local c = assert(hcdl.new{ region = "cn-north-4", project_id = PID, ak = "AK", sk = "SK" })
    assert.are.equal("https://gaussdb.cn-north-4.myhuaweicloud.com", c.endpoints.gaussdb)
    assert.are.equal("https://rds.cn-north-4.myhuaweicloud.com", c.endpoints.rds)
    assert.are.equal("https://dcs.cn-north-4.myhuaweicloud.com", c.endpoints.dcs)
    assert.are.equal("https://iam.cn-north-4.myhuaweicloud.com", c.endpoints.iam)
  end)

  it("knows the three TaurusDB host patterns, RDS's .eu case and Open Telekom Cloud", function()
    assert.are.equal("https://gaussdbformysql.ap-southeast-1.myhuaweicloud.com", regions.endpoint("ap-southeast-1", "gaussdb", function() end))
    assert.are.equal("https://gaussdb-mysql.af-south-1.myhuaweicloud.com", regions.endpoint("af-south-1", "gaussdb", function() end))
    assert.are.equal("https://rds.eu-west-101.myhuaweicloud.eu", regions.endpoint("eu-west-101", "rds", function() end))
    assert.are.equal("https://dcs.eu-west-101.myhuaweicloud.com", regions.endpoint("eu-west-101", "dcs", function() end))
    assert.are.equal("https://rds.eu-de.otc.t-systems.com", regions.endpoint("eu-de", "rds", function() end))
    assert.are.equal("https://iam.eu-nl.otc.t-systems.com", regions.endpoint("eu-nl", "iam", function() end))
    assert.are.equal("https://iam.myhuaweicloud.com", regions.endpoint("cn-north-11", "iam", function() end))
    local url, why = regions.endpoint("eu-nl", "gaussdb", function() end)
    assert.is_nil(url)
    assert.matches("endpoints.gaussdb", why, 1, true)
  end)

  it("lets HUAWEICLOUD_SDK_REGION_<SERVICE>_<REGION> override the table", function()
    local url = regions.endpoint("cn-north-4", "rds", function(k)
      return k == "HUAWEICLOUD_SDK_REGION_RDS_CN_NORTH_4" and "https://rds.internal:8443,https://b" or nil
    end)
    assert.are.equal("https://rds.internal:8443", url)
  end)

  it("lists the known regions for an unknown one, never crashing", function()
    local c, err = hcdl.new{ region = "cn-east-2c", project_id = PID, ak = "AK", sk = "SK" }
    assert.is_nil(c)
    assert.are.equal("region", err.field)
    assert.matches("unknown region 'cn-east-2c'", err.message, 1, true)
    assert.matches("cn-north-4", err.message, 1, true)
  end)

  it("explicit endpoints win and need no region", function()
    local c = assert(hcdl.new{ project_id = PID, ak = "AK", sk = "SK", endpoints = { rds = "http://127.0.0.1:9/" } })
    assert.are.equal("http://127.0.0.1:9", c.endpoints.rds)
  end)

  it("refuses what is wrong, naming the option", function()
    local function refuses(cfg, field, text)
      local c, err = hcdl.new(cfg)
      assert.is_nil(c)
      assert.are.equal("input", err.kind)
      assert.are.equal(field, err.field)
      if text then assert.matches(text, err.message, 1, true) end
    end
    local base = { region = "cn-north-4", project_id = PID, ak = "AK", sk = "SK" }
    local function with(k, v) local t = {}; for a, b in pairs(base) do t[a] = b end; t[k] = v; return t end
    refuses(with("regoin", "x"), "regoin", "unknown option")
    refuses(with("timeout", "5"), "timeout", "must be a number")
    refuses(with("timeout", -1), "timeout", "between")
    refuses(with("retries", 1.5), "retries", "whole")
    refuses(with("project_id", "short"), "project_id", "32")
    refuses(with("token", "t"), "token", "not both")
    refuses(with("endpoints", { rds = "ftp://x" }), "endpoints.rds", "http")
    refuses(with("endpoints", { s3 = "https://x" }), "endpoints.s3", "unknown service")
    refuses(with("language", "fr"), "language", "en-us")
    refuses(with("iam", { user = "u", password = "p" }), "iam.domain", "required")
    refuses({ region = "cn-north-4", project_id = PID, ak = "AK" }, "sk", "together")
    assert.has_error(function() hcdl.new("cn-north-4") end)
  end)

  describe("credential chain", function()
    -- What a client made from cfg signs its first request with, seen the
    -- public way: the request its transport is given.  { ak, sk (when the
    -- signature checks out with the expected one), security_token,
    -- project_id }: the keys are in the client's holder, not in the config.
    local function signed_with(cfg, vars, home, sk)
      local seen
      cfg.retries = 0
      cfg.transport = { send = function(spec)
        seen = spec
        return nil, hcdl.error{ kind = "network", message = "captured, not sent" }
      end }
      local resolved = assert(config.resolve(cfg, env(vars, home)))
      local _, err = require("hcdl.client").new(resolved):show_backup_download_link{ backup_id = "b1" }
      assert.matches("captured", err.message, 1, true)
      local h = seen.headers
      local ak = h.Authorization:match("Access=([^,]+),")
      local host, path, q = seen.url:match("^https?://([^/]+)([^?]*)%??(.*)$")
      local query, headers = {}, {}
      for k, v in q:gmatch("([^&=]+)=([^&]*)") do query[#query + 1] = { k, v } end
      for k, v in pairs(h) do
        if k ~= "Authorization" and k ~= "Host" and k ~= "X-Sdk-Date" then headers[k] = v end
      end
      local again = assert(hcdl.sign{ method = seen.method, host = host, path = path, query = query,
        headers = headers, body = seen.body, ak = ak, sk = sk, date = h["X-Sdk-Date"] })
      return { ak, again.authorization == h.Authorization and sk or "(another sk)", h["X-Security-Token"],
        h["X-Project-Id"] }
    end
    it("prefers the config table", function()
      assert.are.same({ "A1", "S1", nil, PID }, signed_with({ region = "cn-north-4", project_id = PID, ak = "A1", sk = "S1" },
        { HUAWEICLOUD_SDK_AK = "A2", HUAWEICLOUD_SDK_SK = "S2" }, nil, "S1"))
    end)
    it("then HUAWEICLOUD_SDK_*, with the security token and project id", function()
      assert.are.same({ "A2", "S2", "T2", PID }, signed_with({ region = "cn-north-4" }, {
        HUAWEICLOUD_SDK_AK = "A2", HUAWEICLOUD_SDK_SK = "S2", HUAWEICLOUD_SDK_SECURITY_TOKEN = "T2",
        HUAWEICLOUD_SDK_PROJECT_ID = PID, CLOUD_SDK_AK = "A3", CLOUD_SDK_SK = "S3" }, nil, "S2"))
    end)
    it("then CLOUD_SDK_AK/SK", function()
      assert.are.same({ "A3", "S3", nil, PID }, signed_with({ region = "cn-north-4", project_id = PID },
        { CLOUD_SDK_AK = "A3", CLOUD_SDK_SK = "S3", HUAWEICLOUD_SDK_AK = "only-half" }, nil, "S3"))
    end)
    it("then the profile file ([basic]), also named by HUAWEICLOUD_SDK_CREDENTIALS_FILE", function()
      local dir = clients.home()
      write(dir .. "/.huaweicloud/credentials", "[global]\nak = G\nsk = G\n\n[basic]\nak = A4\nsk = S4\nproject_id = "
        .. PID .. "\nsecurity_token = T4\n")
      assert.are.same({ "A4", "S4", "T4", PID }, signed_with({ region = "cn-north-4" }, {}, dir, "S4"))
      local other = dir .. "/other.ini"
      write(other, "[basic]\nak=A5\nsk=S5\n")
      assert.are.same({ "A5", "S5", nil, PID }, signed_with({ region = "cn-north-4", project_id = PID },
        { HUAWEICLOUD_SDK_CREDENTIALS_FILE = other }, dir, "S5"))
      shell.remove(dir)
    end)
    it("says where it looked when nothing is found (metadata turned off: an input error at once)", function()
      local cfg, err = config.resolve({ region = "cn-north-4", project_id = PID, metadata_endpoint = false }, env{})
      assert.is_nil(cfg)
      assert.are.equal("input", err.kind)
      assert.are.equal("ak", err.field)
      for _, what in ipairs{ "config:", "environment:", "HUAWEICLOUD_SDK_AK", "profile:", "/nonexistent/.huaweicloud/credentials",
                             "ECS metadata: turned off", "CCE pod identity:", "HC_CONTAINER_CREDENTIALS_FULL_URI" } do
        assert.matches(what, err.message, 1, true)
      end
    end)
    it("leaves ECS metadata and pod identity to the first call (hcdl.new does no I/O)", function()
      local cfg = assert(config.resolve({ region = "cn-north-4", project_id = PID }, env{}))
      local c = require("hcdl.client").new(cfg)
      assert.matches("credentials from ECS metadata (tried at the first call)", tostring(c), 1, true)
    end)
  end)

  it("shows no secret when printed", function()
    local c = assert(hcdl.new{ region = "cn-north-4", project_id = PID, ak = "AK", sk = "TopSecretSK", security_token = "TopSecretToken" })
    local text = tostring(c)
    assert.is_nil(text:find("TopSecret", 1, true))
    for k, v in pairs(c) do
      assert.is_nil(tostring(v):find("TopSecret", 1, true), k)
    end
  end)
end)

describe("IAM password tokens", function()
  local emulator = require "tests.support.emulator"
  local emu
  setup(function() emu = emulator.start() end)
  teardown(function() if emu then emu:stop() end end)
  before_each(function() emu:reset() end)

  it("gets a project-scoped token once and reuses it", function()
    local c = assert(hcdl.new(emu:config{ ak = false, sk = false,
      iam = { user = emu.iam.user, password = emu.iam.password, domain = emu.iam.domain } }))
    assert.is_truthy(c:show_backup_download_link{ backup_id = emu.seed.rds_backup_id })
    assert.is_truthy(c:download_errorlog{ instance_id = emu.seed.pg_instance_id })
    assert.are.equal(1, #emu:requests("iam_tokens"))
  end)

  it("reports a wrong password as an auth error without the password", function()
    local c = assert(hcdl.new(emu:config{ ak = false, sk = false,
      iam = { user = emu.iam.user, password = "Wrong-Password-123", domain = emu.iam.domain } }))
    local r, err = c:show_backup_download_link{ backup_id = emu.seed.rds_backup_id }
    assert.is_nil(r)
    assert.are.equal("auth", err.kind)
    assert.is_nil(tostring(err):find("Wrong-Password-123", 1, true))
    assert.are.equal(0, #emu:requests("show_backup_download_link"))
  end)

  it("parses IAM expiry times as UTC", function()
    assert.are.equal(1447033377, require("hcdl.iam").parse_expiry("2015-11-09T01:42:57.527363Z"))
  end)
end)

describe("hcdl.timefmt", function()
  local timefmt = require "hcdl.timefmt"
  it("reads link expiry times with their offset, whatever the local zone", function()
    assert.are.equal(1690165620, timefmt.parse_offset("2023-07-24T10:27:00+0800"))
    assert.are.equal(1690165620, timefmt.parse_offset("2023-07-24T02:27:00+0000"))
    assert.are.equal(1690165620, timefmt.parse_offset("2023-07-23T21:27:00-0500"))
    assert.is_nil(timefmt.parse_offset("2023-07-13T012:30:36+0800")) -- the official example's typo
  end)
  it("handles leap years and the epoch", function()
    assert.are.equal(0, timefmt.parse_utc("1970-01-01T00:00:00Z"))
    assert.are.equal(951782400, timefmt.parse_utc("2000-02-29T00:00:00Z"))
  end)
  -- the one calendar (src/clock.c) at its edges, against an independent count
  local function days_by_counting(y, m, d)
    local function leap(x) return (x % 4 == 0 and x % 100 ~= 0) or x % 400 == 0 end
    local mdays = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 }
    local n = 0
    for yy = 1970, y - 1 do n = n + (leap(yy) and 366 or 365) end
    for mm = 1, m - 1 do n = n + mdays[mm] + ((mm == 2 and leap(y)) and 1 or 0) end
    return n + d - 1
  end
  for _, c in ipairs{ { 1970, 1, 1 }, { 1972, 2, 29 }, { 1972, 3, 1 }, { 1999, 12, 31 }, { 2000, 2, 29 },
                      { 2000, 3, 1 }, { 2024, 2, 29 }, { 2038, 1, 19 }, { 2038, 1, 20 }, { 2100, 2, 28 },
                      { 2100, 3, 1 }, { 2400, 2, 29 }, { 2023, 4, 30 }, { 2023, 12, 31 }, { 9999, 12, 31 } } do
    it(("counts the days of %04d-%02d-%02d"):format(c[1], c[2], c[3]), function()
      assert.are.equal(days_by_counting(c[1], c[2], c[3]), timefmt.days_from_civil(c[1], c[2], c[3]))
    end)
  end
  it("reads times past 2038 (no 32-bit seconds)", function()
    assert.are.equal(2147483648, timefmt.parse_utc("2038-01-19T03:14:08Z"))
    assert.are.equal(4102444800, timefmt.parse_utc14("21000101000000"))
    assert.are.equal(253402300799, timefmt.parse_offset("9999-12-31T23:59:59+0000"))
  end)
  it("keeps the old arithmetic for a month out of range", function()
    assert.are.equal(timefmt.days_from_civil(2024, 1, 1), timefmt.days_from_civil(2023, 13, 1))
  end)
end)
