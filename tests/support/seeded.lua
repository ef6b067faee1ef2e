-- Seeded pseudo-random data for the specs: the same seed gives the same
-- numbers and bytes on every Lua (5.1-5.4, LuaJIT), so a failure's seed,
-- printed in its message, replays it.
local seeded = {}

--- A generator of numbers from seed (Park-Miller, exact in doubles):
-- gen() a float in (0, 1), gen(lo, hi) a whole number in [lo, hi].
function seeded.numbers(seed)
  local x = (seed * 48271 + 11) % 2147483646 + 1
  for _ = 1, 8 do x = x * 16807 % 2147483647 end -- near seeds, far apart numbers
  return function(lo, hi)
    x = x * 16807 % 2147483647
    if not lo then return x / 2147483647 end
    return lo + x % (hi - lo + 1)
  end
end

--- n bytes from seed, as a string.
function seeded.bytes(n, seed)
  local gen, t = seeded.numbers(seed), {}
  for i = 1, n do t[i] = string.char(gen(0, 255)) end
  return table.concat(t)
end

return seeded
