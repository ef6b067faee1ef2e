-- The method/body rule (src/method.c), seen on the wire by the hostile
-- server: a GET or HEAD with no body bytes goes bare (no Content-Length),
-- every other request carries Content-Length, 0 when its body is empty.
-- The same rule for a raw core.session request and for API calls.
local hcdl = require "hcdl"
local core = require "hcdl.core"
local hostile = require "tests.support.hostile"

local PID = "0123456789abcdef0123456789abcdef"

-- method, body -> the Content-Length the server saw (nil: none), the body it read
local CASES = {
  { "GET", nil, nil, "" },
  { "GET", "", nil, "" },
  { "GET", "q=1", "3", "q=1" },
  { "HEAD", nil, nil, "" },
  { "POST", nil, "0", "" },
  { "POST", "", "0", "" },
  { "POST", "{}", "2", "{}" },
  { "PUT", "", "0", "" },
  { "DELETE", nil, "0", "" },
}

describe("the method/body rule on the wire", function()
  local h, session

  setup(function()
    h = hostile.start()
    session = assert(core.session{ timeout = 10 })
  end)
  teardown(function()
    if session then session:close() end
    if h then h:stop() end
  end)
  before_each(function() h:reset() end)

  for i, c in ipairs(CASES) do
    it(("%s with body %s: Content-Length %s"):format(c[1], c[2] == nil and "nil" or ("%q"):format(c[2]),
        tostring(c[3])), function()
      local path = "/m/" .. i
      h:script(path, nil, { status = 200, body = "ok" })
      local res = assert(session:perform{ method = c[1], url = h.endpoint .. path, body = c[2] })
      assert.are.equal(200, res.status)
      local seen = h:requests(path)
      assert.are.equal(1, #seen)
      assert.are.equal(c[1], seen[1].method)
      assert.are.equal(c[3], seen[1].headers["content-length"])
      assert.are.equal(c[4], seen[1].body)
    end)
  end

  -- The engine keeps finished easy handles and resets them for the next
  -- request: nothing of one request (method, body, headers) may reach the next.
  it("requests one after another on reused handles each go out as asked", function()
    local e = assert(core.engine{ timeout = 10 })
    local steps = {
      { "POST", '{"a":1}', { ["X-First"] = "1" }, nil, "7" },
      { "GET", nil, nil, nil, nil },
      { "PUT", "", { ["X-Third"] = "3" }, nil, "0" },
      { "DELETE", "gone", nil, nil, "4" },
      { "GET", nil, { ["X-Fifth"] = "5" }, nil, nil },
    }
    for i, st in ipairs(steps) do
      local path = "/reuse/" .. i
      h:script(path, nil, { status = 200, body = "ok" .. i })
      local res = assert(e:perform{ method = st[1], url = h.endpoint .. path, body = st[2], headers = st[3] })
      assert.are.equal(200, res.status)
      assert.are.equal("ok" .. i, res.body)
    end
    local made, reused = e:handles()
    assert.are.equal(1, made)
    assert.are.equal(#steps - 1, reused)
    for i, st in ipairs(steps) do
      local seen = h:requests("/reuse/" .. i)
      assert.are.equal(1, #seen, "request " .. i)
      assert.are.equal(st[1], seen[1].method, "request " .. i)
      assert.are.equal(st[5], seen[1].headers["content-length"], "request " .. i)
      assert.are.equal(st[2] or "", seen[1].body, "request " .. i)
      if st[1] == "GET" then -- no Content-Type left over from a POST before it
        assert.is_nil(seen[1].headers["content-type"], "request " .. i)
      end
      for j, other in ipairs(steps) do
        for name in pairs(other[3] or {}) do
          assert.are.equal(j == i and other[3][name] or nil, seen[1].headers[name:lower()],
            ("request %d, header %s"):format(i, name))
        end
      end
    end
    e:close()
  end)

  -- API calls: a GET goes bare, a POST without body parameters says
  -- Content-Length: 0; both signed "" (src/api_build.c)
  for _, c in ipairs{
    { "show_backup_download_link", "/v3/" .. PID .. "/backup-files", { backup_id = "b" .. ("0"):rep(31) .. "br01" },
      "GET", nil },
    { "download_errorlog", "/v3/" .. PID .. "/instances/" .. ("a"):rep(32) .. "in03/errorlog-download",
      { instance_id = ("a"):rep(32) .. "in03" }, "POST", "0" },
  } do
    it(("API %s: %s, Content-Length %s"):format(c[1], c[4], tostring(c[5])), function()
      h:script(c[2], nil, { status = 400, body = '{"error_code":"DBS.200001","error_msg":"no"}' })
      local client = assert(hcdl.new{ project_id = PID, ak = "METHODAK0001", sk = "methodSecretKey", retries = 0,
        endpoints = { rds = h.endpoint } })
      local r, err = client[c[1]](client, c[3])
      assert.is_nil(r)
      assert.are.equal("api", err.kind)
      local seen = h:requests(c[2])
      assert.are.equal(1, #seen, "the API path was not asked")
      assert.are.equal(c[4], seen[1].method)
      assert.are.equal(c[5], seen[1].headers["content-length"])
      assert.are.equal("", seen[1].body)
    end)
  end
end)
