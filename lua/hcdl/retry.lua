--- hcdl.retry: the retry policy around every API call.
--
-- Retries what the error's `retryable` flag allows (for HTTP answers
-- src/status.c decides it: 408, 429, 500, 502, 503, 504 and throttling;
-- network errors src/http.c), with exponential backoff and full jitter, honouring a
-- server's Retry-After, bounded by a number of attempts and by a total
-- deadline.  Each attempt rebuilds (and so re-signs, with a fresh
-- X-Sdk-Date) the request: a signature older than 15 minutes is refused.
local retry = {}

retry.defaults = {
  retries = 4,      -- extra attempts after the first
  base = 0.5,       -- seconds: the first backoff ceiling
  cap = 20,         -- seconds: no single wait is longer
  deadline = 120,   -- seconds: the whole call, waits included
}

--- The wait before the next attempt, after `failures` failed attempts.
-- Full jitter: uniform in [0, min(cap, base * 2^(failures-1))]; never less
-- than a Retry-After the server asked for.
function retry.delay(policy, failures, err, random)
  local ceiling = math.min(policy.cap, policy.base * 2 ^ (failures - 1))
  local d = (random or math.random)() * ceiling
  if err and type(err.retry_after) == "number" and err.retry_after > d then
    d = err.retry_after
  end
  return d
end

--- Runs attempt(remaining_seconds, n, a, b, c, d) (n: the attempt's number,
-- from 1; a..d: passed through, so a caller needs no closure per call)
-- until it succeeds, fails for good, or the policy is exhausted.  attempt
-- returns a value, or nil, err.  Returns the value, or nil, err
-- (err.attempts says how many were made).
function retry.run(policy, clock, attempt, a, b, c, d)
  local started = clock.now()
  local failures = 0
  local remaining = policy.deadline -- the first attempt starts now
  while true do
    local value, err = attempt(remaining, failures + 1, a, b, c, d)
    if value ~= nil then return value end
    failures = failures + 1
    err.attempts = failures
    if not err.retryable or failures > policy.retries then
      return nil, err
    end
    local wait = retry.delay(policy, failures, err)
    remaining = policy.deadline - (clock.now() - started)
    if wait >= remaining then
      -- waiting would overrun the deadline: report the real failure now
      return nil, err
    end
    clock.sleep(wait)
    remaining = policy.deadline - (clock.now() - started)
  end
end

return retry
