-- hcdl error objects: fields, tostring, kinds.
local hcdl = require "hcdl"

describe("hcdl.error", function()
  it("renders one readable line with status, code and request id", function()
    local err = hcdl.error{ kind = "api", status = 404, code = "DBS.200002",
      message = "The DB instance does not exist.", request_id = "abc123" }
    assert.are.equal("hcdl api error (HTTP 404) DBS.200002: The DB instance does not exist. (request id abc123)",
      tostring(err))
    assert.is_true(hcdl.is_error(err))
    assert.is_false(err.retryable)
  end)

  it("leaves out what it does not have", function()
    assert.are.equal("hcdl network error: connection refused",
      tostring(hcdl.error{ kind = "network", message = "connection refused" }))
    assert.are.equal("hcdl timeout error: timeout", tostring(hcdl.error{ kind = "timeout" }))
  end)

  it("keeps extra fields", function()
    local err = hcdl.error{ kind = "io", message = "disk full", path = "/tmp/x", retryable = true }
    assert.are.equal("/tmp/x", err.path)
    assert.is_true(err.retryable)
  end)

  it("accepts every documented kind and refuses others", function()
    for _, k in ipairs{ "input", "auth", "api", "http", "network", "timeout", "io", "integrity", "expired" } do
      assert.are.equal(k, hcdl.error{ kind = k }.kind)
    end
    assert.has_error(function() hcdl.error{ kind = "oops" } end)
    assert.has_error(function() hcdl.error{} end)
    assert.has_error(function() hcdl.error("x") end)
  end)

  it("tells errors from other values", function()
    assert.is_false(hcdl.is_error({ kind = "api" }))
    assert.is_false(hcdl.is_error(nil))
    assert.is_false(hcdl.is_error("x"))
  end)

  it("is what input failures return", function()
    local s, err = hcdl.sign{ method = "GET", host = "h", path = "/", sk = "s" }
    assert.is_nil(s)
    assert.is_true(hcdl.is_error(err))
    assert.are.equal("hcdl input error: ak: required, a non-empty string", tostring(err))
  end)

  it("concatenates like a string, on either side, and refuses what `..` refuses", function()
    local err = hcdl.error{ kind = "io", message = "disk full" }
    assert.are.equal("failed: hcdl io error: disk full", "failed: " .. err)
    assert.are.equal("hcdl io error: disk full (2)", err .. " (" .. 2 .. ")")
    assert.are.equal("hcdl io error: disk full|hcdl io error: disk full", err .. "|" .. err)
    local ok, why = pcall(function() return err .. {} end)
    assert.is_false(ok)
    assert.matches("concatenate a table value", why)
  end)
end)
