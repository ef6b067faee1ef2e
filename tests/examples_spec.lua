-- Every example in examples/ runs, with the interpreter under test,
-- against the bundled emulator.
local emulator = require "tests.support.emulator"
local helpers = require "tests.support.helpers"

local process = require "tests.support.process"
local shell = require "tests.support.shell"

local LUA, run = helpers.LUA, process.run

describe("examples", function()
  local emu
  setup(function() emu = emulator.start() end)
  teardown(function() if emu then emu:stop() end end)

  it("quickstart.lua runs the main job against the emulator", function()
    local out_dir = shell.fresh_path()
    local ok, out = run(("cd %s && %s examples/quickstart.lua %s %s"):format(helpers.root, LUA, emu.cfgfile, out_dir))
    assert.is_true(ok, out)
    -- the latest RDS backup, downloaded and verified
    assert.matches("1. latest RDS backup of " .. emu.seed.rds_instance_id, out, 1, true)
    assert.matches("verified: size, md5, xbstream", out, 1, true) -- what was checked, per file
    -- a day of full-SQL files, twice: the second run fetches only what changed
    assert.matches(("run 1: listed %d, new %d, updated 0"):format(emu.seed.gaussdb_file_count,
      emu.seed.gaussdb_file_count), out, 1, true)
    assert.matches("run 2: listed %d+, new 0, updated 1, skipped %d+, failed 0", out)
    assert.matches("3 shard file", out, 1, true)
    assert.matches("DCS run logs", out, 1, true)
    assert.matches("PostgreSQL error logs", out, 1, true)
    assert.matches("done.", out, 1, true)
    -- link signatures are never printed
    assert.is_nil(out:find("Signature=", 1, true))
    shell.remove(out_dir)
  end)

  it("sign_request.lua prints a signed request without the secret key", function()
    local ok, out = run(("cd %s && HUAWEICLOUD_SDK_SK=NeverPrintThis %s examples/sign_request.lua"):format(helpers.root, LUA))
    assert.is_true(ok, out)
    assert.matches("Authorization: SDK-HMAC-SHA256 Access=", out, 1, true)
    assert.is_nil(out:find("NeverPrintThis", 1, true))
  end)
end)
