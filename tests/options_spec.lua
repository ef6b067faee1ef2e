-- The one option table (src/options.h, core.options()): its rows are
-- consistent, every per-client row is checked by hcdl.new and reaches the
-- engine, every per-transfer row is checked by the download options and
-- read by the transfer, and max_rate holds per transfer and per client
-- (one budget over the client's engine) on real transfers from the
-- emulator.  docs/options.md says what each row means.
local hcdl = require "hcdl"
local core = require "hcdl.core"
local transport = require "hcdl.transport"
local fixture = require "tests.support.fixture"
local helpers = require "tests.support.helpers"

local MiB = 1024 * 1024

local function rows(scope)
  local out = {}
  for _, row in ipairs(core.options()) do
    if scope == nil or row.scope == scope or row.scope == "both" then out[#out + 1] = row end
  end
  return out
end

-- A value outside the row's range (or of the wrong kind for whole rows).
local function bad_value(row)
  if row.type == "boolean" then return "yes" end
  if row.type == "string" then return 42 end
  return row.min - 1
end

describe("option table", function()
  it("has one row per name, each with a type, a scope, what it sets and a default inside its range", function()
    local seen = {}
    assert.is_true(#core.options() >= 10)
    for _, row in ipairs(core.options()) do
      assert.is_nil(seen[row.name], row.name)
      seen[row.name] = true
      assert.is_truthy(({ seconds = 1, whole = 1, rate = 1, boolean = 1, string = 1 })[row.type], row.name)
      assert.is_truthy(({ client = 1, transfer = 1, both = 1 })[row.scope], row.name)
      assert.is_truthy(row.sets:match("CURLM?OPT_"), row.name)
      if row.min then
        assert.is_true(row.min <= row.max, row.name)
        if row.default ~= nil then
          assert.is_true(row.default >= row.min and row.default <= row.max, row.name)
        end
      end
    end
    for _, name in ipairs{ "connect_timeout", "low_speed_limit", "low_speed_time", "buffer_size",
                           "max_host_connections", "verify_tls", "cafile", "proxy", "user_agent", "max_rate" } do
      assert.is_true(seen[name], name)
    end
  end)

  -- The options named in the first column of the tables of the README's
  -- section `heading` (up to the next section).
  local function readme_options(heading)
    local f = assert(io.open((os.getenv("HCDL_ROOT") or ".") .. "/README.md"))
    local text = f:read("*a")
    f:close()
    local at = assert(text:find("\n" .. heading, 1, true), heading)
    local section = text:sub(at + 1, (text:find("\n## ", at + 1, true) or #text))
    local names = {}
    for first in section:gmatch("\n| ([^|\n]*) |") do
      for name in first:gmatch("`([%w_]+)") do names[name] = true end
    end
    return names
  end

  it("is documented: each client row in the README's Configuration table, each transfer row in Downloads", function()
    local config_rows = readme_options("## Configuration: `hcdl.new(config)`")
    local download_rows = readme_options("## Downloads")
    for _, row in ipairs(rows("client")) do
      assert.is_true(config_rows[row.name], row.name .. " is not in the README's Configuration table")
    end
    for _, row in ipairs(rows("transfer")) do
      assert.is_true(download_rows[row.name], row.name .. " is not in the README's Downloads table")
    end
  end)

  it("refuses each client row out of range in hcdl.new and in core.engine, naming the option", function()
    for _, row in ipairs(rows("client")) do
      local c, err = hcdl.new{ region = "eu-de", ak = "AK", sk = "SK", project_id = ("0"):rep(32),
        [row.name] = bad_value(row) }
      assert.is_nil(c, row.name)
      assert.are.equal("input", err.kind, row.name)
      assert.are.equal(row.name, err.field)
      local e, eerr = core.engine{ [row.name] = bad_value(row) }
      assert.is_nil(e, row.name)
      assert.are.equal("input", eerr.kind, row.name)
      assert.are.equal(row.name, eerr.field)
    end
  end)

  it("refuses a fraction for whole rows in hcdl.new", function()
    for _, row in ipairs(rows("client")) do
      if row.type == "whole" then
        local c, err = hcdl.new{ region = "eu-de", ak = "AK", sk = "SK", project_id = ("0"):rep(32),
          [row.name] = row.default + 0.5 }
        assert.is_nil(c, row.name)
        assert.are.equal(row.name, err.field)
      end
    end
  end)

  it("passes every client row from hcdl.new to the engine, defaults from the table", function()
    local cfg = assert(require("hcdl.config").resolve{ region = "eu-de", ak = "AK", sk = "SK",
      project_id = ("0"):rep(32), buffer_size = 4096, max_host_connections = 2, max_rate = 2 * MiB })
    local net = transport.net_options(cfg)
    assert.are.equal(4096, net.buffer_size)
    assert.are.equal(2, net.max_host_connections)
    assert.are.equal(2 * MiB, net.max_rate)
    for _, row in ipairs(rows("client")) do
      if row.name ~= "buffer_size" and row.name ~= "max_host_connections" and row.name ~= "max_rate" then
        assert.are.equal(row.default, net[row.name], row.name)
      end
    end
    assert(core.engine(net)):close()
  end)

  it("refuses each transfer row out of range in the download options and in a transfer's spec", function()
    local download = require "hcdl.download"
    local e = assert(core.engine{})
    for _, row in ipairs(rows("transfer")) do
      local err = download.check_options{ [row.name] = bad_value(row) }
      assert.are.equal("input", err.kind, row.name)
      assert.are.equal(row.name, err.field)
      local t, serr = e:start{ url = "http://127.0.0.1:1/x", [row.name] = bad_value(row) }
      assert.is_nil(t, row.name)
      assert.are.equal("input", serr.kind)
      assert.are.equal(row.name, serr.field)
    end
    e:close()
  end)
end)

describe("max_rate", function()
  local emu, dir
  local fx = fixture.emulator{ client = false, dir = "made" }
  setup(function() emu = fx:start() end)
  teardown(function() fx:stop() end)
  before_each(function() dir = fx:reset() end)

  local function object(name, size)
    return emu:object{ name = name, size = size, ttl = 3600 }
  end

  local function timed(fn)
    local t0 = core.now()
    fn()
    return core.now() - t0
  end

  local function finish(t)
    while not t:wait(5) do end
    local r = t:result()
    assert.is_nil(r.error)
    return r
  end

  -- libcurl paces between reads and lets up to about a second's worth
  -- through at the start: sizes of a few seconds' worth, bounds below the
  -- ideal, and the unlimited run only has to be clearly faster
  it("caps one download call's transfer, and without it the same file comes fast", function()
    local client = assert(hcdl.new(emu:config{ retry_base = 0.05 }))
    local obj = object("rate-one.bin", 2 * MiB)
    local free = timed(function() assert(client:download(obj.url, dir .. "/free.bin")) end)
    local capped = timed(function()
      assert(client:download(obj.url, dir .. "/capped.bin", { max_rate = MiB, buffer_size = 16384 }))
    end)
    assert.is_true(capped >= 1.5, ("2 MiB at 1 MiB/s took %.2f s"):format(capped))
    assert.is_true(free < 1.0 and free < capped / 2, ("2 MiB without a cap took %.2f s"):format(free))
    assert.are.equal(helpers.expected_md5("rate-one.bin", 2 * MiB), core.md5_file(dir .. "/capped.bin"))
    client:close()
  end)

  it("is one budget per client: transfers of different calls on its engine share it", function()
    local obj = object("rate-shared.bin", MiB)
    local big = object("rate-big.bin", 3 * MiB)
    local client = assert(hcdl.new(emu:config{ retry_base = 0.05, max_rate = MiB }))
    -- alone, 1 MiB at the client's 1 MiB/s
    local alone = timed(function() assert(client:download(obj.url, dir .. "/alone.bin")) end)
    -- beside another transfer of the same engine (another call's), half of it
    local e = assert(client:transport().pool.engine())
    local other = assert(e:start{ url = big.url, max_body = 4 * MiB })
    local shared = timed(function() assert(client:download(obj.url, dir .. "/shared.bin")) end)
    finish(other)
    assert.is_true(alone >= 0.5, ("1 MiB at 1 MiB/s took %.2f s"):format(alone))
    assert.is_true(shared >= 1.5, ("1 MiB at half of 1 MiB/s took %.2f s"):format(shared))
    assert.are.equal(helpers.expected_md5("rate-shared.bin", MiB), core.md5_file(dir .. "/shared.bin"))
    client:close()
  end)

  it("gives a transfer the whole budget again once the other ends", function()
    local e = assert(core.engine{ max_rate = MiB })
    local a, b = object("rate-a.bin", 2 * MiB), object("rate-b.bin", 256 * 1024)
    local t0 = core.now()
    local ta = assert(e:start{ url = a.url, max_body = 4 * MiB })
    local tb = assert(e:start{ url = b.url, max_body = 4 * MiB })
    finish(tb)
    finish(ta)
    local took = core.now() - t0
    -- 2.25 MiB through 1 MiB/s: at least ~1.7 s; had the share stayed at
    -- half, the 2 MiB alone would need 4 s
    assert.is_true(took >= 1.5, ("2.25 MiB under 1 MiB/s took %.2f s"):format(took))
    assert.is_true(took < 3.8, ("2.25 MiB under 1 MiB/s took %.2f s: the share was not given back"):format(took))
    e:close()
  end)
end)
