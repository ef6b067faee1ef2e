--- hcdl.credentials.temporary: reading temporary keys (AK, SK, security
-- token, expiry) out of an answer of the ECS metadata service, the CCE
-- pod-identity endpoint or IAM.
--
-- The SDK core accepts each field under two names (auth/internal.py
-- StsAccessor._process_credential): the object under `credential` or
-- `credentials`; access/accessKeyId, secret/secretAccessKey,
-- securitytoken/securityToken, expires_at/expiration.  The expiry is UTC,
-- "%Y-%m-%dT%H:%M:%S.%fZ".
local configfile = require "hcdl.configfile"
local core = require "hcdl.core"
local cjson = require "hcdl.json"
local timefmt = require "hcdl.timefmt"

local temporary = {}

local function pick(t, a, b)
  local v = t[a]
  if v == nil or v == cjson.null or v == "" then v = t[b] end
  if v == cjson.null or v == "" then return nil end
  return v
end

--- creds { ak, sk, security_token, expires_at (epoch seconds) } from a
-- JSON body, or nil, err (kind "auth": the source gave no usable keys).
-- `what` names the source in messages.
function temporary.parse(body, what)
  local function fail(why)
    return nil, core.error{ kind = "auth", message = ("%s: %s"):format(what, why) }
  end
  local doc = type(body) == "table" and body or cjson.decode(body or "")
  if type(doc) ~= "table" then return fail("the answer is not JSON") end
  local c = doc.credential
  if type(c) ~= "table" then c = doc.credentials end
  if type(c) ~= "table" then c = doc end
  local ak = pick(c, "access", "accessKeyId")
  local sk = pick(c, "secret", "secretAccessKey")
  local token = pick(c, "securitytoken", "securityToken")
  local expiry = pick(c, "expires_at", "expiration")
  if type(ak) ~= "string" or type(sk) ~= "string" then
    return fail("the answer has no access key and secret")
  end
  if type(token) ~= "string" then return fail("the answer has no security token") end
  local expires_at = timefmt.parse_utc(expiry)
  if not expires_at then
    return fail(("the answer's expiry %s is not a UTC time"):format(tostring(expiry)))
  end
  return { ak = ak, sk = sk, security_token = token, expires_at = expires_at }
end

--- The contents of a file (a token), trimmed; nil, err when missing or empty.
function temporary.read_token_file(path, what)
  local s, too_big = configfile.read(path, "token")
  if too_big then
    return nil, core.error{ kind = "input", path = path, field = "id_token_file",
      message = ("%s: the token file %s is %s"):format(what, path, too_big) }
  end
  if not s then
    return nil, core.error{ kind = "auth", path = path,
      message = ("%s: the token file %s cannot be read"):format(what, path) }
  end
  s = s:gsub("^%s+", ""):gsub("%s+$", "")
  if s == "" then
    return nil, core.error{ kind = "auth", path = path,
      message = ("%s: the token file %s is empty"):format(what, path) }
  end
  return s
end

--- An hcdl error for an HTTP answer that refused to give keys; the body
-- is quoted only in part (it is a service's message, not a secret).
function temporary.refused(res, what)
  local text = (res.body or ""):gsub("%s+", " ")
  if #text > 200 then text = text:sub(1, 200) .. "..." end
  local kind, retryable = core.classify_status(res.status) -- the one rule: src/status.c
  return core.error{ kind = kind, status = res.status,
    retryable = retryable,
    request_id = res.headers and (res.headers["x-request-id"] or res.headers["x-iam-trace-id"]),
    message = ("%s: HTTP %d%s"):format(what, res.status, text ~= "" and (": " .. text) or "") }
end

return temporary
