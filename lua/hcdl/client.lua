--- hcdl.client: one method per link API, each build -> send -> parse with
-- the retry policy around it.
--
-- build and parse are pure C (hcdl.core); sending goes through the client's
-- transport (hcdl.transport).  Secrets live in a private table keyed by the
-- client, so printing or serialising a client shows none of them.
local core = require "hcdl.core"
local retry = require "hcdl.retry"
local transport_mod = require "hcdl.transport"
local auth_mod = require "hcdl.auth"
local debuglog = require "hcdl.debuglog"

local client = {}

local Client = {}
Client.__index = Client

local private = setmetatable({}, { __mode = "k" })

-- Where each file entry came from (API and parameters), so an expired link
-- can be refreshed by asking again.  Weak keys: entries the caller drops
-- are forgotten.
local origins = setmetatable({}, { __mode = "k" })

local function copy(t)
  local c = {}
  for k, v in pairs(t) do c[k] = v end
  return c
end

local function remember(name, params, data)
  local p = copy(params or {})
  for _, key in ipairs{ "files", "links", "list" } do
    if type(data[key]) == "table" then
      for _, e in ipairs(data[key]) do
        if type(e) == "table" then origins[e] = { api = name, params = p } end
      end
    end
  end
  if name == "create_redislog_download_link" then origins[data] = { api = name, params = p } end
end

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

function client.new(cfg)
  local self = setmetatable({}, Client)
  -- every secret seen (keys, tokens, passwords): scrubbed from errors and
  -- debug lines; hcdl.auth adds to it as keys are fetched
  local secrets = {}
  cfg.debug = debuglog.scrubbing(cfg.debug, secrets)
  private[self] = {
    cfg = cfg,
    auth = auth_mod.new(cfg, secrets),
    policy = {
      retries = cfg.retries, deadline = cfg.retry_deadline,
      base = cfg.retry_base, cap = cfg.retry_cap,
    },
    secrets = secrets,
  }
  self.project_id = cfg.project_id -- nil until the first call looks it up
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

local PLACEHOLDER_PROJECT = ("0"):rep(32)

--- Calls API `name` with `params`: the decoded answer, or nil, err.
-- Per attempt: fresh keys and the project id (hcdl.auth: refreshed before
-- they expire, once for concurrent callers), a fresh signature, and the
-- service's next endpoint when one cannot be reached.  A refusal of
-- refreshable credentials (IAM token, temporary keys) fetches new ones and
-- sends again, once per call (not counted as a retry).
function Client:call(name, params)
  if params ~= nil and type(params) ~= "table" then
    error(("hcdl: %s expects a table of parameters, got %s"):format(name, type(params)), 3)
  end
  local p = private[self]
  local t, terr = self:transport()
  if not t then return nil, terr end
  local a = p.auth
  if not a:settled() then
    -- the parameters are checked before anything is sent, fetching keys or
    -- the project id included: a build with placeholder credentials
    local _, ierr = core.build(name, params, { project_id = PLACEHOLDER_PROJECT, ak = "-", sk = "-",
      endpoints = a.endpoints:current() })
    if ierr then return nil, ierr end
  end
  local timeout = p.cfg.timeout
  local refreshed, attempt = false, 0
  return retry.run(p.policy, t, function(remaining)
    attempt = attempt + 1
    local started = t.now()
    -- a second pass only when the service refused refreshable credentials
    -- (an IAM token or temporary keys revoked or expired early): once a call
    local force = false
    for _ = 1, 2 do
      local left = remaining - (t.now() - started)
      if left <= 0 then
        return nil, core.error{ kind = "timeout", api = name, retryable = false,
          message = ("%s: retry deadline of %gs reached"):format(name, p.policy.deadline) }
      end
      local fields, aerr = a:for_call(t, force)
      if not fields then
        aerr.api = aerr.api or name
        return nil, aerr
      end
      self.project_id = fields.project_id
      -- built (and signed) again for every attempt and endpoint: a fresh X-Sdk-Date
      local res, serr = a:send(t, function(endpoints)
        fields.endpoints = endpoints
        return core.build(name, params, fields)
      end, math.min(timeout, left), { api = name, attempt = attempt, retries = p.policy.retries })
      if not res then
        serr.api = serr.api or name
        return nil, serr
      end
      local data, perr = core.parse(name, res)
      if data ~= nil then
        remember(name, params, data)
        return data
      end
      if perr.kind ~= "auth" or refreshed or not a:refreshable() then
        return nil, a:scrub(perr)
      end
      refreshed, force = true, true
    end
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

--- Asks the API again for the file behind `entry` and returns a copy of
-- the entry with a fresh link: the default refresh for expired links.
function Client:refresh_entry(entry)
  local origin = type(entry) == "table" and origins[entry]
  if not origin then
    return nil, core.error{ kind = "expired",
      message = "the link expired and this entry did not come from this client, so it cannot be refreshed" }
  end
  local fresh, err
  if origin.api == "download_errorlog" then
    local list
    list, err = self:wait_errorlog_links{ instance_id = origin.params.instance_id, timeout = 120 }
    fresh = list and { list = list }
  else
    fresh, err = self:call(origin.api, origin.params)
  end
  if not fresh then return nil, err end
  local want = entry.name or entry.file_name or entry.id
  local found
  if origin.api == "create_redislog_download_link" then
    found = fresh
  else
    for _, key in ipairs{ "files", "links", "list" } do
      for _, e in ipairs(type(fresh[key]) == "table" and fresh[key] or {}) do
        if type(e) == "table" and (e.name or e.file_name) == want then found = e end
      end
    end
  end
  if not found then
    return nil, core.error{ kind = "expired", message = ("the link expired and %s is no longer listed"):format(tostring(want)) }
  end
  local new = copy(entry)
  for _, k in ipairs{ "download_link", "file_link", "link" } do
    if found[k] then new[k] = found[k] end
    if new[k] and not found[k] and found.link then new[k] = found.link end
  end
  if found.link_expired_time then new.link_expired_time = found.link_expired_time end
  origins[new] = origin
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
    self.project_id or "looked up at the first call", p.cfg.region or "explicit endpoints",
    p.auth:source_name())
end

client.Client = Client
return client
