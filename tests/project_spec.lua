-- project_id found through IAM when the config does not give it: a signed
-- GET /v3/projects?name=<region> at the first call (never in hcdl.new),
-- the SDK's errors for none or several, one lookup per key and region.
local hcdl = require "hcdl"
local fixture = require "tests.support.fixture"

local client_for = require("tests.support.clients").new

describe("project id discovery", function()
  local emu, seed
  local fx = fixture.emulator{ client = false }
  setup(function() emu = fx:start(); seed = emu.seed end)
  teardown(function() fx:stop() end)
  before_each(function() fx:reset() end)

  local function count(api) return #emu:requests(api) end

  -- the emulator's region is "emulator"; its IAM is on the same port
  local function without_project(over)
    local cfg = emu:config(over)
    cfg.project_id, cfg.region, cfg.retries = nil, "emulator", 0
    return cfg
  end

  local function call(c)
    return c:show_backup_download_link{ backup_id = seed.rds_backup_id }
  end

  it("looks the project up at the first call, once per key and region for the process", function()
    local c = assert(client_for(without_project()))
    assert.are.equal(0, #emu:requests())
    assert.is_nil(c.project_id)
    assert.matches("project looked up at the first call", tostring(c), 1, true)
    assert.is_truthy(call(c))
    assert.are.equal(emu.project_id, c.project_id)
    assert.is_truthy(call(c))
    local other = assert(client_for(without_project()))
    assert.is_truthy(call(other))
    assert.are.equal(1, count("iam_projects"))
    assert.are.equal(3, count("show_backup_download_link"))
  end)

  it("with temporary keys, signs the lookup with the security token", function()
    local c = assert(client_for(without_project{ ak = false, sk = false, metadata_endpoint = emu.endpoint }))
    assert.is_truthy(call(c))
    assert.are.equal(1, count("iam_projects"))
    assert.are.equal(200, emu:requests("iam_projects")[1].status)
  end)

  it("no project of that name: the SDK's error, with IAM's trace id, and nothing else is sent", function()
    emu:ctl("POST", "/identity", { iam_projects = 0 })
    local c = assert(client_for(without_project{ ak = false, sk = false, metadata_endpoint = emu.endpoint }))
    local r, err = call(c)
    assert.is_nil(r)
    assert.are.equal("api", err.kind)
    assert.are.equal("project_id", err.field)
    local trace = emu:requests("iam_projects")[1].request_id
    assert.are.equal(trace, err.request_id)
    assert.matches("Failed to get project id of region 'emulator', X-IAM-Trace-Id=" .. trace, err.message, 1, true)
    assert.matches("set project_id", err.message, 1, true)
    assert.are.equal(0, count("show_backup_download_link"))
  end)

  it("several projects: the SDK's error listing them", function()
    emu:ctl("POST", "/identity", { iam_projects = 2 })
    local c = assert(client_for(without_project{ ak = false, sk = false, metadata_endpoint = emu.endpoint }))
    local _, err = call(c)
    assert.are.equal("api", err.kind)
    assert.matches("Multiple project ids found: [", err.message, 1, true)
    assert.matches(emu.project_id, err.message, 1, true)
  end)

  it("a refused lookup is an auth error", function()
    -- (a key not looked up before: the emulator's own is in the cache by now)
    local c = assert(client_for(without_project{ ak = "NOSUCHKEY0123456789A", sk = "Wrong-Secret-Key-0123456789" }))
    local _, err = call(c)
    assert.are.equal("auth", err.kind)
    assert.are.equal("project_id", err.field)
    assert.is_nil(tostring(err):find("Wrong-Secret-Key-0123456789", 1, true))
  end)

  it("an IAM password token brings its project along", function()
    local c = assert(client_for(without_project{ ak = false, sk = false,
      iam = { user = emu.iam.user, password = emu.iam.password, domain = emu.iam.domain } }))
    assert.is_truthy(call(c))
    assert.are.equal(emu.project_id, c.project_id)
    assert.are.equal(0, count("iam_projects"))
    assert.are.equal(1, count("iam_tokens"))
  end)

  it("is required, at hcdl.new, with a token or without a region", function()
    local _, err = hcdl.new{ region = "cn-north-4", token = "MIItoken" }
    assert.are.equal("project_id", err.field)
    _, err = client_for{ ak = emu.ak, sk = emu.sk, endpoints = { rds = emu.endpoint } }
    assert.are.equal("project_id", err.field)
  end)
end)
