-- One emulator and one client for a `describe`, and a directory for it,
-- removed afterwards:
--
--   local emu, client, dir
--   local fx = fixture.emulator{ dir = "made" }
--   setup(function() emu, client = fx:start() end)
--   teardown(function() fx:stop() end)
--   before_each(function() dir = fx:reset() end)
--
-- opts.client: the client's options over emu:config (default a short
-- retry_base, so retries cost milliseconds; false: no client).
-- opts.dir: "made" (an empty directory for each case), "absent" (for each
-- case a path the code under test must create), "once" (one empty
-- directory for the whole describe, from start) or nil (none).
-- opts.flags: the emulator's command-line flags.
local hcdl = require "hcdl"
local emulator = require "tests.support.emulator"
local shell = require "tests.support.shell"

local fixture = {}

local Emulator = {}
Emulator.__index = Emulator

function fixture.emulator(opts)
  return setmetatable({ opts = opts or {} }, Emulator)
end

--- Starts the emulator and makes the client (and the "once" directory):
-- emu, client, dir.
function Emulator:start()
  self.emu = emulator.start(self.opts.flags)
  local over = self.opts.client
  if over ~= false then self.client = assert(hcdl.new(self.emu:config(over or { retry_base = 0.05 }))) end
  if self.opts.dir == "once" then self.dir = shell.mktemp_dir() end
  return self.emu, self.client, self.dir
end

--- Resets the emulator and, for "made" and "absent", replaces the case's
-- directory: the directory's path (nil when there is none).
function Emulator:reset()
  self.emu:reset()
  local kind = self.opts.dir
  if kind == "made" then
    self.dir = shell.renew_dir(self.dir)
  elseif kind == "absent" then
    shell.remove(self.dir)
    self.dir = shell.fresh_path()
  end
  return self.dir
end

function Emulator:stop()
  if self.client then self.client:close() end
  if self.emu then self.emu:stop() end
  shell.remove(self.dir)
end

return fixture
