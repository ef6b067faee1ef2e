-- Polling helpers against the emulator: PostgreSQL error logs and DCS run logs.
local hcdl = require "hcdl"
local core = require "hcdl.core"
local emulator = require "tests.support.emulator"

describe("wait_errorlog_links", function()
  local emu, seed
  setup(function() emu = emulator.start(); seed = emu.seed end)
  teardown(function() if emu then emu:stop() end end)
  before_each(function() emu:reset() end)

  it("polls until FINISH and returns the links", function()
    emu:set{ errorlog_creating = 3 }
    local client = assert(hcdl.new(emu:config()))
    local list, answer = client:wait_errorlog_links{ instance_id = seed.pg_instance_id, interval = 0.05 }
    assert.is_table(list)
    assert.is_true(#list > 0)
    assert.matches("^https?://", list[1].file_link)
    assert.are.equal("finish", answer.status:lower())
    assert.are.equal(4, #emu:requests("download_errorlog"))
  end)

  it("compares the status case-insensitively", function()
    emu:set{ errorlog_creating = 1, errorlog_upper = true }
    local client = assert(hcdl.new(emu:config()))
    local list, answer = client:wait_errorlog_links{ instance_id = seed.pg_instance_id, interval = 0.05 }
    assert.are.equal("FINISH", answer.status)
    assert.is_true(#list > 0)
  end)

  it("turns FAILED into an error carrying the response", function()
    emu:set{ errorlog_creating = 0, errorlog_failed = true }
    local client = assert(hcdl.new(emu:config()))
    local list, err = client:wait_errorlog_links{ instance_id = seed.pg_instance_id, interval = 0.05 }
    assert.is_nil(list)
    assert.are.equal("api", err.kind)
    assert.are.equal("failed", err.response.status:lower())
  end)

  it("treats the timeout as a deadline, sleeping through the host's sleep", function()
    emu:set{ errorlog_creating = 100000 }
    local slept = {}
    local client = assert(hcdl.new(emu:config{ sleep = function(s) slept[#slept + 1] = s; core.sleep(s) end }))
    local t0 = core.now()
    local list, err = client:wait_errorlog_links{ instance_id = seed.pg_instance_id, timeout = 1, interval = 0.1 }
    local took = core.now() - t0
    assert.is_nil(list)
    assert.are.equal("timeout", err.kind)
    assert.is_true(took >= 0.95 and took < 2, "took " .. took)
    assert.is_true(#slept >= 3)
    -- the interval grows gently, never beyond 4x
    assert.is_true(slept[2] > slept[1])
    for _, s in ipairs(slept) do assert.is_true(s <= 0.4 + 1e-9) end
  end)

  it("refuses unknown parameters and bad numbers", function()
    local client = assert(hcdl.new(emu:config()))
    local _, err = client:wait_errorlog_links{ instance_id = seed.pg_instance_id, timout = 5 }
    assert.are.equal("timout", err.field)
    _, err = client:wait_errorlog_links{ instance_id = seed.pg_instance_id, interval = -1 }
    assert.are.equal("interval", err.field)
    _, err = client:wait_errorlog_links{ instance_id = "bad" }
    assert.are.equal("instance_id", err.field)
  end)
end)

describe("redislog_links", function()
  local emu, seed
  setup(function() emu = emulator.start(); seed = emu.seed end)
  teardown(function() if emu then emu:stop() end end)
  before_each(function() emu:reset() end)

  it("collects, waits until listed, and returns a link per log file", function()
    emu:set{ redislog_ready_calls = 2, redislog_ready_delay = 60 }
    local client = assert(hcdl.new(emu:config()))
    local links = assert(client:redislog_links{ instance_id = seed.dcs_instance_id, days = 1, interval = 0.05 })
    assert.is_true(#links >= 1)
    for _, l in ipairs(links) do
      assert.is_string(l.id)
      assert.is_string(l.file_name)
      assert.matches("^https?://.*Signature=", l.link)
    end
    assert.are.equal(1, #emu:requests("create_redislog"))
    assert.are.equal(#links, #emu:requests("create_redislog_download_link"))
  end)

  it("times out when the logs never appear", function()
    emu:set{ redislog_ready_calls = 100000, redislog_ready_delay = 100000 }
    local client = assert(hcdl.new(emu:config()))
    local links, err = client:redislog_links{ instance_id = seed.dcs_instance_id, timeout = 0.5, interval = 0.05 }
    assert.is_nil(links)
    assert.are.equal("timeout", err.kind)
  end)

  it("validates days before collecting", function()
    local client = assert(hcdl.new(emu:config()))
    local _, err = client:redislog_links{ instance_id = seed.dcs_instance_id, days = 2 }
    assert.are.equal("days", err.field)
    assert.are.same({}, emu:requests())
  end)
end)
