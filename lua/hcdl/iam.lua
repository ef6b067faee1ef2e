--- hcdl.iam: a project-scoped IAM user token from a password, cached until
-- shortly before it expires.
--
-- POST {iam}/v3/auth/tokens?nocatalog=true (password method, project scope)
-- answers 201 with the token in X-Subject-Token and token.expires_at in the
-- body; tokens live 24 h.  (api-facts.md section B.)  The password is
-- never put into an error or a log.
local core = require "hcdl.core"
local cjson = require "hcdl.json"

local iam = {}

-- Refresh this long before expiry: a token can also be revoked early, and
-- a call that starts with a nearly expired token may be refused midway.
iam.REFRESH_MARGIN = 600

--- Seconds since the epoch from "2015-11-09T01:42:57.527363Z" (UTC), or nil.
iam.parse_expiry = require("hcdl.timefmt").parse_utc

--- Validates cfg.iam = { user =, password =, domain = }: nil or err.
function iam.validate(v)
  for _, k in ipairs{ "user", "password", "domain" } do
    if type(v[k]) ~= "string" or v[k] == "" then
      return core.error{ kind = "input", field = "iam." .. k,
        message = ("iam.%s: required, a non-empty string (IAM user name, password and account name)"):format(k) }
    end
  end
  for k in pairs(v) do
    if k ~= "user" and k ~= "password" and k ~= "domain" and k ~= "project_name" then
      return core.error{ kind = "input", field = "iam." .. tostring(k),
        message = ("iam.%s: unknown option (known: user, password, domain, project_name)"):format(tostring(k)) }
    end
  end
end

--- Asks IAM for a token.  Returns token, expires_at (epoch seconds), or nil, err.
function iam.fetch(send, endpoint, creds, project_id, timeout)
  local body = cjson.encode{ auth = {
    identity = { methods = { "password" }, password = { user = {
      name = creds.user, password = creds.password, domain = { name = creds.domain } } } },
    scope = { project = project_id and { id = project_id } or { name = creds.project_name } },
  } }
  local res, err = send({
    method = "POST", url = endpoint .. "/v3/auth/tokens?nocatalog=true",
    headers = { ["Content-Type"] = "application/json;charset=utf8" }, body = body,
  }, timeout)
  if not res then
    err.message = (err.message or ""):gsub(creds.password:gsub("%p", "%%%0"), "<redacted>")
    return nil, err
  end
  local request_id = res.headers["x-iam-trace-id"] or res.headers["x-request-id"]
  if res.status ~= 201 and res.status ~= 200 then
    local decoded = cjson.decode(res.body or "")
    local e = type(decoded) == "table" and type(decoded.error) == "table" and decoded.error or {}
    local msg = type(e.message) == "string" and e.message or ("HTTP " .. res.status)
    return nil, core.error{ kind = (res.status == 401 or res.status == 403) and "auth" or "api",
      status = res.status, request_id = request_id,
      code = type(e.code) == "number" and ("%d"):format(e.code) or (e.code and tostring(e.code)) or nil,
      retryable = res.status == 429 or res.status >= 500, api = "iam_tokens",
      message = "IAM token request refused: " .. msg }
  end
  local token = res.headers["x-subject-token"]
  local decoded = cjson.decode(res.body or "")
  local expires = type(decoded) == "table" and type(decoded.token) == "table"
    and iam.parse_expiry(decoded.token.expires_at)
  if not token or token == "" then
    return nil, core.error{ kind = "http", status = res.status, api = "iam_tokens",
      message = "IAM answered without an X-Subject-Token header" }
  end
  return token, expires or (os.time() + 23 * 3600)
end

return iam
