--- hcdl.credentials.flight: one fetch at a time, shared by every caller
-- that asks while it is under way ("single flight").
--
-- Inside OpenResty or an event loop, many coroutines share one client;
-- when keys need refreshing they must cause one request, not one each.
-- The first caller runs the fetch; a caller that finds one under way waits
-- for it by polling with the transport's sleep (which yields to the host's
-- loop) and takes its result.  No pcall here: yielding across one fails
-- on Lua 5.1, so a fetch that raised would leave the flag set; a waiter
-- therefore takes over a flight older than `limit` seconds.
local flight = {}
flight.__index = flight

flight.POLL = 0.02 -- seconds between looks while waiting

function flight.new(limit)
  return setmetatable({ busy = false, limit = limit or 60 }, flight)
end

--- Runs fn() -> value, err unless a run is under way, in which case it
-- waits for that one and returns its results.  clock: { now, sleep }.
function flight:run(clock, fn)
  if self.busy then
    while self.busy and clock.now() - self.started < self.limit do
      clock.sleep(flight.POLL)
    end
    if not self.busy then return self.value, self.err end
  end
  local ticket = {}
  self.busy, self.started, self.ticket = true, clock.now(), ticket
  local value, err = fn()
  if self.ticket == ticket then -- not taken over meanwhile
    self.busy, self.value, self.err = false, value, err
  end
  return value, err
end

return flight
