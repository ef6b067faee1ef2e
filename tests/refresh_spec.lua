-- Temporary keys: refreshed 40 minutes before they expire, once for many
-- concurrent callers, through the client's transport, never used after
-- they expire; also when they expire in the middle of a long download.
-- The client's clock is the transport's `now`; a test moves it forward to
-- age the keys without waiting (the emulator keeps real time).
local core = require "hcdl.core"
local transport = require "hcdl.transport"
local fixture = require "tests.support.fixture"
local clients = require "tests.support.clients"
local shell = require "tests.support.shell"

local function client_for(cfg) return assert(clients.new(cfg)) end

describe("temporary keys", function()
  local emu, seed
  local fx = fixture.emulator{ client = false }
  setup(function() emu = fx:start(); seed = emu.seed end)
  teardown(function() fx:stop() end)
  before_each(function()
    fx:reset()
    emu:ctl("POST", "/identity", { temp_key_ttl = 3600 })
  end)

  local function count(api) return #emu:requests(api) end

  -- a client on ECS metadata keys whose clock runs `skew.s` seconds ahead
  local function metadata_client(skew, over)
    local cfg = emu:config{ ak = false, sk = false, metadata_endpoint = emu.endpoint, retries = 0,
      now = function() return core.now() + skew.s end }
    for k, v in pairs(over or {}) do cfg[k] = v end
    return client_for(cfg)
  end

  local function call(c)
    return c:show_backup_download_link{ backup_id = seed.rds_backup_id }
  end

  it("are reused while more than 40 minutes remain, refreshed once fewer do", function()
    local skew = { s = 0 }
    local c = metadata_client(skew)
    assert.is_truthy(call(c))
    skew.s = 1190      -- 3600 - 1190 = 2410 s left: still fresh
    assert.is_truthy(call(c))
    assert.are.equal(1, count("metadata_securitykey"))
    skew.s = 1210      -- 2390 s left: refresh
    assert.is_truthy(call(c))
    assert.are.equal(2, count("metadata_securitykey"))
    skew.s = 0         -- (keys fetched with the clock ahead would be due at once)
    assert.is_truthy(call(c))
    assert.are.equal(2, count("metadata_securitykey"))
  end)

  -- Keys fetched, then the metadata service fails and the clock moves
  -- `ahead` seconds: the next call's answer.
  local function call_after_failed_refresh(ahead)
    local skew = { s = 0 }
    local c = metadata_client(skew)
    assert.is_truthy(call(c))
    emu:fault{ target = "metadata_securitykey", kind = "status", status = 500, count = 10 }
    skew.s = ahead
    return call(c)
  end

  it("keep being used while valid when a refresh fails", function()
    local r, err = call_after_failed_refresh(1800) -- due for refresh, 30 minutes still valid
    assert.is_nil(err)
    assert.is_truthy(r)
    assert.are.equal(2, count("show_backup_download_link"))
  end)

  it("are never used once expired: a failed refresh is the call's error", function()
    local r, err = call_after_failed_refresh(3600)
    assert.is_nil(r)
    assert.are.equal("http", err.kind)
    assert.are.equal(500, err.status)
    assert.matches("ECS metadata", err.message, 1, true)
    assert.matches("not used", err.message, 1, true)
    assert.are.equal(1, count("show_backup_download_link")) -- nothing was signed with the old keys
  end)

  it("are fetched again, once, when the service refuses them", function()
    local c = metadata_client({ s = 0 })
    assert.is_truthy(call(c))
    emu:reset() -- the emulator forgets the keys it issued (and its metadata tokens)
    local r, err = call(c)
    assert.is_nil(err)
    assert.is_truthy(r)
    local statuses = {}
    for _, q in ipairs(emu:requests("show_backup_download_link")) do statuses[#statuses + 1] = q.status end
    assert.are.same({ 401, 200 }, statuses)
  end)

  it("are refreshed by one request however many coroutines ask at once", function()
    local real = assert(transport.curl{ timeout = 10 })
    local yields = {}
    local fake = { name = "interleaving",
      send = function(spec, timeout) coroutine.yield("send") return real.send(spec, timeout) end,
      sleep = function() yields[#yields + 1] = "sleep"; coroutine.yield("sleep") end,
      now = core.now, close = real.close }
    -- no project id either: it is looked up once too
    local cfg = emu:config{ ak = false, sk = false, metadata_endpoint = emu.endpoint, transport = fake }
    cfg.project_id, cfg.region = nil, "emulator"
    local c = client_for(cfg)
    local cos, results = {}, {}
    for i = 1, 3 do
      cos[i] = coroutine.create(function() return call(c) end)
    end
    local live = #cos
    while live > 0 do
      for i, co in ipairs(cos) do
        if coroutine.status(co) == "suspended" then
          local ok, a, b = coroutine.resume(co)
          assert(ok, a)
          if coroutine.status(co) == "dead" then
            results[i] = { a, b }
            live = live - 1
          end
        end
      end
    end
    for i = 1, #cos do
      assert.is_nil(results[i][2])
      assert.are.equal(2, #results[i][1].files)
    end
    assert.is_true(#yields > 0, "no caller waited for the refresh under way")
    assert.are.equal(1, count("metadata_token"))
    assert.are.equal(1, count("metadata_securitykey"))
    assert.are.equal(1, count("iam_projects"))
    assert.are.equal(3, count("show_backup_download_link"))
    assert.are.equal(emu.project_id, c.project_id)
    real.close()
  end)

  it("that expire during a long download are refreshed for the link refresh, and the download resumes", function()
    -- At the first progress report with bytes on disk (the first transfer
    -- lasts 1.5 s: 300000 bytes at 200000 B/s before the drop) the client's clock
    -- jumps 50 minutes, so the keys (an hour) have 10 minutes left, under
    -- the 40-minute margin, and the emulator's 2 minutes, so the link (one
    -- minute) has expired by the resume (signatures tolerate 15 minutes'
    -- skew).  No step depends on how fast the client runs (ASan, valgrind).
    local skew = { s = 0 }
    local c = metadata_client(skew, { retries = 2, retry_base = 0.05 })
    emu:fault{ target = "show_backup_download_link", kind = "link_ttl", ttl = 60, count = 1 }
    local r = assert(call(c))
    local entry = r.files[2]                              -- 700001 bytes
    emu:fault{ target = "store", kind = "throttle", rate = 200000 }
    emu:fault{ target = "store", kind = "drop_after", bytes = 300000, count = 1 }
    local dir = shell.mktemp_dir()
    local res, err = c:download(entry, dir, { progress = function(done)
      if done > 0 and skew.s == 0 then
        skew.s = 3000
        emu:set{ clock_offset = 120 }
      end
    end })
    shell.remove(dir)
    assert.is_nil(err)
    assert.are.equal(700001, res.bytes)
    assert.is_truthy(res.refreshed)
    local order = {}
    for _, q in ipairs(emu:requests()) do
      if q.api ~= "store" and q.api ~= "metadata_token" then order[#order + 1] = q.api end
    end
    assert.are.same({ "metadata_securitykey", "show_backup_download_link",
                      "metadata_securitykey", "show_backup_download_link" }, order)
    -- the download resumed from where the drop left it, with the new link
    -- (the client may see the link's Expires pass on its own clock, or be
    -- told by the store's 403: either way no byte is fetched twice)
    local stores = emu:requests("store")
    local last = stores[#stores]
    assert.are.equal(206, last.status)
    assert.matches("^bytes=[1-9]%d*%-", last.range or "")
    emu:ctl("DELETE", "/faults")
  end)
end)
