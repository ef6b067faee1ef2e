-- Polling helpers against the emulator: PostgreSQL error logs and DCS run logs.
local hcdl = require "hcdl"
local core = require "hcdl.core"
local fixture = require "tests.support.fixture"

describe("wait_errorlog_links", function()
  local emu, seed
  local fx = fixture.emulator{ client = false }
  setup(function() emu = fx:start(); seed = emu.seed end)
  teardown(function() fx:stop() end)
  before_each(function() fx:reset() end)

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
    -- ids are checked only for what would make the request unsafe (README)
    _, err = client:wait_errorlog_links{ instance_id = "bad/../id" }
    assert.are.equal("instance_id", err.field)
  end)
end)

describe("redislog_links", function()
  local emu, seed
  local fx = fixture.emulator{ client = false }
  setup(function() emu = fx:start(); seed = emu.seed end)
  teardown(function() fx:stop() end)
  before_each(function() fx:reset() end)

  it("collects for every replica of a cluster, waits until listed, and links each log file", function()
    emu:set{ redislog_ready_calls = 2, redislog_ready_delay = 60 }
    local client = assert(hcdl.new(emu:config()))
    local links = assert(client:redislog_links{ instance_id = seed.dcs_instance_id, days = 1, interval = 0.05 })
    -- 3 shards x 2 replicas, 2 daily files each
    assert.are.equal(12, #links)
    local per_replica = {}
    for _, l in ipairs(links) do
      assert.is_string(l.id)
      assert.matches("^redis_" .. l.replication_ip:gsub("%.", "%%.") .. "_%d+%-%d+%-%d+%.log$", l.file_name)
      assert.matches("^group%-%d$", l.group_name)
      assert.matches("^https?://.*Signature=", l.link)
      per_replica[l.replication_id] = (per_replica[l.replication_id] or 0) + 1
    end
    for _, id in ipairs(seed.dcs_replication_ids) do assert.are.equal(2, per_replica[id], id) end
    local collects = emu:requests("create_redislog")
    assert.are.equal(6, #collects)
    local asked = {}
    for _, r in ipairs(collects) do asked[#asked + 1] = r.query:match("replication_id=([%w%-]+)") end
    table.sort(asked)
    local want = {}
    for i, id in ipairs(seed.dcs_replication_ids) do want[i] = id end
    table.sort(want)
    assert.are.same(want, asked)
    assert.are.equal(1, #emu:requests("list_group_replication_info"))
    assert.are.equal(#links, #emu:requests("create_redislog_download_link"))
  end)

  it("collects only the replica asked for", function()
    emu:set{ redislog_ready_calls = 1 }
    local client = assert(hcdl.new(emu:config()))
    local rep = seed.dcs_replication_ids[5]
    local links = assert(client:redislog_links{ instance_id = seed.dcs_instance_id, replication_id = rep,
      interval = 0.05 })
    assert.are.equal(1, #links)
    assert.are.equal(rep, links[1].replication_id)
    assert.are.equal(0, #emu:requests("list_group_replication_info"))
    local collects = emu:requests("create_redislog")
    assert.are.equal(1, #collects)
    assert.matches("replication_id=" .. rep:gsub("%-", "%%-"), collects[1].query)
  end)

  it("collects a single-node instance without a replication_id", function()
    emu:set{ redislog_ready_calls = 1 }
    local client = assert(hcdl.new(emu:config()))
    local links = assert(client:redislog_links{ instance_id = seed.dcs_single_instance_id, days = 3,
      interval = 0.05 })
    assert.are.equal(4, #links)
    local collects = emu:requests("create_redislog")
    assert.are.equal(1, #collects)
    assert.is_nil(collects[1].query:find("replication_id", 1, true))
    -- the service does not describe single-node instances (400); that is not a failure
    assert.are.equal(400, emu:requests("list_group_replication_info")[1].status)
  end)

  -- A client whose transport hands the answers of `api` through rewrite.
  local function rewriting(api, rewrite)
    local t = assert(require("hcdl.transport").curl{ timeout = 10 })
    return assert(hcdl.new(emu:config{ transport = { send = function(spec, timeout)
      local res, err = t.send(spec, timeout)
      if res and spec.api == api then res = rewrite(res) end
      return res, err
    end } }))
  end

  it("also takes an empty shard list as a single-node instance", function()
    emu:set{ redislog_ready_calls = 1 }
    local client = rewriting("list_group_replication_info", function()
      return { status = 200, headers = {}, body = '{"group_list":[],"group_count":0}' }
    end)
    local links = assert(client:redislog_links{ instance_id = seed.dcs_single_instance_id, interval = 0.05 })
    assert.are.equal(1, #links)
    assert.are.equal(1, #emu:requests("create_redislog"))
  end)

  it("ignores listed logs without an id instead of failing on them", function()
    emu:set{ redislog_ready_calls = 1 }
    local client = rewriting("list_redislog", function(res)
      local entry = '{"file_name":"stray.log","status":"succeed"}'
      if res.status == 204 then
        return { status = 200, headers = {}, body = '{"total_num":1,"file_list":[' .. entry .. ']}' }
      end
      res.body = res.body:gsub('"file_list":%[', '"file_list":[' .. entry .. ','):gsub('"total_num":(%d+)',
        function(n) return '"total_num":' .. (n + 1) end)
      return res
    end)
    local links = assert(client:redislog_links{ instance_id = seed.dcs_single_instance_id, interval = 0.05 })
    assert.are.equal(1, #links)
    assert.are_not.equal("stray.log", links[1].file_name)
  end)

  it("refreshes a link it returned by asking for it again", function()
    emu:set{ redislog_ready_calls = 1 }
    local client = assert(hcdl.new(emu:config()))
    local links = assert(client:redislog_links{ instance_id = seed.dcs_single_instance_id, interval = 0.05 })
    local fresh = assert(client:refresh_entry(links[1]))
    assert.are.equal(links[1].file_name, fresh.file_name)
    assert.matches("^https?://.*Signature=", fresh.link)
    assert.are.equal(2, #emu:requests("create_redislog_download_link"))
    assert.is_table(assert(client:refresh_entry(fresh)))   -- and the copy again
  end)

  it("times out when the logs never appear", function()
    emu:set{ redislog_ready_calls = 100000, redislog_ready_delay = 100000 }
    local client = assert(hcdl.new(emu:config()))
    local links, err = client:redislog_links{ instance_id = seed.dcs_instance_id, timeout = 0.5, interval = 0.05 }
    assert.is_nil(links)
    assert.are.equal("timeout", err.kind)
  end)

  it("validates days, the instance and the replica before any request", function()
    local client = assert(hcdl.new(emu:config()))
    local _, err = client:redislog_links{ instance_id = seed.dcs_instance_id, days = 2 }
    assert.are.equal("days", err.field)
    _, err = client:redislog_links{ instance_id = seed.dcs_instance_id, replication_id = "a/b" }
    assert.are.equal("replication_id", err.field)
    _, err = client:redislog_links{ instance_id = "no pe" }
    assert.are.equal("instance_id", err.field)
    assert.are.same({}, emu:requests())
  end)

  it("surfaces an unknown instance as the service's error", function()
    local client = assert(hcdl.new(emu:config()))
    local _, err = client:redislog_links{ instance_id = "00000000-0000-4000-a000-000000000000" }
    assert.are.equal("DCS.3022", err.code)
    assert.are.equal(0, #emu:requests("create_redislog"))
  end)
end)
