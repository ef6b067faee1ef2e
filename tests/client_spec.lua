-- hcdl client methods against the bundled emulator: every API's success
-- path and documented errors, auth modes, retries seen from the server's
-- side, timeouts, TLS.
local hcdl = require "hcdl"
local core = require "hcdl.core"
local cjson = require "cjson"
local emulator = require "tests.support.emulator"
local fixture = require "tests.support.fixture"

local function is_integer(v)
  if math.type then return math.type(v) == "integer" end
  return type(v) == "number" and v == math.floor(v)
end

describe("hcdl client against the emulator", function()
  local emu, client, seed

  local fx = fixture.emulator{ client = {} }
  setup(function() emu, client = fx:start(); seed = emu.seed end)
  teardown(function() fx:stop() end)
  before_each(function() fx:reset() end)

  describe("success paths", function()
    it("list_audit_log_download_link pages through files in name order", function()
      local r = assert(client:list_audit_log_download_link{ instance_id = seed.gaussdb_instance_id,
        start_time = "2023-07-24T00:00:00+0800", end_time = "2023-07-25T00:00:00+0800", limit = 50 })
      assert.are.equal(50, #r.files)
      local f = r.files[1]
      assert.is_string(f.name); assert.is_string(f.download_link); assert.is_string(f.link_expired_time)
      assert.is_true(is_integer(f.size))
      for i = 2, #r.files do assert.is_true(r.files[i - 1].name < r.files[i].name) end
      local r2 = assert(client:list_audit_log_download_link{ instance_id = seed.gaussdb_instance_id,
        start_time = "2023-07-24T00:00:00+0800", end_time = "2023-07-25T00:00:00+0800", limit = 50,
        last_file_name = r.files[50].name })
      assert.is_true(r2.files[1].name > r.files[50].name)
    end)

    it("filters by node", function()
      local r = assert(client:list_audit_log_download_link{ instance_id = seed.gaussdb_instance_id,
        node_id = seed.gaussdb_node_id, start_time = 1690128000, end_time = 1690214400, limit = 50 })
      assert.is_true(#r.files > 0)
      for _, f in ipairs(r.files) do assert.is_truthy(f.name:find(seed.gaussdb_node_id, 1, true)) end
    end)

    it("show_backup_download_link returns files with sizes in KB and the bucket", function()
      local r = assert(client:show_backup_download_link{ backup_id = seed.rds_backup_id })
      assert.is_string(r.bucket)
      assert.is_true(#r.files >= 1)
      assert.is_true(is_integer(r.files[1].size))
    end)

    it("list_backup_file_links returns one link per shard", function()
      local r = assert(client:list_backup_file_links{ instance_id = seed.dcs_instance_id,
        backup_id = seed.dcs_backup_id, expiration = 1800 })
      assert.are.equal(3, #r.links)
      assert.is_string(r.bucket_name)
      assert.matches("Expires=%d+", r.links[1].link)
    end)

    it("the run-log companions: collect (204), list (204 when empty), link", function()
      local empty = assert(client:list_redislog{ instance_id = seed.dcs_instance_id })
      assert.are.same({ total_num = 0, file_list = {} }, empty)
      assert.are.same({}, assert(client:create_redislog{ instance_id = seed.dcs_instance_id, query_time = 1,
        replication_id = seed.dcs_replication_ids[1] }))  -- mandatory on a cluster
      local listed
      for _ = 1, 50 do
        listed = assert(client:list_redislog{ instance_id = seed.dcs_instance_id, limit = 100 })
        if #listed.file_list > 0 then break end
        core.sleep(0.1)
      end
      assert.is_true(#listed.file_list > 0)
      local entry = listed.file_list[1]
      local link = assert(client:create_redislog_download_link{ instance_id = seed.dcs_instance_id, id = entry.id })
      assert.are.equal(entry.id, link.id)
      assert.matches("^https?://", link.link)
    end)

    it("download_errorlog answers creating, then finish with links", function()
      local r = assert(client:download_errorlog{ instance_id = seed.pg_instance_id })
      assert.are.equal("creating", r.status:lower())
      r = assert(client:download_errorlog{ instance_id = seed.pg_instance_id })
      r = assert(client:download_errorlog{ instance_id = seed.pg_instance_id })
      assert.are.equal("finish", r.status:lower())
      assert.is_string(r.list[1].file_size)
      assert.is_true(is_integer(r.list[1].create_at))
    end)
  end)

  describe("documented errors", function()
    it("unknown TaurusDB instance: 404 DBS.200002 with the request id", function()
      local r, err = client:list_audit_log_download_link{ instance_id = string.rep("0", 32) .. "in07",
        start_time = 1690128000, end_time = 1690214400 }
      assert.is_nil(r)
      assert.are.equal("api", err.kind)
      assert.are.equal(404, err.status)
      assert.are.equal("DBS.200002", err.code)
      assert.matches("^%x+$", err.request_id)
      assert.are.equal(1, #emu:requests("list_audit_log_download_link")) -- not retried
    end)
    it("unknown RDS backup: 404 DBS.201010", function()
      local _, err = client:show_backup_download_link{ backup_id = string.rep("0", 32) .. "br01" }
      assert.are.equal(404, err.status)
      assert.are.equal("DBS.201010", err.code)
    end)
    it("unknown DCS backup and instance", function()
      local _, err = client:list_backup_file_links{ instance_id = seed.dcs_instance_id,
        backup_id = "00000000-0000-4000-a000-000000000000", expiration = 600 }
      assert.are.equal("DCS.4001", err.code)
      _, err = client:list_backup_file_links{ instance_id = "00000000-0000-4000-a000-000000000000",
        backup_id = seed.dcs_backup_id, expiration = 600 }
      assert.are.equal("DCS.3022", err.code)
    end)
    it("end_time in the future is the service's error, passed through", function()
      local _, err = client:list_audit_log_download_link{ instance_id = seed.gaussdb_instance_id,
        start_time = 1690128000, end_time = os.time() + 86400 * 30 }
      assert.are.equal(400, err.status)
      assert.matches("^DBS%.", err.code)
    end)
    it("input errors make no request at all", function()
      local _, err = client:list_backup_file_links{ instance_id = seed.dcs_instance_id,
        backup_id = seed.dcs_backup_id, expiration = 60 }
      assert.are.equal("input", err.kind)
      assert.are.equal("expiration", err.field)
      assert.are.same({}, emu:requests())
    end)
    it("raises when called without a colon or with a non-table", function()
      assert.has_error(function() client.download_errorlog{ instance_id = seed.pg_instance_id } end)
      assert.has_error(function() client:download_errorlog("x") end)
    end)
  end)

  describe("authentication", function()
    it("temporary credentials send a signed X-Security-Token", function()
      local c = assert(hcdl.new(emu:config{ ak = emu.temporary.ak, sk = emu.temporary.sk,
        security_token = emu.temporary.security_token }))
      assert.is_truthy(c:show_backup_download_link{ backup_id = seed.rds_backup_id })
      local c2 = assert(hcdl.new(emu:config{ ak = emu.temporary.ak, sk = emu.temporary.sk }))
      local _, err = c2:show_backup_download_link{ backup_id = seed.rds_backup_id }
      assert.are.equal("auth", err.kind)
      assert.are.equal(401, err.status)
    end)

    it("a wrong secret key is an auth error that does not show the key or token", function()
      local c = assert(hcdl.new(emu:config{ ak = emu.temporary.ak, sk = emu.temporary.sk .. "x",
        security_token = emu.temporary.security_token }))
      local _, err = c:show_backup_download_link{ backup_id = seed.rds_backup_id }
      assert.are.equal("auth", err.kind)
      assert.are.equal("APIGW.0301", err.code)
      local text = tostring(err)
      assert.is_nil(text:find(emu.temporary.security_token, 1, true))
      assert.is_nil(text:find(emu.temporary.sk, 1, true))
    end)

    it("token mode sends X-Auth-Token from IAM", function()
      local s = assert(core.session{ timeout = 10 })
      local res = assert(s:perform{ method = "POST", url = emu.iam.url .. "?nocatalog=true",
        headers = { ["Content-Type"] = "application/json;charset=utf8" },
        body = cjson.encode{ auth = { identity = { methods = { "password" }, password = { user = {
          name = emu.iam.user, password = emu.iam.password, domain = { name = emu.iam.domain } } } },
          scope = { project = { name = emu.iam.project_name } } } } })
      assert.are.equal(201, res.status)
      local token = res.headers["x-subject-token"]
      assert.is_string(token)
      local c = assert(hcdl.new(emu:config{ ak = false, sk = false, token = token }))
      assert.is_truthy(c:show_backup_download_link{ backup_id = seed.rds_backup_id })
      local bad = assert(hcdl.new(emu:config{ ak = false, sk = false, token = "not-a-token" }))
      local _, err = bad:show_backup_download_link{ backup_id = seed.rds_backup_id }
      assert.are.equal("auth", err.kind)
      assert.is_nil(tostring(err):find("not-a-token", 1, true))
    end)

    it("a clock 20 minutes off is refused, and X-Sdk-Date is fresh on every attempt", function()
      emu:set{ clock_offset = 1200 }
      local _, err = client:show_backup_download_link{ backup_id = seed.rds_backup_id }
      assert.are.equal("auth", err.kind)
      assert.matches("expired", err.message)
    end)
  end)

  describe("retries", function()
    local function times(api)
      local t = {}
      for _, r in ipairs(emu:requests(api)) do t[#t + 1] = r.time end
      return t
    end

    it("retries 503 with backoff and succeeds; the server sees each attempt", function()
      emu:fault{ target = "show_backup_download_link", kind = "status", status = 503, count = 2 }
      local c = assert(hcdl.new(emu:config{ retry_base = 0.2, retry_cap = 1 }))
      assert.is_truthy(c:show_backup_download_link{ backup_id = seed.rds_backup_id })
      local t = times("show_backup_download_link")
      assert.are.equal(3, #t)
      assert.is_true(t[3] - t[1] < 3)
    end)

    it("honours Retry-After on 429", function()
      emu:fault{ target = "download_errorlog", kind = "status", status = 429, retry_after = 1, count = 1 }
      assert.is_truthy(client:download_errorlog{ instance_id = seed.pg_instance_id })
      local t = times("download_errorlog")
      assert.are.equal(2, #t)
      assert.is_true(t[2] - t[1] >= 0.95, "waited " .. (t[2] - t[1]))
    end)

    it("retries each of 500, 502, 504", function()
      for _, st in ipairs{ 500, 502, 504 } do
        emu:reset()
        emu:fault{ target = "api", kind = "status", status = st, count = 1 }
        local c = assert(hcdl.new(emu:config{ retry_base = 0.05 }))
        assert.is_truthy(c:show_backup_download_link{ backup_id = seed.rds_backup_id }, st)
        assert.are.equal(2, #emu:requests("show_backup_download_link"))
      end
    end)

    it("gives up after the configured number of retries", function()
      emu:fault{ target = "api", kind = "status", status = 503, count = 20 }
      local c = assert(hcdl.new(emu:config{ retries = 2, retry_base = 0.05 }))
      local _, err = c:show_backup_download_link{ backup_id = seed.rds_backup_id }
      assert.are.equal(503, err.status)
      assert.are.equal(3, err.attempts)
      assert.are.equal(3, #emu:requests("show_backup_download_link"))
    end)

    it("stops at the deadline rather than the count", function()
      emu:fault{ target = "api", kind = "status", status = 429, retry_after = 2, count = 20 }
      local c = assert(hcdl.new(emu:config{ retries = 10, retry_deadline = 3 }))
      local t0 = core.now()
      local _, err = c:show_backup_download_link{ backup_id = seed.rds_backup_id }
      assert.are.equal(429, err.status)
      assert.is_true(core.now() - t0 < 3.5)
      assert.is_true(#emu:requests("show_backup_download_link") <= 2)
    end)

    it("does not retry a 400", function()
      local _, err = client:show_backup_download_link{ backup_id = "unknownbackup" }
      assert.are.equal(400, err.status)
      assert.are.equal(1, #emu:requests("show_backup_download_link"))
    end)

    it("retries malformed JSON, then reports it", function()
      emu:fault{ target = "api", kind = "malformed_json", count = 1 }
      local c = assert(hcdl.new(emu:config{ retry_base = 0.05 }))
      assert.is_truthy(c:show_backup_download_link{ backup_id = seed.rds_backup_id })
      emu:fault{ target = "api", kind = "malformed_json", count = 20 }
      local c2 = assert(hcdl.new(emu:config{ retries = 1, retry_base = 0.05 }))
      local _, err = c2:show_backup_download_link{ backup_id = seed.rds_backup_id }
      assert.are.equal("http", err.kind)
      assert.matches("not a JSON object", err.message)
    end)

    it("retries a dropped connection (network error)", function()
      emu:fault{ target = "api", kind = "drop_after", bytes = 5, count = 1 }
      local c = assert(hcdl.new(emu:config{ retry_base = 0.05 }))
      assert.is_truthy(c:show_backup_download_link{ backup_id = seed.rds_backup_id })
      assert.are.equal(2, #emu:requests("show_backup_download_link"))
    end)

    it("re-signs every attempt (a fresh X-Sdk-Date)", function()
      emu:fault{ target = "api", kind = "status", status = 429, retry_after = 1.1, count = 1 }
      local t = assert(require("hcdl.transport").curl{ timeout = 10 })
      local dates = {}
      local c = assert(hcdl.new(emu:config{ transport = {
        send = function(spec, timeout) dates[#dates + 1] = spec.headers["X-Sdk-Date"]; return t.send(spec, timeout) end,
      } }))
      assert.is_truthy(c:download_errorlog{ instance_id = seed.pg_instance_id })
      assert.are.equal(2, #dates)
      assert.are_not.equal(dates[1], dates[2])
    end)
  end)

  describe("timeouts", function()
    it("a slow first byte beyond the timeout is a timeout error", function()
      emu:fault{ target = "api", kind = "slow_first_byte", seconds = 2, count = 5 }
      local c = assert(hcdl.new(emu:config{ timeout = 0.5, retries = 0 }))
      local t0 = core.now()
      local _, err = c:show_backup_download_link{ backup_id = seed.rds_backup_id }
      assert.are.equal("timeout", err.kind)
      assert.is_true(core.now() - t0 < 1.5)
    end)
  end)
end)

describe("hcdl client over HTTPS", function()
  local emu
  setup(function() emu = emulator.start("--tls") end)
  teardown(function() if emu then emu:stop() end end)

  it("verifies the server with the given CA file", function()
    assert.matches("^https://", emu.endpoint)
    local c = assert(hcdl.new(emu:config()))
    assert.is_truthy(c:show_backup_download_link{ backup_id = emu.seed.rds_backup_id })
  end)

  it("fails TLS verification without the CA, and does not retry it", function()
    local c = assert(hcdl.new(emu:config{ cafile = "/etc/ssl/certs/ca-certificates.crt", retry_base = 0.05 }))
    local _, err = c:show_backup_download_link{ backup_id = emu.seed.rds_backup_id }
    assert.are.equal("network", err.kind)
    assert.is_false(err.retryable)
    assert.matches("certificate", err.message:lower())
  end)

  it("can be told not to verify (verify_tls = false)", function()
    local c = assert(hcdl.new(emu:config{ cafile = false, verify_tls = false }))
    assert.is_truthy(c:show_backup_download_link{ backup_id = emu.seed.rds_backup_id })
  end)
end)
