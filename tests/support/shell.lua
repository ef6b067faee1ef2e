-- Subprocesses for the specs that run hcdl as users do (the command,
-- make install, LuaRocks).  Every command runs in a shell without the
-- sanitizer runtime (`make asan` preloads it) and without the outer make's
-- variables (it passes BUILD= through MAKEFLAGS).
local shell = {}

--- s quoted for sh.
function shell.q(s)
  return "'" .. (tostring(s):gsub("'", "'\\''")) .. "'"
end

local helpers = require "tests.support.helpers"

local function clean(cmd)
  return helpers.CLEAN_ENV .. " sh -c " .. shell.q(cmd)
end

--- Runs cmd: true when it exits 0.
function shell.ok(cmd)
  local r = os.execute(clean(cmd))
  return r == true or r == 0
end

--- Runs cmd: its stdout.
function shell.capture(cmd)
  local p = assert(io.popen(clean(cmd)))
  local out = p:read("*a")
  p:close()
  return out
end

--- Runs cmd: true when it exits 0, and its stdout and stderr together.
function shell.run(cmd)
  local out = shell.capture("(" .. cmd .. ") 2>&1; echo \"exit=$?\"")
  local code = tonumber(out:match("exit=(%d+)%s*$"))
  return code == 0, (out:gsub("exit=%d+%s*$", ""))
end

--- The contents of a file, or nil.
function shell.read(path)
  local f = io.open(path, "rb")
  if not f then return nil end
  local s = f:read("*a")
  f:close()
  return s
end

--- Writes data to path (binary, replacing it); raises when it cannot.
function shell.write(path, data)
  local f = assert(io.open(path, "wb"))
  f:write(data)
  f:close()
end

--- Writes bytes over the file at path from offset at (0-based), in place.
function shell.patch(path, at, bytes)
  local f = assert(io.open(path, "r+b"))
  assert(f:seek("set", at))
  f:write(bytes)
  f:close()
end

--- A new temporary directory.
function shell.mktemp_dir()
  return (shell.capture("mktemp -d"):gsub("%s+$", ""))
end

--- A fresh temporary path that does not exist yet (for code that must
-- make the directory itself).
function shell.fresh_path()
  local path = os.tmpname()
  os.remove(path)
  return path
end

--- Removes path and all below it; nothing when path is nil.
function shell.remove(path)
  if path then shell.ok("rm -rf " .. shell.q(path)) end
end

--- A new empty temporary directory in place of old (removed, if any):
-- the per-case directory of a before_each.
function shell.renew_dir(old)
  shell.remove(old)
  return shell.mktemp_dir()
end

return shell
