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

local function copy(t)
  local c = {}
  for k, v in pairs(t) do c[k] = v end
  return c
end

-- Where each entry came from (API and parameters), so an expired link can
-- be refreshed by asking again: hcdl.apis keeps it, per the descriptors.
local apis = require "hcdl.apis"
local remember = apis.remember

-- The official operation names (snake_case) of the APIs hcdl.core knows:
-- one method each (generated below from core.apis()).
client.METHODS = apis.names()

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
  }
  self.project_id = cfg.project_id
  self.region = cfg.region
  self.endpoints = cfg.endpoints
  return self
end

-- The host may replace just the clock (ngx.sleep, vim timers); a transport
-- without its own gets the blocking C one.
local function with_clock(t, cfg)
  if t.sleep and t.now and not cfg.sleep and not cfg.now then return t end
  return { name = t.name, send = t.send, close = t.close,
    sleep = cfg.sleep or t.sleep or core.sleep, now = cfg.now or t.now or core.now }
end

--- The transport this client sends with (created on first use: inside
-- OpenResty the worker-thread one, else blocking libcurl).
function Client:transport()
  local p = private[self]
  if not p.ready then
    local t, err = p.cfg.transport, nil
    if not t then
      local o = {
        timeout = p.cfg.timeout, connect_timeout = p.cfg.connect_timeout,
        cafile = p.cfg.cafile, verify_tls = p.cfg.verify_tls, proxy = p.cfg.proxy,
        user_agent = p.cfg.user_agent, max_body = p.cfg.max_body,
        low_speed_limit = p.cfg.low_speed_limit, low_speed_time = p.cfg.low_speed_time,
      }
      if transport_mod.in_ngx() then
        t, err = transport_mod.ngx(o, p.cfg.thread_pool)
      else
        t, err = transport_mod.curl(o)
      end
      if not t then return nil, err end
      p.owned = t -- ours to close
    end
    p.ready = with_clock(t, p.cfg)
  end
  return p.ready
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
    if data ~= nil then remember(name, params, data) end
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

local function method(name, fn)
  Client[name] = function(self, params)
    if getmetatable(self) ~= Client then
      error(("hcdl: call client:%s{...} with a colon"):format(name), 2)
    end
    return fn(self, params)
  end
end

-- One method per API, and for each paged list an iterator over every
-- entry (`for entry, err in client:backups{...} do`: on failure the body
-- sees entry == false and err, then the loop ends) and a collector (every
-- entry as one list, or nil, err); their names are in the descriptors.
local pages = require "hcdl.pages"
for _, name in ipairs(client.METHODS) do
  method(name, function(self, params) return self:call(name, params) end)
  local paging = apis.get(name).paging
  if paging then
    method(paging.iterator, function(self, params) return pages.iterate(self, name, params) end)
    method(paging.collect, function(self, params) return pages.collect(self, name, params) end)
  end
end

--- The newest finished backup record of an instance (hcdl.backups).
method("latest_backup", function(self, params)
  return require("hcdl.backups").latest(self, params)
end)

--- The files of a backup (the latest when backup_id is nil), ready for
-- download_all (hcdl.backups).
method("backup_files", function(self, params)
  return require("hcdl.backups").files(self, params)
end)

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

local function not_refreshable(message)
  return nil, core.error{ kind = "expired", message = message }
end

--- Asks the API again for the file behind `entry` and returns a copy of
-- the entry with a fresh link: the default refresh for expired links.
-- How is the descriptor's answer.refresh: "recall" calls the same API with
-- the same parameters and finds the entry by name; "errorlog" waits for
-- the PostgreSQL error logs to be prepared again.
function Client:refresh_entry(entry)
  local origin = apis.origin(entry)
  if not origin then
    return not_refreshable("the link expired and this entry did not come from this client, so it cannot be refreshed")
  end
  local answer = apis.get(origin.api).answer
  local found, err
  if answer.refresh == "errorlog" then
    local list
    list, err = self:wait_errorlog_links{ instance_id = origin.params.instance_id, timeout = 120 }
    found = list and apis.find(origin.api, { [answer.list] = list }, entry)
  elseif answer.refresh == "recall" then
    local fresh
    fresh, err = self:call(origin.api, origin.params)
    found = fresh and apis.find(origin.api, fresh, entry)
  else
    return not_refreshable(("the link expired and %s answers cannot be refreshed"):format(origin.api))
  end
  if err then return nil, err end
  if not found then
    return not_refreshable(("the link expired and %s is no longer listed"):format(
      tostring(answer.name and entry[answer.name] or entry[answer.id or "id"])))
  end
  local new = copy(entry)
  new[answer.link] = found[answer.link]
  if answer.expires then new[answer.expires] = found[answer.expires] end
  apis.adopt(new, origin.api, origin.params)
  return new
end

local function net_options(self)
  local p = private[self]
  local t = self:transport()
  return {
    connect_timeout = p.cfg.connect_timeout, cafile = p.cfg.cafile, verify_tls = p.cfg.verify_tls,
    proxy = p.cfg.proxy, user_agent = p.cfg.user_agent, low_speed_time = p.cfg.low_speed_time,
    sleep = t and t.sleep or core.sleep,
    probe = function(url)
      local s = core.session{ cafile = p.cfg.cafile, verify_tls = p.cfg.verify_tls, proxy = p.cfg.proxy,
        connect_timeout = p.cfg.connect_timeout, timeout = p.cfg.timeout }
      if not s then return nil end
      local res = s:perform{ method = "GET", url = url, headers = { Range = "bytes=0-0" } }
      s:close()
      return res
    end,
  }
end

local function with_default_refresh(self, opts)
  local o = copy(opts or {})
  if o.refresh == nil then
    o.refresh = function(entry) return self:refresh_entry(entry) end
  end
  return o
end

--- Downloads one file: client:download(entry_or_url, dest, opts).
-- dest is a file path, or an existing directory (the file keeps the name
-- the service gave it).  Returns { path, bytes, md5, resumed, skipped,
-- refreshed } or nil, err.
function Client:download(entry, dest, opts)
  local dl = require "hcdl.download"
  if type(dest) ~= "string" or dest == "" then
    error("hcdl: download(entry, dest, opts): dest must be a path", 2)
  end
  local err = dl.check_options(opts)
  if err then return nil, err end
  local o = with_default_refresh(self, opts)
  if core.is_dir(dest) then
    local info, ierr = dl.describe_named(entry)
    if not info then return nil, ierr end
    dest = dest:gsub("/+$", "") .. "/" .. info.name
  end
  local r = dl.run({ { entry = entry, dest = dest } }, o, net_options(self))[1]
  if not r.ok then return nil, r.err end
  return r
end

--- Downloads many files into dir, opts.concurrency at a time (default 4)
-- on one connection pool.  Returns (report) or (report, err) when any
-- failed: report.files[i] = { ok, path, err, skipped, ... } in entry order,
-- report.failed = the failed ones, report.done / report.skipped counts.
function Client:download_all(entries, dir, opts)
  local dl = require "hcdl.download"
  if type(entries) ~= "table" then error("hcdl: download_all(entries, dir, opts): entries must be a list", 2) end
  if type(dir) ~= "string" or dir == "" then error("hcdl: download_all(entries, dir, opts): dir must be a path", 2) end
  local err = dl.check_options(opts)
  if err then return nil, err end
  if not core.is_dir(dir) then
    return nil, core.error{ kind = "io", path = dir, message = dir .. " is not a directory" }
  end
  local o = with_default_refresh(self, opts)
  o.concurrency = o.concurrency or 4
  o.connections = 1
  local jobs, seen, pre = {}, {}, {}
  for i, entry in ipairs(entries) do
    local info, ierr = dl.describe_named(entry)
    if not info then
      pre[i] = { ok = false, err = ierr, name = ierr.name }
    elseif seen[info.name] then
      pre[i] = { ok = false, name = info.name, err = core.error{ kind = "input", field = "name",
        message = info.name .. ": the same name appears twice in the batch" } }
    else
      seen[info.name] = true
      jobs[#jobs + 1] = { entry = entry, dest = dir:gsub("/+$", "") .. "/" .. info.name, index = i }
    end
  end
  local ran = dl.run(jobs, o, net_options(self))
  local report = { files = {}, failed = {}, done = 0, skipped = 0 }
  for i = 1, #entries do report.files[i] = pre[i] end
  for k, job in ipairs(jobs) do report.files[job.index] = ran[k] end
  for i, r in ipairs(report.files) do
    r.entry = entries[i]
    if not r.ok then report.failed[#report.failed + 1] = r
    elseif r.skipped then report.skipped = report.skipped + 1
    else report.done = report.done + 1 end
  end
  report.ok = #report.failed == 0
  if not report.ok then
    local names = {}
    for i, r in ipairs(report.failed) do
      if i > 5 then names[#names + 1] = "..." break end
      names[#names + 1] = tostring(r.name or (r.err and r.err.name) or "?")
    end
    local first = report.failed[1].err
    return report, core.error{ kind = first and first.kind or "io", failed = #report.failed,
      message = ("%d of %d files failed: %s; first: %s"):format(#report.failed, #entries,
        table.concat(names, ", "), first and first.message or "?") }
  end
  return report
end

--- Releases the connection (the client can still be used: it reconnects).
function Client:close()
  local p = private[self]
  if p.owned then
    p.owned.close()
    p.owned, p.ready = nil, nil
  end
end

function Client:__tostring()
  local p = private[self]
  return ("hcdl client (project %s, %s, credentials from %s)"):format(
    self.project_id, p.cfg.region or "explicit endpoints", p.cfg.credential_source or "config")
end

client.Client = Client
return client
