--- hcdl.credentials.federation: temporary keys for an OIDC identity (for
-- example a Kubernetes service-account token) through IAM federation.
--
-- Given an identity provider id and a file holding the id token (read
-- again at every refresh: it is rotated), IAM exchanges the id token for
-- an unscoped token and that for keys valid 6 h (hcdl.iam.federated_keys;
-- the SDK core's FederalAccessor).  The SDKs take it from
-- HUAWEICLOUD_SDK_IDP_ID + HUAWEICLOUD_SDK_ID_TOKEN_FILE, or idp_id +
-- id_token_file in the profile; hcdl also from the config.  Where both an
-- identity provider and AK/SK are given in one place, federation wins, as
-- in the SDKs.
local iam = require "hcdl.iam"
local temporary = require "hcdl.credentials.temporary"

local federation = {}

--- A source for the chain.  origin names where the settings came from.
function federation.source(idp_id, id_token_file, origin)
  local what = "OIDC federation (" .. origin .. ")"
  local function fetch(net)
    local id_token, err = temporary.read_token_file(id_token_file, what)
    if not id_token then return nil, err end
    net.secret(id_token)
    return iam.federated_keys(net, idp_id, id_token, net.timeout)
  end
  return { name = what, what = what, margin = 40 * 60, fetch = fetch, key = idp_id }
end

return federation
