-- The installed `hcdl` command for specs that run it as a user does: `make
-- install` into a private prefix, then the command as a subprocess from
-- another directory with a clean environment (credentials and endpoints in
-- the HUAWEICLOUD_SDK_* variables, each service on its own host name),
-- against the emulator (or any server described the same way: ak, sk,
-- project_id, endpoint and optionally endpoints per service).
local helpers = require "tests.support.helpers"
local shell = require "tests.support.shell"

local q = shell.q

local command = {}
command.__index = command

--- Installs hcdl into work/prefix: a command runner for emulator emu.
-- opts.region: the --region every command line starts with (default
-- cn-north-4; false: none, the spec gives it or tests its absence).
function command.install(emu, work, opts)
  local region = (opts or {}).region
  if region == nil then region = "cn-north-4" end
  local self = setmetatable({ emu = emu, work = work, prefix = work .. "/prefix", region = region }, command)
  assert(shell.ok("mkdir -p " .. q(work .. "/home")))
  local log = work .. "/install.log"
  assert(shell.ok(("make -C %s --no-print-directory -s install LUA=%s PREFIX=%s >%s 2>&1"):format(
    q(helpers.root), helpers.LUA, q(self.prefix), q(log))), shell.read(log))
  self.bin = self.prefix .. "/bin/hcdl"
  return self
end

--- The `env -i ...` prefix of a command line; over: variables to set
-- (false: unset).
function command:environment(over)
  local emu = self.emu
  local vars = {
    PATH = "/usr/bin:/bin", HOME = self.work .. "/home", LANG = "C.UTF-8",
    HUAWEICLOUD_SDK_AK = emu.ak, HUAWEICLOUD_SDK_SK = emu.sk, HUAWEICLOUD_SDK_PROJECT_ID = emu.project_id,
  }
  for _, s in ipairs{ "gaussdb", "rds", "dcs", "iam" } do
    vars["HUAWEICLOUD_SDK_REGION_" .. s:upper() .. "_CN_NORTH_4"] = emu.endpoints and emu.endpoints[s] or emu.endpoint
  end
  for k, v in pairs(over or {}) do vars[k] = v or nil end
  local parts = { "env -i" }
  for k, v in pairs(vars) do if v then parts[#parts + 1] = k .. "=" .. q(v) end end
  return table.concat(parts, " ")
end

--- The shell command line of `hcdl --region REGION argv...`.
function command:line(argv, env)
  local words = { q(self.bin) }
  if self.region then words[2] = "--region " .. q(self.region) end
  for _, a in ipairs(argv) do words[#words + 1] = q(a) end
  return ("cd %s && %s %s"):format(q(self.work), self:environment(env), table.concat(words, " "))
end

--- Runs the command: exit status, stdout, stderr.
function command:run(argv, env)
  local o, e = self.work .. "/stdout", self.work .. "/stderr"
  local status = shell.capture(("(%s) >%s 2>%s </dev/null; echo $?"):format(self:line(argv, env), q(o), q(e)))
  return tonumber(status:match("(%d+)")), shell.read(o) or "", shell.read(e) or ""
end

--- Starts the command in the background: a handle with :pid(), :done()
-- (nil while running, else the exit status), :stdout(), :stderr().
function command:start(argv, tag, env)
  local base = self.work .. "/bg-" .. tag
  os.remove(base .. ".rc")
  assert(shell.ok(("(%s >%s.out 2>%s.err </dev/null & echo $! >%s.pid; wait $!; echo $? >%s.rc) &"):format(
    self:line(argv, env), q(base), q(base), q(base), q(base))))
  local h = {}
  function h.pid()
    local t = shell.read(base .. ".pid")
    return t and tonumber(t:match("%d+"))
  end
  function h.done()
    local t = shell.read(base .. ".rc")
    return t and tonumber(t:match("%d+"))
  end
  function h.stdout() return shell.read(base .. ".out") or "" end
  function h.stderr() return shell.read(base .. ".err") or "" end
  return h
end

return command
