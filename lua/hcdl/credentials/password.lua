--- hcdl.credentials.password: a project-scoped IAM user token from a
-- user name, password and account (the config's `iam`), sent as
-- X-Auth-Token instead of signing.  Tokens live 24 h; a new one is fetched
-- 10 minutes before expiry (hcdl.iam.REFRESH_MARGIN) and once more when a
-- service refuses the current one.  The token's project is the client's
-- project when none is configured.
local iam = require "hcdl.iam"

local password = {}

--- A source for the chain.  scope: { id = project_id } or { name = project name }.
function password.source(creds, scope)
  local function fetch(net)
    net.secret(creds.password)
    return iam.password_token(net, creds, scope, net.timeout)
  end
  return { name = "IAM password (config iam)", what = "IAM password", margin = iam.REFRESH_MARGIN,
    fetch = fetch, secrets = { creds.password } }
end

return password
