-- The one rule for HTTP error answers (src/status.c, core.classify_status):
-- its table, then the same statuses through each path that meets them
-- against the emulator: an API call, a download from the object store, and
-- a credential fetch (CCE pod identity).  A retryable status is tried again
-- and the call succeeds; a status that is not is asked once and fails with
-- retryable = false.
local core = require "hcdl.core"
local hcdl = require "hcdl"
local fixture = require "tests.support.fixture"
local helpers = require "tests.support.helpers"
local clients = require "tests.support.clients"
local shell = require "tests.support.shell"

-- status, code -> kind, retryable, throttled
local CASES = {
  { 400, nil, "http", false, false },
  { 401, nil, "auth", false, false },
  { 403, nil, "auth", false, false },
  { 404, nil, "http", false, false },
  { 408, nil, "http", true, false },
  { 416, nil, "http", false, false },
  { 429, nil, "throttled", true, true },
  { 500, nil, "http", true, false },
  { 501, nil, "http", false, false },
  { 502, nil, "http", true, false },
  { 503, nil, "http", true, false },
  { 504, nil, "http", true, false },
  { 505, nil, "http", false, false },
  { 507, nil, "http", false, false },
  { 503, "SlowDown", "throttled", true, true },
  { 403, "APIGW.0308", "throttled", true, true },
  { 429, "APIG.0308", "throttled", true, true },
  { 401, "APIGW.0308", "throttled", true, true },
  { 400, "APIGW.0301", "auth", false, false },
  { 403, "APIG.0302", "auth", false, false },
  { 400, "DBS.280056", "auth", false, false },
  { 403, "DBS.200001", "auth", false, false },
  { 400, "DBS.200001", "http", false, false },
  { 503, "APIGW.0203", "http", true, false },
}

describe("core.classify_status", function()
  for _, c in ipairs(CASES) do
    it(("%d %s -> %s, retryable %s"):format(c[1], tostring(c[2]), c[3], tostring(c[4])), function()
      local kind, retryable, throttled = core.classify_status(c[1], c[2])
      assert.are.same({ c[3], c[4], c[5] }, { kind, retryable, throttled })
    end)
  end

  it("raises for a value that is not an HTTP status (a programmer error)", function()
    for _, bad in ipairs{ "x", -1, 1000, 404.5, 0 / 0 } do
      assert.has_error(function() core.classify_status(bad) end)
    end
    assert.has_error(function() core.classify_status(500, {}) end)
  end)
end)

-- The three paths: retryable statuses are asked again, the others once.
local PATH_STATUSES = {
  { status = 503, retryable = true },
  { status = 408, retryable = true },
  { status = 501, retryable = false },
  { status = 505, retryable = false },
}

describe("one rule on every path (emulator)", function()
  local emu, dir

  local fx = fixture.emulator{ client = false, dir = "once" }
  setup(function() emu = fx:start(); dir = fx.dir end)
  teardown(function() fx:stop() end)
  before_each(function() fx:reset() end)

  local function client(over)
    local c = emu:config{ retries = 2, retry_base = 0.02, retry_cap = 0.05 }
    for k, v in pairs(over or {}) do c[k] = v end
    return assert(hcdl.new(c))
  end

  for _, p in ipairs(PATH_STATUSES) do
    local asked = p.retryable and 2 or 1

    it(("API call: HTTP %d is %s"):format(p.status, p.retryable and "retried" or "final"), function()
      emu:fault{ target = "show_backup_download_link", kind = "status", status = p.status, count = 1 }
      local r, err = client():show_backup_download_link{ backup_id = emu.seed.rds_backup_id }
      assert.are.equal(asked, #emu:requests("show_backup_download_link"))
      if p.retryable then
        assert.is_nil(err)
        assert.is_table(r)
      else
        assert.is_nil(r)
        assert.are.equal(p.status, err.status)
        assert.are.equal("api", err.kind) -- the gateway's body names a code
        assert.is_false(err.retryable)
      end
    end)

    it(("download: HTTP %d from the store is %s"):format(p.status, p.retryable and "retried" or "final"), function()
      local name = ("s%d.bin"):format(p.status)
      local obj = emu:object{ name = name, size = 5000, ttl = 3600 }
      emu:fault{ target = "store", kind = "status", status = p.status, count = 1 }
      local r, err = client():download(obj.url, dir .. "/" .. name, { retries = 2 })
      assert.are.equal(asked, #emu:requests("store"))
      if p.retryable then
        assert.is_nil(err)
        assert.are.equal(helpers.expected_md5(name, 5000), core.md5_file(dir .. "/" .. name))
      else
        assert.is_nil(r)
        assert.are.equal(p.status, err.status)
        assert.are.equal("http", err.kind)
        assert.is_false(err.retryable)
        assert.is_false(core.file_size(dir .. "/" .. name))
      end
    end)

    it(("credential fetch: HTTP %d from CCE pod identity is %s"):format(p.status,
        p.retryable and "retried" or "final"), function()
      local token = dir .. "/pod_token"
      shell.write(token, emu.identity.pod_token)
      local vars = { HC_CONTAINER_CREDENTIALS_FULL_URI = emu.identity.pod_identity_url,
        HC_CONTAINER_AUTHORIZATION_TOKEN_FILE = token }
      local cfg = emu:config{ ak = false, sk = false, metadata_endpoint = false,
        retries = 2, retry_base = 0.02, retry_cap = 0.05 }
      local c = assert(clients.new(cfg, vars))
      emu:fault{ target = "pod_identity", kind = "status", status = p.status, count = 1 }
      local r, err = c:show_backup_download_link{ backup_id = emu.seed.rds_backup_id }
      assert.are.equal(asked, #emu:requests("pod_identity"))
      if p.retryable then
        assert.is_nil(err)
        assert.is_table(r)
      else
        -- the chain found no provider that may recover: "no credentials", auth
        assert.is_nil(r)
        assert.are.equal("auth", err.kind)
        assert.matches("CCE pod identity %(.-%): HTTP " .. p.status, err.message)
        assert.is_false(err.retryable)
        assert.are.equal(0, #emu:requests("show_backup_download_link"))
      end
    end)
  end
end)
