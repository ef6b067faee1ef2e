--- hcdl.iam: the IAM calls hcdl needs besides the link APIs.
--
--   * a project-scoped user token from a password
--     (POST /v3/auth/tokens?nocatalog=true, 201, X-Subject-Token; 24 h);
--   * the project id of a region (signed GET /v3/projects?name=<region>),
--     cached for the process per (key, region, IAM endpoint);
--   * OIDC federation: an id token -> an unscoped token
--     (POST /v3.0/OS-AUTH/id-token/tokens, X-Idp-Id, X-Subject-Token) ->
--     temporary keys (POST /v3.0/OS-CREDENTIAL/securitytokens).
-- Facts and sources: docs/credentials.md "Providers" and
-- docs/credentials.md "Project id" (SDK core auth/credentials.py,
-- auth/internal.py IamHelper).
--
-- Every function sends through `net.iam(build, timeout, api)`, where
-- build(iam_endpoint) returns the request: the client's transport with
-- endpoint fail-over (hcdl.auth); tokens it receives are given to
-- net.secret so that they are scrubbed wherever they might be echoed.
local core = require "hcdl.core"
local cjson = require "hcdl.json"
local temporary = require "hcdl.credentials.temporary"

local iam = {}

-- Refresh a password token this long before expiry: a token can also be
-- revoked early, and a call that starts with a nearly expired token may be
-- refused midway.
iam.REFRESH_MARGIN = 600

-- Federation asks for keys valid this long (the SDK's FederalAccessor).
iam.FEDERATION_DURATION = 6 * 3600

--- Seconds since the epoch from "2015-11-09T01:42:57.527363Z" (UTC), or nil.
iam.parse_expiry = require("hcdl.timefmt").parse_utc

--- Validates cfg.iam = { user =, password =, domain = [, project_name =] }: nil or err.
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

local function trace_id(res)
  return res.headers["x-iam-trace-id"] or res.headers["x-request-id"]
end

--- An hcdl error for a refused IAM call: IAM's {"error": {code, message}}
-- or the gateway's {"error_code", "error_msg"}.
function iam.refused(res, api, what)
  local decoded = cjson.decode(res.body or "")
  local msg, code
  if type(decoded) == "table" then
    local e = type(decoded.error) == "table" and decoded.error or decoded
    msg = e.message or e.error_msg
    code = e.error_code or e.code
  end
  if type(msg) ~= "string" then msg = "HTTP " .. res.status end
  -- a code is the service's text: 401 -> "401", 401.5 -> "401.5" (never
  -- a raise: "%d" refuses a float), anything else is no code
  if type(code) == "number" then
    code = (code == math.floor(code) and math.abs(code) < 2 ^ 53) and ("%.0f"):format(code) or tostring(code)
  elseif type(code) ~= "string" then
    code = nil
  end
  -- the one rule (src/status.c); IAM's refusals of the request itself are "api"
  local kind, retryable = core.classify_status(res.status, code)
  return core.error{ kind = kind == "http" and "api" or kind,
    status = res.status, request_id = trace_id(res), code = code,
    retryable = retryable, api = api,
    message = what .. ": " .. msg }
end

local function authority(endpoint)
  return endpoint:match("^https?://([^/]+)")
end

--- A password token: { token, expires_at, project_id } or nil, err.
-- scope: { id = project_id } or { name = project name (the region) }.
function iam.password_token(net, creds, scope, timeout)
  local body = cjson.encode{ auth = {
    identity = { methods = { "password" }, password = { user = {
      name = creds.user, password = creds.password, domain = { name = creds.domain } } } },
    scope = { project = scope },
  } }
  local res, err = net.iam(function(endpoint)
    return { method = "POST", url = endpoint .. "/v3/auth/tokens?nocatalog=true",
      headers = { ["Content-Type"] = "application/json;charset=utf8" }, body = body }
  end, timeout, "iam_tokens")
  if not res then return nil, err end
  if res.status ~= 201 and res.status ~= 200 then
    return nil, iam.refused(res, "iam_tokens", "IAM token request refused")
  end
  local token = res.headers["x-subject-token"]
  if not token or token == "" then
    return nil, core.error{ kind = "http", status = res.status, api = "iam_tokens",
      message = "IAM answered without an X-Subject-Token header" }
  end
  net.secret(token)
  local decoded = cjson.decode(res.body or "")
  local t = type(decoded) == "table" and type(decoded.token) == "table" and decoded.token or {}
  local project = type(t.project) == "table" and t.project.id or nil
  return { token = token, expires_at = iam.parse_expiry(t.expires_at) or (os.time() + 23 * 3600),
    project_id = type(project) == "string" and project or nil }
end

-- How many ids an error about several matching projects lists.
local SHOWN_PROJECTS = 10

-- project ids found, for the process: "<key>\n<region>" -> id (the SDK's
-- cache: one lookup per key and region, whichever client asks)
local project_cache = {}

--- The id of the project named `region`, found with signed keys creds
-- { ak, sk, security_token }.  key: the AK, or the federation's idp id
-- (the SDK's cache name).
function iam.project_id(net, creds, region, key, timeout)
  local ck = ("%s\n%s"):format(key, region)
  if project_cache[ck] then return project_cache[ck] end
  local res, err = net.iam(function(endpoint)
    local headers = {}
    if creds.security_token then headers["X-Security-Token"] = creds.security_token end
    local s, serr = core.sign{ method = "GET", host = authority(endpoint), path = "/v3/projects",
      query = { { "name", region } }, headers = headers, body = "", ak = creds.ak, sk = creds.sk }
    if not s then return nil, serr end
    return { method = "GET", url = endpoint .. s.path .. "?" .. s.query_string, headers = s.headers }
  end, timeout, "iam_projects")
  if not res then return nil, err end
  if res.status ~= 200 then
    local e = iam.refused(res, "iam_projects", ("Failed to get project id of region '%s'"):format(region))
    e.field = "project_id"
    return nil, e
  end
  local id = trace_id(res)
  local decoded = cjson.decode(res.body or "")
  local projects = type(decoded) == "table" and type(decoded.projects) == "table" and decoded.projects or {}
  local function fail(msg)
    return nil, core.error{ kind = "api", field = "project_id", api = "iam_projects", status = res.status,
      request_id = id, message = msg }
  end
  if #projects == 0 then
    return fail(("Failed to get project id of region '%s', X-IAM-Trace-Id=%s. Confirm that the project "
      .. "exists in your account, or set project_id in the config"):format(region, tostring(id)))
  end
  if #projects > 1 then
    -- a few ids, and how many more: IAM may list thousands
    local ids = {}
    for i = 1, math.min(#projects, SHOWN_PROJECTS) do
      local p = projects[i]
      ids[i] = tostring(type(p) == "table" and p.id)
    end
    local more = #projects > SHOWN_PROJECTS and (", and %d more"):format(#projects - SHOWN_PROJECTS) or ""
    return fail(("Multiple project ids found: [%s%s], X-IAM-Trace-Id=%s. Please select one: project_id in "
      .. "the config"):format(table.concat(ids, ","), more, tostring(id)))
  end
  local pid = type(projects[1]) == "table" and projects[1].id
  if type(pid) ~= "string" or pid == "" then return fail("IAM listed a project without an id") end
  project_cache[ck] = pid
  return pid
end

--- OIDC federation: temporary keys { ak, sk, security_token, expires_at }
-- for the id token, or nil, err.
function iam.federated_keys(net, idp_id, id_token, timeout)
  local what = "OIDC federation (identity provider " .. idp_id .. ")"
  local res, err = net.iam(function(endpoint)
    return { method = "POST", url = endpoint .. "/v3.0/OS-AUTH/id-token/tokens",
      headers = { ["X-Idp-Id"] = idp_id, ["Content-Type"] = "application/json;charset=UTF-8" },
      body = cjson.encode{ auth = { id_token = { id = id_token } } } }
  end, timeout, "iam_id_token")
  if not res then return nil, err end
  if res.status >= 300 then return nil, iam.refused(res, "iam_id_token", what .. ": id token refused") end
  local token = res.headers["x-subject-token"]
  if not token or token == "" then
    return nil, core.error{ kind = "http", status = res.status, api = "iam_id_token",
      message = what .. ": IAM answered without an X-Subject-Token header" }
  end
  net.secret(token)
  res, err = net.iam(function(endpoint)
    return { method = "POST", url = endpoint .. "/v3.0/OS-CREDENTIAL/securitytokens",
      headers = { ["Content-Type"] = "application/json;charset=UTF-8" },
      body = cjson.encode{ auth = { identity = { methods = { "token" },
        token = { id = token, duration_seconds = iam.FEDERATION_DURATION } } } } }
  end, timeout, "iam_securitytokens")
  if not res then return nil, err end
  if res.status >= 300 then
    return nil, iam.refused(res, "iam_securitytokens", what .. ": temporary keys refused")
  end
  return temporary.parse(res.body, what)
end

return iam
