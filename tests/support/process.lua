-- Helper processes of the specs (the emulator, the hostile server, nginx,
-- the proxy): starting one that reports where it listens, waiting for it,
-- a free port, and stopping it by its pid.
local core = require "hcdl.core"
local helpers = require "tests.support.helpers"
local shell = require "tests.support.shell"

local process = {}

--- Calls probe every step seconds until it returns a true value or
-- seconds have passed: that value, or nil.
function process.wait_for(probe, seconds, step)
  local deadline = core.now() + seconds
  repeat
    local v = probe()
    if v then return v end
    core.sleep(step or 0.05)
  until core.now() > deadline
  return nil
end

-- os.execute returns true (5.2+) or 0 (5.1/LuaJIT) on success.
local function succeeded(r) return r == true or r == 0 end

--- Whether process pid still runs.
function process.alive(pid)
  return succeeded(os.execute(("kill -0 %d 2>/dev/null"):format(pid)))
end

--- Sends pid SIGTERM and waits up to seconds (default 10) for it to end.
function process.stop(pid, seconds)
  os.execute(("kill %d 2>/dev/null"):format(pid))
  process.wait_for(function() return not process.alive(pid) end, seconds or 10)
end

--- A TCP port on 127.0.0.1 nobody listens on right now.
function process.free_port()
  local p = assert(io.popen(helpers.PY
    .. [[ -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])']]))
  local port = tonumber(p:read("*a"))
  p:close()
  return assert(port, "no free port")
end

--- Starts `python script --port 0 --config-out FILE args` in the
-- background and waits until it has written FILE (the JSON of where it
-- listens, its pid, its seed data): that text and the files to remove
-- afterwards { json, log, base }. Raises with the server's log when it does
-- not start in `seconds`: a broken fixture is a broken test.
function process.start_reporting(script, args, what, seconds)
  local base = os.tmpname()
  local files = { json = base .. ".json", log = base .. ".log", base = base }
  os.execute(("%s %s/%s --port 0 --config-out %s %s >%s 2>&1 &")
    :format(helpers.PY, helpers.root, script, files.json, args or "", files.log))
  local text = process.wait_for(function() return shell.read(files.json) end, seconds)
  if not text then error(("the %s did not start: %s"):format(what, shell.read(files.log) or "(no log)")) end
  return text, files
end

-- Another interpreter of the suite's Lua keeps this process's environment
-- (the sanitizer preload of `make asan` included): it loads hcdl.core.

--- Starts the shell command cmd in the background (its own redirections
-- say where its output goes; none: nowhere): its pid.
function process.spawn(cmd)
  if not cmd:find(">", 1, true) then cmd = cmd .. " >/dev/null 2>&1" end
  local p = assert(io.popen(cmd .. " & echo $!"))
  local pid = tonumber(p:read("*a"))
  p:close()
  return assert(pid, "no pid")
end

--- Starts `lua script args...` in the background, its output thrown
-- away: its pid.
function process.start_lua(script, ...)
  local words = { helpers.LUA, script, ... }
  return process.spawn(table.concat(words, " ") .. " >/dev/null 2>&1")
end

--- Runs Lua code in another interpreter: a pipe from its stdout (close
-- it to wait for the end).
function process.lua_pipe(code)
  return assert(io.popen(helpers.LUA .. " -e " .. ("%q"):format(code)))
end

--- Runs cmd in a shell that keeps this process's environment: whether it
-- exited 0, its stdout and stderr together, and its exit status.
function process.run(cmd)
  local p = assert(io.popen("(" .. cmd .. ") 2>&1; echo \"exit=$?\""))
  local out = p:read("*a")
  p:close()
  local code = tonumber(out:match("exit=(%d+)%s*$"))
  return code == 0, (out:gsub("exit=%d+%s*$", "")), code
end

--- Runs cmd in a shell that keeps this process's environment: its stdout.
function process.capture(cmd)
  local p = assert(io.popen(cmd))
  local out = p:read("*a")
  p:close()
  return out
end

--- Removes the files start_reporting made.
function process.remove_files(files)
  for _, path in pairs(files) do os.remove(path) end
end

return process
