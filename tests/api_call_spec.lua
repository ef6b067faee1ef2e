-- One crossing per request (src/api_call.c): core.call builds, signs and
-- starts an API request in one C call; core.answer reads the finished
-- transfer as core.parse reads an answer.  Checked against the two-step
-- path (core.build, a raw request, core.parse) on the hostile server, and
-- the client's use of it: one core.call and one core.answer a request.
local hcdl = require "hcdl"
local core = require "hcdl.core"
local hostile = require "tests.support.hostile"

local PID = "0123456789abcdef0123456789abcdef"
local BACKUP = "b" .. ("0"):rep(31) .. "br01"
local PATH = "/v3/" .. PID .. "/backup-files"
local RDS = ("a"):rep(32) .. "in03"
local ERRORLOG = "/v3/" .. PID .. "/instances/" .. RDS .. "/errorlog-download"

local function fields(h, extra)
  local f = { project_id = PID, ak = "CALLAK000001", sk = "callSecretKey", endpoints = { rds = h.endpoint } }
  for k, v in pairs(extra or {}) do f[k] = v end
  return f
end

local function call(e, api, params, auth)
  local ticket, err = core.call(e, api, params, auth, 10)
  if not ticket then return nil, err end
  while not ticket:wait(3600) do end
  return core.answer(ticket)
end

local function two_steps(e, api, params, auth)
  local spec = assert(core.build(api, params, auth))
  local res = assert(e:perform{ method = spec.method, url = spec.url, headers = spec.headers, body = spec.body,
    timeout = 10 })
  return core.parse(api, res)
end

describe("core.call and core.answer", function()
  local h, e

  setup(function()
    h = hostile.start()
    e = assert(core.engine{ timeout = 10 })
  end)
  teardown(function()
    if e then e:close() end
    if h then h:stop() end
  end)
  before_each(function() h:reset() end)

  it("send the request core.build makes, and read the answer as core.parse does", function()
    local body = '{"files":[{"name":"a.qp","size":5,"download_link":"https://x/a","n":null}],"bucket":"b"}'
    h:script(PATH, nil, { status = 200, body = body, headers = { ["X-Request-Id"] = "rid-1" } })
    local data = assert(call(e, "show_backup_download_link", { backup_id = BACKUP }, fields(h)))
    assert.are.same(assert(two_steps(e, "show_backup_download_link", { backup_id = BACKUP }, fields(h))), data)
    local seen = h:requests(PATH)
    assert.are.equal(2, #seen)
    for _, name in ipairs{ "host", "x-project-id", "content-type", "x-sdk-date" } do
      assert.is_string(seen[1].headers[name], name)
      assert.is_string(seen[2].headers[name], name)
    end
    assert.are.equal(seen[2].query, seen[1].query)
    assert.matches("^SDK%-HMAC%-SHA256 Access=CALLAK000001, SignedHeaders=content%-type;host;x%-project%-id;"
      .. "x%-sdk%-date, Signature=%x+$", seen[1].headers.authorization)
    assert.is_nil(seen[1].headers["content-length"]) -- a GET goes bare (src/method.c)
  end)

  it("a POST with a JSON body, then an error answer with the service's code", function()
    h:script(ERRORLOG, nil, { status = 429, body = '{"error_code":"DBS.1","error_msg":"slow down"}',
      headers = { ["X-Request-Id"] = "rid-2", ["Retry-After"] = "3" } })
    local data, err, request = call(e, "download_errorlog", { instance_id = RDS }, fields(h))
    assert.is_nil(data)
    local _, err2 = two_steps(e, "download_errorlog", { instance_id = RDS }, fields(h))
    for _, k in ipairs{ "kind", "status", "code", "message", "request_id", "retry_after", "retryable", "api" } do
      assert.are.equal(err2[k], err[k], k)
    end
    assert.are.equal("rid-2", err.request_id)
    assert.are.equal(3, err.retry_after)
    -- what redaction needs: the request's secret-bearing headers as sent
    assert.matches("Signature=%x+$", request.headers.Authorization)
    local seen = h:requests(ERRORLOG)
    assert.are.equal("POST", seen[1].method)
    assert.are.equal("0", seen[1].headers["content-length"])
  end)

  it("token mode sends X-Auth-Token and no signature", function()
    h:script(PATH, nil, { status = 200, body = '{"files":[]}' })
    assert(call(e, "show_backup_download_link", { backup_id = BACKUP },
      { project_id = PID, token = "tok-123456", endpoints = { rds = h.endpoint } }))
    local seen = h:requests(PATH)
    assert.are.equal("tok-123456", seen[1].headers["x-auth-token"])
    assert.is_nil(seen[1].headers.authorization)
  end)

  it("refuses bad parameters before anything is sent, as core.build does", function()
    local ticket, err = core.call(e, "show_backup_download_link", { backup_id = "has space" }, fields(h), 10)
    assert.is_nil(ticket)
    local _, err2 = core.build("show_backup_download_link", { backup_id = "has space" }, fields(h))
    assert.are.equal("input", err.kind)
    assert.are.equal(err2.message, err.message)
    assert.are.equal(0, #h:requests(PATH))
  end)

  it("a network failure is the transfer's error, with failover", function()
    local auth = fields(h, { endpoints = { rds = "http://127.0.0.1:1" } })
    local data, err = call(e, "show_backup_download_link", { backup_id = BACKUP }, auth)
    assert.is_nil(data)
    assert.are.equal("network", err.kind)
    assert.is_true(err.failover)
  end)

  it("the client: one core.call and one core.answer a request, no build or parse", function()
    h:script(PATH, nil, { status = 200, body = '{"files":[]}' })
    local client = assert(hcdl.new{ project_id = PID, ak = "CALLAK000001", sk = "callSecretKey", retries = 0,
      endpoints = { rds = h.endpoint } })
    local counts = {}
    local saved = {}
    for _, f in ipairs{ "call", "answer", "build", "parse" } do
      saved[f] = core[f]
      core[f] = function(...) counts[f] = (counts[f] or 0) + 1 return saved[f](...) end
    end
    local ok, data = pcall(client.show_backup_download_link, client, { backup_id = BACKUP })
    for f, fn in pairs(saved) do core[f] = fn end
    assert.is_true(ok, tostring(data))
    assert.is_table(data.files)
    assert.are.same({ call = 1, answer = 1 }, counts)
    client:close()
  end)
end)
