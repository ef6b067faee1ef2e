-- Shared test helpers: paths and small utilities every spec uses.
local helpers = {}

-- The repository root (tests run from anywhere).
helpers.root = (debug.getinfo(1, "S").source:sub(2):gsub("/tests/support/helpers%.lua$", ""))
if helpers.root == "" then helpers.root = "." end

-- The shared spec folder sits beside the checkout (../shared/spec).
helpers.spec_dir = os.getenv("HCDL_SPEC_DIR") or (helpers.root .. "/../shared/spec")

-- Helper processes (the emulator, the proxy, content.py) are not what the
-- sanitizer run checks: start them without the preloaded sanitizer runtime.
helpers.PY = "env -u LD_PRELOAD python3"

-- An environment free of the outer make: `make asan` and `make test-all`
-- pass BUILD=, flags and the sanitizer preload down, and make exports its
-- command-line variables into what it runs, so a `make install` or `make
-- nvim` from a spec would otherwise build (and install) the wrong module.
helpers.CLEAN_ENV = "env -u LD_PRELOAD -u MAKEFLAGS -u MAKELEVEL -u MFLAGS -u MAKEOVERRIDES -u BUILD "
  .. "-u EXTRA_CFLAGS -u EXTRA_LDFLAGS -u CFLAGS -u LDFLAGS"

function helpers.read_file(path)
  local f = assert(io.open(path, "rb"))
  local data = f:read("*a")
  f:close()
  return data
end

-- Lua 5.1/LuaJIT have no string.format("%q") guarantees for bytes; this is
-- enough for messages.
function helpers.hex(s)
  return (s:gsub(".", function(c) return string.format("%02X", c:byte()) end))
end

--- The MD5 (hex) of the bytes the emulator serves for an object of that
-- name and size (tests/emulator/content.py, the store's own formula).
function helpers.expected_md5(name, size)
  local p = assert(io.popen((helpers.PY .. " %s/tests/emulator/content.py '%s' %d | md5sum")
    :format(helpers.root, (tostring(name):gsub("'", "'\\''")), size)))
  local out = p:read("*a")
  p:close()
  return out:match("^(%x+)")
end

return helpers
