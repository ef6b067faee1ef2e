-- Starts tests/support/proxy.py (a forward proxy: plain requests and
-- CONNECT) on a free port:
--   local p = proxy.start()               -- or proxy.start("user:password")
--   p.url, p.port, p.lines(), p.stop()
local helpers = require "tests.support.helpers"
local process = require "tests.support.process"
local shell = require "tests.support.shell"

local proxy = {}

function proxy.start(credentials)
  local base = os.tmpname()
  os.execute((helpers.PY .. " %s/tests/support/proxy.py %s.port %s.log %s >/dev/null 2>&1 & echo $! > %s.pid")
    :format(helpers.root, base, base, credentials and ("'" .. credentials .. "'") or "", base))
  local port = process.wait_for(function() return (shell.read(base .. ".port") or ""):match("%d+") end, 10)
  assert(port, "the test proxy did not start")
  local pid = helpers.read_file(base .. ".pid"):match("%d+")
  return {
    port = tonumber(port),
    url = "http://127.0.0.1:" .. port,
    lines = function()
      local f = io.open(base .. ".log")
      if not f then return {} end
      local out = {}
      for l in f:lines() do out[#out + 1] = l end
      f:close()
      return out
    end,
    clear = function() os.remove(base .. ".log") end,
    stop = function()
      process.stop(tonumber(pid))
      for _, ext in ipairs{ ".port", ".log", ".pid", "" } do os.remove(base .. ext) end
    end,
  }
end

return proxy
