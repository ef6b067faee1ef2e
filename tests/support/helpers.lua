-- Shared test helpers: paths and small utilities every spec uses.
local helpers = {}

-- The repository root (tests run from anywhere).
helpers.root = (debug.getinfo(1, "S").source:sub(2):gsub("/tests/support/helpers%.lua$", ""))
if helpers.root == "" then helpers.root = "." end

-- The project's external reference folder, beside the checkout when
-- present (HCDL_SPEC_DIR to point elsewhere): tests/sign_spec.lua checks
-- that tests/data/signing-vectors.json is still a copy of its vectors.
helpers.spec_dir = os.getenv("HCDL_SPEC_DIR") or (helpers.root .. "/../shared/spec")

-- Helper processes (the emulator, the proxy, content.py) are not what the
-- sanitizer run checks: start them without the preloaded sanitizer runtime.
-- Debian's interpreter when there is one: scripts/install-deps puts the
-- emulator's packages there, and a version manager's shim first on PATH
-- (pyenv's, on the CI machines) costs about 0.35 s per start, and the
-- specs start Python a few hundred times.
local function python()
  local f = io.open("/usr/bin/python3", "rb")
  if f then f:close() return "/usr/bin/python3" end
  return "python3"
end
helpers.PY = "env -u LD_PRELOAD " .. python()

-- The interpreter the suite runs on (make test sets HCDL_LUA), for the
-- specs' second processes.
helpers.LUA = os.getenv("HCDL_LUA") or "lua5.4"

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

-- The non-empty lines of s (nil: none).
function helpers.lines(s)
  local out = {}
  for l in (s or ""):gmatch("[^\n]+") do out[#out + 1] = l end
  return out
end

-- Lua 5.1/LuaJIT have no string.format("%q") guarantees for bytes; this is
-- enough for messages.
function helpers.hex(s)
  return (s:gsub(".", function(c) return string.format("%02X", c:byte()) end))
end

--- The MD5s (hex) of the bytes the emulator serves for each { name, size }
-- (tests/emulator/content.py, the store's own formula), in order: one
-- Python start for the lot.
function helpers.expected_md5s(files)
  local q = require("tests.support.shell").q -- shell requires helpers: not at load
  local args = {}
  for _, f in ipairs(files) do args[#args + 1] = q(f[1]) .. " " .. math.floor(f[2]) end
  local p = assert(io.popen(("%s %s/tests/emulator/content.py --md5 %s")
    :format(helpers.PY, helpers.root, table.concat(args, " "))))
  local out = {}
  for line in p:lines() do out[#out + 1] = line:match("^(%x+)$") end
  p:close()
  assert(#out == #files, "content.py --md5 answered " .. #out .. " of " .. #files)
  return out
end

-- The bytes the emulator serves for name at size.
function helpers.expected_content(name, size)
  local q = require("tests.support.shell").q
  local p = assert(io.popen(("%s %s/tests/emulator/content.py %s %d"):format(helpers.PY, helpers.root, q(name), size)))
  local out = p:read("*a")
  p:close()
  return out
end

-- The MD5 of what the emulator serves for name at size.
function helpers.expected_md5(name, size)
  return helpers.expected_md5s({ { name, size } })[1]
end

return helpers
