--- hcdl.credentials.pod: temporary keys of a CCE pod's identity.
--
-- The SDK core (auth/internal.py PodIdentityAccessor, since 3.1.190;
-- docs/credentials.md "Providers"): POST $HC_CONTAINER_CREDENTIALS_FULL_URI with
-- `Authorization: <contents of $HC_CONTAINER_AUTHORIZATION_TOKEN_FILE>`
-- and the JSON body {}, 5 s to answer.  The token file is read at every
-- refresh: the kubelet rotates it.  The answer's field names vary
-- (hcdl.credentials.temporary).
local temporary = require "hcdl.credentials.temporary"

-- A provider of the chain (the interface: hcdl.credentials.chain).
local pod = { name = "CCE pod identity", network = true }

pod.TIMEOUT = 5
pod.URI_VAR = "HC_CONTAINER_CREDENTIALS_FULL_URI"
pod.TOKEN_VAR = "HC_CONTAINER_AUTHORIZATION_TOKEN_FILE"

--- Whether both variables are set to something usable (no I/O).
function pod.available(ctx)
  local uri, file = ctx.getenv(pod.URI_VAR), ctx.getenv(pod.TOKEN_VAR)
  if not uri or uri == "" or not file or file == "" then
    return nil, ("%s and %s are not both set"):format(pod.URI_VAR, pod.TOKEN_VAR)
  end
  if not uri:match("^https?://[^/?#%s]+") then
    return nil, ("%s is not an http(s) URL"):format(pod.URI_VAR)
  end
  return true
end

--- The pod's keys { ak, sk, security_token, expires_at }, or nil, err.
function pod.get(ctx, net)
  if not pod.available(ctx) then return nil end
  local uri, file = ctx.getenv(pod.URI_VAR), ctx.getenv(pod.TOKEN_VAR)
  local what = "CCE pod identity (" .. uri .. ")"
  local token, terr = temporary.read_token_file(file, what)
  if not token then return nil, terr end
  net.secret(token)
  local res, err = net.send({ method = "POST", url = uri, body = "{}",
    headers = { Authorization = token, ["Content-Type"] = "application/json" } }, pod.TIMEOUT, "pod_identity")
  if not res then
    err.message = what .. ": " .. tostring(err.message)
    return nil, err
  end
  if res.status >= 400 then return nil, temporary.refused(res, what) end
  return temporary.parse(res.body, what)
end

return pod
