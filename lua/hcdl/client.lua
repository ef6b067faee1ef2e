--- hcdl.client: one method per link API, each build -> send -> parse with
-- the retry policy around it.
--
-- build and parse are pure C (hcdl.core); sending goes through the client's
-- transport (hcdl.transport).  Secrets live in a private table keyed by the
-- client, so printing or serialising a client shows none of them.
local core = require "hcdl.core"
local retry = require "hcdl.retry"
local transport_mod = require "hcdl.transport"

local client = {}

local Client = {}
Client.__index = Client

local private = setmetatable({}, { __mode = "k" })

-- The official operation names (snake_case) of the APIs hcdl.core knows.
client.METHODS = {
  "list_audit_log_download_link",   -- TaurusDB full-SQL files
  "show_backup_download_link",      -- RDS backup files
  "list_backup_file_links",         -- DCS backup files
  "create_redislog_download_link",  -- DCS run-log file
  "download_errorlog",              -- RDS for PostgreSQL error logs
  "create_redislog",                -- DCS: collect run logs (companion)
  "list_redislog",                  -- DCS: list run logs (companion)
}

--- Replaces every secret the client holds by "<redacted>" in err.message:
-- a gateway may echo the canonical request, which includes a security
-- token, and a proxy may echo a header.
local function scrub(p, err)
  if type(err) == "table" and type(err.message) == "string" then
    local msg = err.message
    for _, secret in ipairs(p.secrets) do
      local i, j = msg:find(secret, 1, true)
      while i do
        msg = msg:sub(1, i - 1) .. "<redacted>" .. msg:sub(j + 1)
        i, j = msg:find(secret, i + 10, true)
      end
    end
    err.message = msg
  end
  return err
end

function client.new(cfg)
  local self = setmetatable({}, Client)
  local secrets = {}
  for _, s in ipairs{ cfg.sk, cfg.security_token, cfg.token, cfg.iam and cfg.iam.password } do
    if s and #s >= 4 then secrets[#secrets + 1] = s end
  end
  private[self] = {
    cfg = cfg,
    auth = {
      endpoints = cfg.endpoints, project_id = cfg.project_id,
      ak = cfg.ak, sk = cfg.sk, security_token = cfg.security_token,
      token = cfg.token, language = cfg.language,
    },
    policy = {
      retries = cfg.retries, deadline = cfg.retry_deadline,
      base = cfg.retry_base, cap = cfg.retry_cap,
    },
    secrets = secrets,
    transport = cfg.transport, -- created lazily when not given
  }
  self.project_id = cfg.project_id
  self.region = cfg.region
  self.endpoints = cfg.endpoints
  return self
end

--- The transport this client sends with (created on first use).
function Client:transport()
  local p = private[self]
  if not p.transport then
    local t, err = transport_mod.curl{
      timeout = p.cfg.timeout, connect_timeout = p.cfg.connect_timeout,
      cafile = p.cfg.cafile, verify_tls = p.cfg.verify_tls, proxy = p.cfg.proxy,
      user_agent = p.cfg.user_agent, max_body = p.cfg.max_body,
      low_speed_limit = p.cfg.low_speed_limit, low_speed_time = p.cfg.low_speed_time,
    }
    if not t then return nil, err end
    p.transport = t
  end
  local t = p.transport
  -- the host may replace just the clock (ngx.sleep, vim timers)
  if p.cfg.sleep or p.cfg.now then
    return {
      send = t.send, close = t.close,
      sleep = p.cfg.sleep or t.sleep or core.sleep,
      now = p.cfg.now or t.now or core.now,
    }
  end
  if not t.sleep or not t.now then
    return { send = t.send, close = t.close, sleep = t.sleep or core.sleep, now = t.now or core.now }
  end
  return t
end

--- Makes sure p.auth.token holds a valid IAM token (iam config only).
local function ensure_token(p, t, force)
  if not p.cfg.iam then return true end
  local now = os.time()
  if not force and p.auth.token and p.token_expires and p.token_expires - now > require("hcdl.iam").REFRESH_MARGIN then
    return true
  end
  local iam = require "hcdl.iam"
  local token, expires = retry.run(p.policy, t, function(remaining)
    local tok, exp_or_err = iam.fetch(t.send, p.cfg.endpoints.iam, p.cfg.iam, p.cfg.project_id,
      math.min(p.cfg.timeout, remaining))
    if not tok then return nil, exp_or_err end
    p.token_expires = exp_or_err
    return tok
  end)
  if not token then return nil, scrub(p, expires) end
  p.auth.token = token
  p.secrets[#p.secrets + 1] = token
  return true
end

--- Calls API `name` with `params`: the decoded answer, or nil, err.
function Client:call(name, params)
  if params ~= nil and type(params) ~= "table" then
    error(("hcdl: %s expects a table of parameters, got %s"):format(name, type(params)), 3)
  end
  local p = private[self]
  local t, terr = self:transport()
  if not t then return nil, terr end
  local timeout = p.cfg.timeout
  local ok, ierr = ensure_token(p, t)
  if not ok then return nil, ierr end
  local refreshed = false
  return retry.run(p.policy, t, function(remaining)
    if remaining <= 0 then
      return nil, core.error{ kind = "timeout", api = name, retryable = false,
        message = ("%s: retry deadline of %gs reached"):format(name, p.policy.deadline) }
    end
    -- built (and signed) again for every attempt: a fresh X-Sdk-Date
    local spec, err = core.build(name, params, p.auth)
    if not spec then return nil, err end
    local res, serr = t.send(spec, math.min(timeout, remaining))
    if not res then
      serr.api = serr.api or name
      return nil, scrub(p, serr)
    end
    local data, perr = core.parse(name, res)
    if data == nil then
      -- an IAM token revoked or expired early: fetch a new one, once
      if p.cfg.iam and perr.kind == "auth" and not refreshed then
        refreshed = true
        local tok_ok, terr = ensure_token(p, t, true)
        if not tok_ok then return nil, terr end
        perr.retryable = true
        perr.retry_after = 0
      end
      return nil, scrub(p, perr)
    end
    return data
  end)
end

for _, name in ipairs(client.METHODS) do
  Client[name] = function(self, params)
    if getmetatable(self) ~= Client then
      error(("hcdl: call client:%s{...} with a colon"):format(name), 2)
    end
    return self:call(name, params)
  end
end

--- Iterates over every TaurusDB full-SQL file in the time range, across
-- pages: `for file, err in client:audit_log_files{...} do` (on failure the
-- body sees file == false and err, then the loop ends).
function Client:audit_log_files(params)
  return require("hcdl.pages").audit_log_files(self, params)
end

--- Every full-SQL file in the time range as one list, or nil, err.
function Client:list_audit_log_files(params)
  return require("hcdl.pages").all_audit_log_files(self, params)
end

--- Polls download_errorlog until FINISH: the list of files, or nil, err.
function Client:wait_errorlog_links(params)
  local t, err = self:transport()
  if not t then return nil, err end
  return require("hcdl.poll").wait_errorlog_links(self, t, params)
end

--- Collects DCS run logs and returns a download link for each new one.
function Client:redislog_links(params)
  local t, err = self:transport()
  if not t then return nil, err end
  return require("hcdl.poll").redislog_links(self, t, params)
end

--- Releases the connection (the client can still be used: it reconnects).
function Client:close()
  local p = private[self]
  if p.transport and p.transport.close and not p.cfg.transport then
    p.transport.close()
    p.transport = nil
  end
end

function Client:__tostring()
  local p = private[self]
  return ("hcdl client (project %s, %s, credentials from %s)"):format(
    self.project_id, p.cfg.region or "explicit endpoints", p.cfg.credential_source or "config")
end

client.Client = Client
return client
