-- Clients built with an injected environment instead of the process's
-- (hcdl.new reads the real one): the credential chain, the regions and the
-- project lookup see only `vars` and `home`.
local config = require "hcdl.config"
local client_mod = require "hcdl.client"
local shell = require "tests.support.shell"

local clients = {}

--- The environment hcdl.config.resolve reads: variables vars, home
-- directory home (default one that does not exist).
function clients.env(vars, home)
  return { getenv = function(k) return vars[k] end, home = home or "/nonexistent" }
end

--- A client for cfg resolved in that environment, or nil and the error.
function clients.new(cfg, vars, home)
  local resolved, err = config.resolve(cfg, clients.env(vars or {}, home))
  if not resolved then return nil, err end
  return client_mod.new(resolved)
end

--- A new temporary home directory with an empty .huaweicloud folder, where
-- the SDKs' profile files live (remove it with shell.remove).
function clients.home()
  local home = shell.mktemp_dir()
  assert(shell.ok("mkdir -p " .. shell.q(home .. "/.huaweicloud")))
  return home
end

return clients
