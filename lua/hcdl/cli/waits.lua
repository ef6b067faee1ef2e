--- hcdl.cli.waits: the command's sleep, given to the client (hcdl.new's
-- `sleep`) so every wait of the library (error logs being prepared, run
-- logs being collected, a retry's back-off, another run holding --out)
-- is one the user can see and stop:
--   - on a terminal, one line says what is awaited and for how long;
--   - it sleeps in slices of a tenth of a second, so Ctrl-C (which the
--     interpreter turns into an error at the next Lua instruction) ends it
--     within half a second.
local core = require "hcdl.core"
local text = require "hcdl.text"

local waits = {}

local SLICE = 0.1

--- A waiter: waiter.sleep(seconds) for the client, waiter.awaiting(what)
-- to name what the next sleeps wait for (nil: nothing shown),
-- waiter.clear() before anything else is written to stderr.
-- opts: { stream, terminal (bool), now }
function waits.new(opts)
  local self = { what = nil, since = nil, drawn = false }
  local stream, now = opts.stream, opts.now or core.now

  local function draw()
    if not (opts.terminal and self.what) then return end
    local line = ("hcdl: waiting for %s: %d s (Ctrl-C stops)"):format(self.what, math.floor(now() - self.since))
    -- the instance comes from the command line: shown like everything printed
    stream:write("\r", text.shown(line, 200), "\27[K")
    stream:flush()
    self.drawn = true
  end

  function self.awaiting(what)
    self.clear()
    self.what, self.since = what, what and now() or nil
  end

  function self.clear()
    if self.drawn then
      stream:write("\r\27[K")
      stream:flush()
      self.drawn = false
    end
  end

  function self.sleep(seconds)
    local deadline = now() + seconds
    draw()
    while true do
      local left = deadline - now()
      if left <= 0 then break end
      core.sleep(math.min(SLICE, left))
      draw()
    end
  end

  return self
end

return waits
