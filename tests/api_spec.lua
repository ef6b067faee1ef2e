-- hcdl.core build/parse: the API descriptors, pure (no network).
local core = require "hcdl.core"
local cjson = require "cjson"

local PID = "0123456789abcdef0123456789abcdef"
local TAURUS = "61a4ea66210545909d74a05c27a7179ein07"
local NODE = "c457e13c0f184df88a48c706f8d768ffno07"
local UUID = "5560df16-cebf-4473-95c4-d1b573c16e79"
local RDS = "a1b2c3d4e5f60718293a4b5c6d7e8f90in03"

local function auth(over)
  local a = {
    endpoints = { gaussdb = "https://gaussdb.cn-north-4.myhuaweicloud.com",
                  rds = "https://rds.cn-north-4.myhuaweicloud.com",
                  dcs = "https://dcs.cn-north-4.myhuaweicloud.com:8443/" },
    project_id = PID, ak = "AK", sk = "SK",
  }
  for k, v in pairs(over or {}) do a[k] = v end
  return a
end

local AUDIT = { instance_id = TAURUS, start_time = "2023-07-24T09:27:00+0800",
                end_time = "2023-07-25T15:00:14+0800" }
local function audit(over)
  local p = {}
  for k, v in pairs(AUDIT) do p[k] = v end
  for k, v in pairs(over or {}) do p[k] = v end
  return p
end

local function refused(api, params, field, rule, a)
  local spec, err = core.build(api, params, a or auth())
  assert.is_nil(spec)
  assert.are.equal("input", err.kind)
  assert.are.equal(field, err.field)
  if rule then assert.is_truthy(err.message:find(rule, 1, true), err.message) end
  assert.is_false(err.retryable)
  return err
end

describe("core.build", function()
  it("builds the TaurusDB full-SQL request as the SDK does", function()
    local spec = assert(core.build("list_audit_log_download_link",
      audit{ node_id = NODE, limit = 10 }, auth()))
    assert.are.equal("GET", spec.method)
    assert.are.equal("https://gaussdb.cn-north-4.myhuaweicloud.com/v3/" .. PID .. "/instance/"
      .. TAURUS .. "/auditlog/download-link?end_time=2023-07-25T15%3A00%3A14%2B0800&limit=10&node_id="
      .. NODE .. "&start_time=2023-07-24T09%3A27%3A00%2B0800", spec.url)
    assert.are.equal("application/json", spec.headers["Content-Type"])
    assert.are.equal(PID, spec.headers["X-Project-Id"])
    assert.matches("^SDK%-HMAC%-SHA256 Access=AK, SignedHeaders=content%-type;host;x%-project%-id;x%-sdk%-date, Signature=%x+$",
      spec.headers.Authorization)
    assert.are.equal("", spec.body)
  end)

  it("matches the official signer on the GaussDB vector shape", function()
    -- docs/apis.md "Signing" (worked examples): same request, fixed date -> the SDK's signature
    local s = assert(core.sign{ method = "GET", host = "gaussdb.cn-north-4.myhuaweicloud.com",
      path = "/v3/" .. PID .. "/instance/" .. TAURUS .. "/auditlog/download-link",
      query = { start_time = "2023-07-24T09:27:00+0800", end_time = "2023-07-25T15:00:14+0800",
                limit = 10, node_id = NODE },
      headers = { ["Content-Type"] = "application/json", ["X-Project-Id"] = PID },
      ak = "AccessKey", sk = "SecretKey", date = "20240101T000000Z" })
    assert.are.equal("SDK-HMAC-SHA256 Access=AccessKey, SignedHeaders=content-type;host;x-project-id;x-sdk-date, "
      .. "Signature=4d2438b4cfa3eb7e6b8a99a1045414a47f0017c11aea42a8ee1f3cfd32bc8bbc", s.authorization)
  end)

  it("builds the DCS backup-links POST with the exact JSON body", function()
    local spec = assert(core.build("list_backup_file_links",
      { instance_id = UUID, backup_id = "3ea6ce21-048e-447a-83c3-3fb004b88439", expiration = 1800 }, auth()))
    assert.are.equal("POST", spec.method)
    assert.are.equal('{"expiration":1800}', spec.body)
    assert.are.equal("https://dcs.cn-north-4.myhuaweicloud.com:8443/v2/" .. PID .. "/instances/" .. UUID
      .. "/backups/3ea6ce21-048e-447a-83c3-3fb004b88439/links", spec.url)
    assert.are.equal("dcs.cn-north-4.myhuaweicloud.com:8443", spec.headers.Host)
  end)

  it("sends no body for the POSTs without parameters in the body", function()
    for _, c in ipairs{ { "create_redislog_download_link", { instance_id = UUID, id = "log-1" } },
                        { "download_errorlog", { instance_id = RDS } },
                        { "create_redislog", { instance_id = UUID, query_time = 3 } } } do
      local spec = assert(core.build(c[1], c[2], auth()))
      assert.are.equal("POST", spec.method)
      assert.are.equal("", spec.body)
    end
  end)

  it("adds log_type=run to the run-log companions", function()
    local spec = assert(core.build("list_redislog", { instance_id = UUID, offset = 0, limit = 100 }, auth()))
    assert.matches("/redislog%?limit=100&log_type=run&offset=0$", spec.url)
    spec = assert(core.build("create_redislog", { instance_id = UUID, replication_id = "r-1" }, auth()))
    assert.matches("/redislog%?log_type=run&replication_id=r%-1$", spec.url)
  end)

  it("formats a number of seconds since the epoch as a UTC time", function()
    local spec = assert(core.build("list_audit_log_download_link",
      audit{ start_time = 1690128000, end_time = 1690214399 }, auth()))
    assert.is_truthy(spec.url:find("start_time=2023-07-23T16%3A00%3A00%2B0000", 1, true))
    assert.is_truthy(spec.url:find("end_time=2023-07-24T15%3A59%3A59%2B0000", 1, true))
  end)

  -- the calendar (src/clock.c) at its edges: leap days, month ends, 2038 and after
  for _, c in ipairs{ { 951782400, "2000-02-29T00:00:00", "20000229000000" },
                      { 1709251199, "2024-02-29T23:59:59", "20240229235959" },
                      { 1682899199, "2023-04-30T23:59:59", "20230430235959" },
                      { 2147483648, "2038-01-19T03:14:08", "20380119031408" },
                      { 4107542400, "2100-03-01T00:00:00", "21000301000000" },
                      { 253402300799, "9999-12-31T23:59:59", "99991231235959" } } do
    it("formats and reads " .. c[2] .. " UTC", function()
      local spec = assert(core.build("list_audit_log_download_link",
        audit{ start_time = c[1], end_time = c[2] .. "+0000" }, auth()))
      local text = c[2]:gsub(":", "%%3A") .. "%2B0000"
      assert.is_truthy(spec.url:find("start_time=" .. text, 1, true))
      spec = assert(core.build("list_backup_records", { instance_id = UUID, begin_time = c[1], end_time = c[3] }, auth()))
      assert.is_truthy(spec.url:find("begin_time=" .. c[3] .. "&end_time=" .. c[3], 1, true))
    end)
  end
  it("refuses days that do not exist", function()
    for _, bad in ipairs{ "2100-02-29T00:00:00+0000", "2023-04-31T00:00:00+0000", "2023-02-29T00:00:00+0000" } do
      refused("list_audit_log_download_link", audit{ start_time = bad }, "start_time", "yyyy-mm-dd")
    end
  end)

  it("signs the security token and sends it", function()
    local spec = assert(core.build("download_errorlog", { instance_id = RDS }, auth{ security_token = "tok+/=" }))
    assert.are.equal("tok+/=", spec.headers["X-Security-Token"])
    assert.matches("x%-security%-token", spec.headers.Authorization)
  end)

  it("sends X-Auth-Token instead of a signature in token mode", function()
    local spec = assert(core.build("show_backup_download_link", { backup_id = "b1" },
      (function() local a = auth{ token = "MIItoken" }; a.ak, a.sk = nil, nil; return a end)()))
    assert.are.equal("MIItoken", spec.headers["X-Auth-Token"])
    assert.is_nil(spec.headers.Authorization)
    assert.is_nil(spec.headers["X-Sdk-Date"])
    assert.are.equal("https://rds.cn-north-4.myhuaweicloud.com/v3/" .. PID .. "/backup-files?backup_id=b1", spec.url)
  end)

  it("re-signs with a fresh date each build", function()
    local a = assert(core.build("download_errorlog", { instance_id = RDS }, auth()))
    assert.matches("^%d%d%d%d%d%d%d%dT%d%d%d%d%d%dZ$", a.headers["X-Sdk-Date"])
  end)

  describe("refuses bad input before any request", function()
    it("limit out of 1-50", function()
      refused("list_audit_log_download_link", audit{ limit = 0 }, "limit", "from 1 to 50")
      refused("list_audit_log_download_link", audit{ limit = 51 }, "limit", "from 1 to 50")
      refused("list_audit_log_download_link", audit{ limit = 2.5 }, "limit")
      refused("list_audit_log_download_link", audit{ limit = "10" }, "limit", "integer")
    end)
    it("expiration out of 300-86400", function()
      local p = { instance_id = UUID, backup_id = "b" }
      p.expiration = 299; refused("list_backup_file_links", p, "expiration", "from 300 to 86400")
      p.expiration = 86401; refused("list_backup_file_links", p, "expiration", "from 300 to 86400")
      p.expiration = nil; refused("list_backup_file_links", p, "expiration", "required")
    end)
    it("times not in the documented format", function()
      for _, bad in ipairs{ "2023-07-24T09:27:00Z", "2023-07-24 09:27:00+0800", "2023-07-24T09:27:00+08:00",
                            "2023-13-24T09:27:00+0800", "2023-02-29T09:27:00+0800", "yesterday", "" } do
        refused("list_audit_log_download_link", audit{ start_time = bad }, "start_time", "yyyy-mm-ddThh:mm:ss+hhmm")
      end
      refused("list_audit_log_download_link", audit{ end_time = -1 }, "end_time")
      refused("list_audit_log_download_link", audit{ end_time = 1.5 }, "end_time")
    end)
    it("end before start (offsets taken into account)", function()
      refused("list_audit_log_download_link",
        audit{ start_time = "2023-07-24T10:00:00+0800", end_time = "2023-07-24T01:59:59+0000" },
        "end_time", "before start_time")
      assert.is_truthy(core.build("list_audit_log_download_link",
        audit{ start_time = "2023-07-24T10:00:00+0800", end_time = "2023-07-24T02:00:00+0000" }, auth()))
    end)
    it("instance and node ids in the wrong format", function()
      refused("list_audit_log_download_link", audit{ instance_id = "61a4ea66210545909d74a05c27a7179ein01" }, "instance_id", "in07")
      refused("list_audit_log_download_link", audit{ node_id = TAURUS }, "node_id", "no07")
      -- ids the documentation gives no format for: only what would make the
      -- request unsafe is refused (a real id of tomorrow must reach the cloud)
      refused("list_backup_file_links", { instance_id = "not/a-uuid", backup_id = "b", expiration = 600 }, "instance_id", "letters")
      refused("download_errorlog", { instance_id = "x.y" }, "instance_id", "letters")
      refused("download_errorlog", { instance_id = "" }, "instance_id", "letters")
      refused("download_errorlog", { instance_id = ("a"):rep(129) }, "instance_id", "letters")
      assert.is_truthy(core.build("download_errorlog", { instance_id = UUID }, auth()))
      assert.is_truthy(core.build("list_backup_file_links", { instance_id = "new_Format-2", backup_id = "b",
        expiration = 600 }, auth()))
      refused("show_backup_download_link", { backup_id = "../x" }, "backup_id")
      refused("create_redislog_download_link", { instance_id = UUID, id = "a/b" }, "id")
    end)
    it("required parameters missing", function()
      refused("list_audit_log_download_link", { instance_id = TAURUS, end_time = AUDIT.end_time }, "start_time", "required")
      refused("show_backup_download_link", {}, "backup_id", "required")
      refused("show_backup_download_link", nil, "backup_id", "required")
    end)
    it("unknown parameters (nothing is silently ignored)", function()
      refused("list_audit_log_download_link", audit{ limt = 5 }, "limt", "unknown parameter")
    end)
    it("query_time other than 0, 1, 3, 7", function()
      refused("create_redislog", { instance_id = UUID, query_time = 2 }, "query_time", "0, 1, 3 or 7")
    end)
    it("bad project id, endpoint and credentials", function()
      refused("download_errorlog", { instance_id = RDS }, "project_id", "32", auth{ project_id = "abc" })
      refused("download_errorlog", { instance_id = RDS }, "endpoints.rds", "http", auth{ endpoints = { rds = "https://h/base" } })
      refused("download_errorlog", { instance_id = RDS }, "endpoints.rds", "required", auth{ endpoints = {} })
      local no_ak = auth()
      no_ak.ak = nil
      refused("download_errorlog", { instance_id = RDS }, "ak", "required", no_ak)
      refused("download_errorlog", { instance_id = RDS }, "ak", "non-empty", auth{ ak = "" })
    end)
  end)

  it("raises for an unknown API name (a programmer error)", function()
    assert.has_error(function() core.build("nope", {}, auth()) end)
  end)
end)

describe("core.parse", function()
  local function res(status, body, headers)
    return { status = status, body = body, headers = headers or { ["x-request-id"] = "rid-1" } }
  end

  it("decodes 2xx JSON, integers as integers, ids as strings", function()
    local data = assert(core.parse("show_backup_download_link", res(200,
      '{"files":[{"name":"f","size":5,"download_link":"u","link_expired_time":"t","database_name":""}],"bucket":"b"}')))
    assert.are.equal(5, data.files[1].size)
    if math.type then assert.are.equal("integer", math.type(data.files[1].size)) end
    assert.are.equal("b", data.bucket)
    local e = assert(core.parse("download_errorlog", res(200,
      '{"list":[{"file_size":"1234567","create_at":1589530000000}],"status":"finish","count":1}')))
    assert.are.equal("1234567", e.list[1].file_size)
    assert.are.equal(1589530000000, e.list[1].create_at)
    if math.type then assert.are.equal("integer", math.type(e.list[1].create_at)) end
  end)

  it("removes JSON null fields (absent = nil, the keys kept for --json) and keeps nulls in arrays", function()
    local data = assert(core.parse("list_backup_file_links", res(200,
      '{"links":[{"file_name":"a","link":null}],"error_ext_msg":null,"bucket_name":"b","extra":[null,1]}')))
    assert.is_nil(data.error_ext_msg)
    assert.are.same({ error_ext_msg = true }, getmetatable(data).hcdl_nulls)
    assert.are.same({ link = true }, getmetatable(data.links[1]).hcdl_nulls)
    assert.are.equal(require("hcdl").null, data.extra[1])
    assert.are.equal(1, data.extra[2])
    assert.is_nil(data.links[1].link)
    assert.are.equal("a", data.links[1].file_name)
  end)

  it("refuses entries that are not a list of objects (kind api, field = the list), never raising", function()
    local cases = {
      { "list_audit_log_download_link", '{"files":{"name":"x"}}', "files" },
      { "show_backup_download_link", '{"files":"none","bucket":"b"}', "files" },
      { "list_backup_file_links", '{"links":[null]}', "links" },
      { "list_backups", '{"backups":[1,2],"total_count":2}', "backups" },
      { "list_backup_records", '{"backup_record_response":{"1":{}},"total_num":1}', "backup_record_response" },
      { "list_redislog", '{"file_list":true,"total_num":1}', "file_list" },
      { "download_errorlog", '{"list":[{"file_name":"a"},"b"],"status":"finish"}', "list" },
      { "show_gauss_my_sql_instance_info", '{"instance":[{"id":"x"}]}', "instance" },
      { "show_gauss_my_sql_instance_info", '{"instance":"x"}', "instance" },
    }
    for _, c in ipairs(cases) do
      local data, err = core.parse(c[1], res(200, c[2]))
      assert.is_nil(data, c[1])
      assert.are.equal("api", err.kind)
      assert.are.equal(c[3], err.field)
      assert.are.equal(200, err.status)
      assert.are.equal("rid-1", err.request_id)
      assert.is_false(err.retryable)
      assert.matches(c[3], tostring(err), 1, true)
    end
  end)

  it("treats [] and {} alike as an empty list (cjson cannot tell them apart)", function()
    for _, body in ipairs{ '{"files":[]}', '{"files":{}}' } do
      local data = assert(core.parse("list_audit_log_download_link", res(200, body)))
      assert.are.same({}, data.files)
    end
    assert.is_table(assert(core.parse("show_gauss_my_sql_instance_info", res(200, '{"instance":{}}'))).instance)
  end)

  it("gives the documented empty list for a 204, only where the service documents it", function()
    assert.are.same({ total_num = 0, backup_record_response = {} },
      assert(core.parse("list_backup_records", res(204, ""))))
    assert.are.same({}, assert(core.parse("list_backups", res(204, ""))))
  end)

  it("takes an error_code of any JSON type without raising", function()
    for _, c in ipairs{ { '{"error_code":4001,"error_msg":"m"}', "4001" },
                        { '{"error_code":true,"error_msg":"m"}', nil },
                        { '{"error_code":null,"error_msg":"m"}', nil },
                        { '{"error_code":{"x":1},"error_msg":"m"}', nil },
                        { '{"error_code":[1,2],"error_msg":"m"}', nil } } do
      local data, err = core.parse("list_backups", res(400, c[1]))
      assert.is_nil(data)
      assert.are.equal(c[2], err.code, c[1])
      assert.are.equal(c[2] and "api" or "http", err.kind)
      assert.is_string(tostring(err))
    end
  end)

  it("turns 204 into an empty result", function()
    assert.are.same({}, assert(core.parse("create_redislog", res(204, ""))))
    assert.are.same({ total_num = 0, file_list = {} }, assert(core.parse("list_redislog", res(204, ""))))
  end)

  it("maps a service error to the error table", function()
    local data, err = core.parse("list_audit_log_download_link", res(404,
      '{"error_code":"DBS.200002","error_msg":"The DB instance does not exist."}'))
    assert.is_nil(data)
    assert.are.equal("api", err.kind)
    assert.are.equal(404, err.status)
    assert.are.equal("DBS.200002", err.code)
    assert.are.equal("The DB instance does not exist.", err.message)
    assert.are.equal("rid-1", err.request_id)
    assert.is_false(err.retryable)
    assert.are.equal("hcdl api error (HTTP 404) DBS.200002: The DB instance does not exist. (request id rid-1)", tostring(err))
  end)

  it("marks gateway authentication failures as auth errors", function()
    local _, err = core.parse("download_errorlog", res(401,
      '{"error_msg":"Incorrect IAM authentication information","error_code":"APIGW.0301","request_id":"r2"}', {}))
    assert.are.equal("auth", err.kind)
    assert.are.equal("r2", err.request_id)
  end)

  it("marks 429/500/502/503/504 retryable and reads Retry-After", function()
    for _, st in ipairs{ 429, 500, 502, 503, 504 } do
      local _, err = core.parse("download_errorlog", res(st, '{"error_code":"APIGW.0308","error_msg":"slow down"}',
        { ["retry-after"] = "3" }))
      assert.is_true(err.retryable, st)
      assert.are.equal(3, err.retry_after)
    end
    local _, err = core.parse("download_errorlog", res(400, '{"error_code":"DBS.280001","error_msg":"bad"}'))
    assert.is_false(err.retryable)
  end)

  it("finds error fields in the other shapes the SDKs accept", function()
    local _, e1 = core.parse("download_errorlog", res(400, '{"errorCode":"X.1","errorMsg":"m1"}'))
    assert.are.equal("X.1", e1.code); assert.are.equal("m1", e1.message)
    local _, e2 = core.parse("download_errorlog", res(400, '{"NeutronError":{"code":"N.2","message":"m2"}}'))
    assert.are.equal("N.2", e2.code); assert.are.equal("m2", e2.message)
  end)

  it("reports a non-JSON error body as an http error", function()
    local _, err = core.parse("download_errorlog", res(502, "<html>Bad Gateway</html>"))
    assert.are.equal("http", err.kind)
    assert.are.equal(502, err.status)
    assert.is_true(err.retryable)
  end)

  it("reports invalid, truncated or non-object JSON on 2xx, never crashing", function()
    for _, body in ipairs{ '{"files":[', "not json", "[1,2]", '"s"', "{\"a\":1}}", string.rep("[", 10000) } do
      local data, err = core.parse("show_backup_download_link", res(200, body))
      assert.is_nil(data)
      assert.are.equal("http", err.kind)
      assert.is_true(err.retryable)
    end
  end)

  it("decodes a 5 MiB answer", function()
    local parts = {}
    for i = 1, 20000 do
      parts[i] = ('{"name":"f%06d","size":%d,"download_link":"https://b.obs.example/%s","link_expired_time":"2023-07-24T10:00:00+0800"}')
        :format(i, i, string.rep("x", 180))
    end
    local body = '{"files":[' .. table.concat(parts, ",") .. '],"bucket":"b"}'
    assert.is_true(#body > 5 * 1024 * 1024)
    local data = assert(core.parse("show_backup_download_link", res(200, body)))
    assert.are.equal(20000, #data.files)
    assert.are.equal("f020000", data.files[20000].name)
  end)

  it("does not touch the caller's cjson settings", function()
    local before = cjson.encode({ 1.5 })
    core.parse("download_errorlog", res(200, '{"status":"finish"}'))
    assert.are.equal(before, cjson.encode({ 1.5 }))
  end)
end)

-- A valid value for a parameter, from its descriptor (its rule names the kind).
local function valid(p)
  if p.values then return p.values[1] end
  if p.type == "integer" then return p.min end
  if p.type == "boolean" then return true end
  if p.type == "time" then return p.format == "utc14" and "20230724092700" or "2023-07-24T09:27:00+0800" end
  for pattern, value in pairs{ ["TaurusDB instance id"] = TAURUS, ["TaurusDB node id"] = NODE,
      ["RDS instance id"] = RDS, UUID = UUID, ["1 to 128 letters"] = "id-1", ["file name"] = "f.log",
      ["1 to 255 characters"] = "*name", IPv4 = "10.0.0.1" } do
    if p.rule:find(pattern, 1, true) then return value end
  end
  error("no sample value for " .. p.name .. ": " .. p.rule)
end

-- An invalid value of the right Lua type for the parameter.
local function invalid(p)
  if p.type == "integer" then return p.max + 1 end
  if p.type == "boolean" then return "yes" end
  if p.type == "time" then return "yesterday" end
  return "bad\1value"
end

local function valid_params(d)
  local params = {}
  for _, p in ipairs(d.params) do params[p.name] = valid(p) end
  return params
end

describe("core.apis()", function()
  local apis = core.apis()

  it("describes each API: service, request, parameters", function()
    local count = 0
    for name, d in pairs(apis) do
      count = count + 1
      assert.are.equal(name, d.name)
      assert.is_truthy(({ gaussdb = true, rds = true, dcs = true })[d.service], name)
      assert.is_truthy(({ GET = true, POST = true })[d.method], name)
      assert.matches("^/v[23]/{project_id}/", d.path)
      assert.matches("^%u%a+$", d.operation)
      for _, p in ipairs(d.params) do
        assert.is_truthy(({ path = true, query = true, body = true })[p.where], p.name)
        assert.is_truthy(({ string = true, integer = true, time = true, boolean = true })[p.type], p.name)
        assert.is_boolean(p.required)
        assert.matches("^must ", p.rule)
        if p.where == "path" then
          assert.is_true(p.required, name .. "." .. p.name)
          assert.is_truthy(d.path:find("{" .. p.name .. "}", 1, true), name .. "." .. p.name)
        end
        if p.type == "integer" then assert.is_true(p.min <= p.max) end
      end
    end
    assert.are.equal(14, count)
  end)

  it("describes each answer and its paging", function()
    local methods = {}
    for name in pairs(apis) do methods[name] = true end
    for name, d in pairs(apis) do
      local a = d.answer
      if a.size then assert.is_truthy(({ KB = true, B = true })[a.size_unit], name) end
      if a.mtime then
        assert.is_truthy(({ offset = true, utc14 = true, iso_utc = true, epoch_ms = true, date = true })[a.mtime_format], name)
      end
      if a.link then assert.is_truthy(({ recall = true, errorlog = true })[a.refresh], name) end
      assert.is_falsy(a.list and a.object, name)
      local g = d.paging
      if g then
        local by = {}
        for _, p in ipairs(d.params) do by[p.name] = p end
        local limit = assert(by[g.limit], name .. ": no limit parameter")
        assert.are.equal(limit.max, g.max)
        assert.are.equal(limit.default, g.default)
        assert.is_string(a.list)
        if g.style == "marker" then
          assert.is_truthy(by[g.marker]); assert.is_string(a.name)
        else
          assert.are.equal("offset", g.style)
          assert.is_truthy(by[g.offset]); assert.is_string(a.id)
        end
        for _, m in ipairs{ g.iterator, g.collect } do
          assert.is_nil(methods[m], name .. ": method name " .. m .. " taken")
          methods[m] = true
        end
      end
    end
  end)

  it("builds every API from valid values, and its rule is the text of every refusal", function()
    for name, d in pairs(apis) do
      local base = valid_params(d)
      assert.is_table((core.build(name, base, auth())), name)
      for _, p in ipairs(d.params) do
        local params = valid_params(d)
        params[p.name] = invalid(p)
        local spec, err = core.build(name, params, auth())
        assert.is_nil(spec, name .. "." .. p.name)
        assert.are.equal(p.name, err.field)
        assert.is_truthy(err.message:find(p.rule, 1, true), err.message .. " lacks " .. p.rule)
        if p.required then
          params[p.name] = nil
          spec, err = core.build(name, params, auth())
          assert.are.equal(p.name .. ": required; " .. p.rule, err.message)
        end
      end
    end
  end)

  it("applies the range rules: an end not before its start, some ranges only whole", function()
    for name, d in pairs(apis) do
      for _, p in ipairs(d.params) do
        if p.after then
          local params = valid_params(d)
          params[p.after], params[p.name] = 1690200000, 1690100000
          local _, err = core.build(name, params, auth())
          assert.are.equal(p.name, err.field)
          assert.matches("must not be before " .. p.after, err.message, 1, true)
          params[p.name] = nil
          local spec, perr = core.build(name, params, auth())
          if p.together then
            assert.is_nil(spec)
            assert.are.equal(p.name .. ": required together with " .. p.after, perr.message)
          elseif p.required then
            assert.are.equal(p.name, perr.field)
          else
            assert.is_table(spec, name)
          end
        end
      end
    end
  end)

  it("is a fresh table each call (callers may change theirs)", function()
    local a = core.apis()
    a.list_backups.path = "/changed"
    assert.are.equal("/v3/{project_id}/backups", core.apis().list_backups.path)
  end)
end)

describe("core.build of the companion calls", function()
  it("RDS backups: query parameters, enum, a pair of times", function()
    local spec = assert(core.build("list_backups", { instance_id = RDS, backup_type = "incremental",
      begin_time = "2023-07-24T00:00:00+0800", end_time = 1690214400, limit = 100, offset = 0 }, auth()))
    assert.are.equal("https://rds.cn-north-4.myhuaweicloud.com/v3/" .. PID .. "/backups?backup_type=incremental"
      .. "&begin_time=2023-07-24T00%3A00%3A00%2B0800&end_time=2023-07-24T16%3A00%3A00%2B0000&instance_id=" .. RDS
      .. "&limit=100&offset=0", spec.url)
    refused("list_backups", { instance_id = RDS, backup_type = "full" }, "backup_type",
      "must be one of auto, manual, fragment or incremental")
    refused("list_backups", { instance_id = RDS, end_time = 1690214400 }, "begin_time",
      "required together with end_time")
    refused("list_backups", {}, "instance_id", "required")
  end)

  it("DCS backup records: times as UTC yyyyMMddHHmmss, from a string or epoch seconds", function()
    local spec = assert(core.build("list_backup_records", { instance_id = UUID, begin_time = 1690156800,
      end_time = "20230724235959" }, auth()))
    assert.are.equal("https://dcs.cn-north-4.myhuaweicloud.com:8443/v2/" .. PID .. "/instances/" .. UUID
      .. "/backups?begin_time=20230724000000&end_time=20230724235959", spec.url)
    for _, bad in ipairs{ "2023-07-24T00:00:00+0800", "20231324000000", "20230229000000", "2023072400000" } do
      refused("list_backup_records", { instance_id = UUID, begin_time = bad }, "begin_time", "yyyyMMddHHmmss")
    end
    refused("list_backup_records", { instance_id = UUID, limit = 1001 }, "limit", "from 1 to 1000")
  end)

  it("DCS shards: the singular 'instance' in the path; TaurusDB instance info", function()
    local spec = assert(core.build("list_group_replication_info", { instance_id = UUID }, auth()))
    assert.are.equal("https://dcs.cn-north-4.myhuaweicloud.com:8443/v2/" .. PID .. "/instance/" .. UUID .. "/groups", spec.url)
    assert.are.equal("GET", spec.method)
    spec = assert(core.build("show_gauss_my_sql_instance_info", { instance_id = TAURUS }, auth()))
    assert.are.equal("https://gaussdb.cn-north-4.myhuaweicloud.com/v3/" .. PID .. "/instances/" .. TAURUS, spec.url)
    refused("show_gauss_my_sql_instance_info", { instance_id = RDS }, "instance_id", "in07")
  end)

  it("instance listings: filters, booleans as true/false, addresses", function()
    local spec = assert(core.build("list_dcs_instances", { name = "cache", name_equal = true,
      include_failure = false, ip = "192.168.0.1", limit = 1000 }, auth()))
    assert.matches("%?include_failure=false&ip=192.168.0.1&limit=1000&name=cache&name_equal=true$", spec.url)
    spec = assert(core.build("list_rds_instances", { name = "*orders", datastore_type = "PostgreSQL" }, auth()))
    assert.matches("/v3/" .. PID .. "/instances%?datastore_type=PostgreSQL&name=%%2Aorders$", spec.url)
    spec = assert(core.build("list_gauss_my_sql_instances", {}, auth()))
    assert.are.equal("https://gaussdb.cn-north-4.myhuaweicloud.com/v3/" .. PID .. "/instances", spec.url)
    refused("list_rds_instances", { name = "*" }, "name", "not '*' alone")
    refused("list_dcs_instances", { name_equal = "true" }, "name_equal", "must be true or false, got string")
    for _, ip in ipairs{ "10.0.0", "10.0.0.256", "10.0.0.01", "a.b.c.d", "10.0.0.1 " } do
      refused("list_dcs_instances", { ip = ip }, "ip", "IPv4")
    end
    refused("list_rds_instances", { type = "ha" }, "type", "Single, Ha or Replica")
    refused("list_gauss_my_sql_instances", { limit = 101 }, "limit", "from 1 to 100")
  end)
end)
