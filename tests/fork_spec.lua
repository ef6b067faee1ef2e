-- A client used across fork(): the child must get an engine of its own (its
-- parent's thread does not exist in it), and the parent must keep its own.
-- An API call asks no getpid: an engine sees the fork by a page the kernel
-- zeroes in the child (docs/architecture.md "One API call, end to end").
-- fork comes from luaposix (Debian's lua-posix), which Debian builds for
-- Lua 5.1-5.3 and LuaJIT, so on Lua 5.4 this spec is pending.
local fixture = require "tests.support.fixture"
local process = require "tests.support.process"
local literal = require "tests.support.lua_literal"
local helpers = require "tests.support.helpers"
local shell = require "tests.support.shell"

local has_posix = pcall(require, "posix.unistd")

-- Runs in another interpreter of the suite's Lua: prints one line per fact.
local SCRIPT = [[
local unistd, wait = require "posix.unistd", require "posix.sys.wait"
local hcdl = require "hcdl"
local cfg, params = %s, %s
local client = assert(hcdl.new(cfg))
local function call() return client:show_backup_download_link(params) end
local function engine() return client:transport().pool.e end
assert(call())
local before = engine()
local pid = assert(unistd.fork())
if pid == 0 then
  unistd.alarm(20) -- a child waiting on its parent's engine would hang: fail it
  local ok, r = pcall(call)
  local fresh = engine() ~= before
  unistd._exit((ok and r and r.files and fresh) and 0 or 1)
end
local _, how, status = wait.wait(pid)
print("child " .. how .. " " .. status)
print("parent call " .. tostring(call() ~= nil))
print("parent engine kept " .. tostring(engine() == before))
]]

describe("a client across fork()", function()
  local emu
  local fx = fixture.emulator{ client = false }
  setup(function() emu = fx:start() end)
  teardown(function() fx:stop() end)

  it("gives the child an engine of its own and keeps the parent's", function()
    if not has_posix then
      pending("needs luaposix (Debian's lua-posix has no Lua 5.4 build)")
      return
    end
    local code = SCRIPT:format(literal(emu:config{ retry_base = 0.05, timeout = 10 }),
      literal{ backup_id = emu.seed.rds_backup_id })
    local script = os.tmpname()
    shell.write(script, code)
    local out = process.capture(helpers.LUA .. " " .. shell.q(script) .. " 2>&1")
    os.remove(script)
    assert.matches("child exited 0", out, 1, true)
    assert.matches("parent call true", out, 1, true)
    assert.matches("parent engine kept true", out, 1, true)
  end)
end)
