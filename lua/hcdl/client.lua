--- hcdl.client: one method per link API, each build -> send -> parse with
-- the retry policy around it.
--
-- build and parse are pure C (hcdl.core); sending goes through the client's
-- transport (hcdl.transport).  Secrets live in a private table keyed by the
-- client, so printing or serialising a client shows none of them.
local core = require "hcdl.core"
local host_mod = require "hcdl.host"
local redact = require "hcdl.redact"
local retry = require "hcdl.retry"
local transport_mod = require "hcdl.transport"
local auth_mod = require "hcdl.auth"
local debuglog = require "hcdl.debuglog"

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

--- Takes every secret out of every string field of err: the keys, tokens
-- and passwords the client has seen (hcdl.auth adds fetched ones), and
-- what the request carried (its signature, a token): a gateway may echo
-- the canonical request or the Authorization header.
local function scrub(p, err, spec)
  if type(err) ~= "table" then return err end
  local list = redact.list()
  for _, s in ipairs(p.secrets) do list.add(s) end
  redact.add_request(list, spec)
  return redact.error(err, list)
end

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
    pool = transport_mod.pool(cfg),
    transports = setmetatable({}, { __mode = "k" }),
  }
  self.project_id = cfg.project_id -- nil until the first call looks it up
  self.region = cfg.region
  self.endpoints = cfg.endpoints
  return self
end

--- The transport for a call made now.  The host decides how the call
-- waits (blocking, ngx.sleep, a Neovim task's yield), so it is chosen per
-- call, never fixed at first use.  nil, err in an nginx phase that can
-- neither yield nor block.
function Client:transport()
  local p = private[self]
  local own = p.cfg.transport
  local h, err = host_mod.current()
  if not h then return nil, err end
  if own then
    -- a caller's own send; waits follow the host
    return { name = own.name or "custom", send = own.send, host = h, wait = h.wait,
      sleep = p.cfg.sleep or own.sleep or h.sleep, now = p.cfg.now or own.now or h.now }
  end
  local t = p.transports[h]
  if not t then
    t = transport_mod.new(p.pool, h, p.cfg)
    p.transports[h] = t
  end
  return t
end

local PLACEHOLDER_PROJECT = ("0"):rep(32)

-- The service of each API (its descriptor's), looked up once.
local SERVICE = {}
for _, name in ipairs(client.METHODS) do SERVICE[name] = apis.get(name).service end

-- One request of API name: data | nil, err, the request as sent (for
-- masking), and false when it got no answer.  On the client's engine it is
-- built, signed, sent and parsed in C (transport.call); with debug lines,
-- in nginx or through a caller's own transport, each step is visible.
local function exchange(p, t, name, params, fields, timeout, attempt)
  local a = p.auth
  if t.call and not p.cfg.debug then
    local data, err, sent = a:call(t, name, SERVICE[name], params, fields, timeout)
    return data, err, sent, data ~= nil or err.status ~= nil
  end
  local spec
  local res, serr = a:send(t, function(endpoints)
    fields.endpoints = endpoints
    local built, berr = core.build(name, params, fields)
    spec = built or spec
    return built, berr
  end, timeout, { api = name, attempt = attempt, retries = p.policy.retries })
  if not res then return nil, serr, spec, false end
  local data, perr = core.parse(name, res)
  return data, perr, spec, true
end

-- One attempt of a call (hcdl.retry runs it; n is its number).  st is
-- the call's state: { refreshed = }, so that refreshable credentials are
-- fetched again once a call, not once an attempt.  Module-level rather
-- than a closure per call: a call that succeeds at once makes no function
-- and no table here.
local function attempt(remaining, n, self, name, params, st)
  local p = private[self]
  local t, a = st.t, p.auth
  local started = t.now()
  local timeout = p.cfg.timeout
  -- a second pass only when the service refused refreshable credentials
  -- (an IAM token or temporary keys revoked or expired early): once a call
  local force = false
  for pass = 1, 2 do
    -- (the first pass starts now: no second clock reading for it)
    local left = pass == 1 and remaining or remaining - (t.now() - started)
    if left <= 0 then
      return nil, core.error{ kind = "timeout", api = name, retryable = false,
        message = ("%s: retry deadline of %gs reached"):format(name, p.policy.deadline) }
    end
    local fields, aerr = a:for_call(t, force)
    if not fields then
      aerr.api = aerr.api or name
      return nil, scrub(p, aerr)
    end
    self.project_id = fields.project_id
    -- built (and signed) again for every attempt and endpoint: a fresh X-Sdk-Date
    local data, perr, spec, sent = exchange(p, t, name, params, fields, math.min(timeout, left), n)
    if sent == false then
      perr.api = perr.api or name
      return nil, scrub(p, perr, spec)
    end
    if data ~= nil then
      remember(name, params, data)
      return data
    end
    if perr.kind ~= "auth" or st.refreshed or not a:refreshable() then
      return nil, scrub(p, perr, spec)
    end
    st.refreshed, force = true, true
  end
end

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
  return retry.run(p.policy, t, attempt, self, name, params, { t = t, refreshed = false })
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

--- Mirrors the TaurusDB full-SQL files of a time range into dir, run
-- after run (cron): new files, and the ones that grew, replaced
-- atomically.  Returns a report, or nil, err (see hcdl.sync).
function Client:sync_audit_log_files(params)
  return require("hcdl.sync").audit_log_files(self, params)
end

--- Mirrors a list of entries into dir: files skipped on exact facts (the
-- directory's record), new and changed ones downloaded and replaced
-- atomically; a report, or nil, err (see hcdl.sync).
function Client:sync_files(entries, dir, opts)
  if getmetatable(self) ~= Client then error("hcdl: call client:sync_files(...) with a colon", 2) end
  return require("hcdl.sync").files(self, entries, dir, opts)
end

--- Mirrors an RDS or DCS backup into its own directory under dir, then
-- removes older ones per keep / max_age (see hcdl.sync).
method("sync_backup", function(self, params)
  return require("hcdl.sync").backup(self, params)
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

-- A call's download options over the client's defaults (refresh through
-- the API).  The client's max_rate is not a default here: its engine
-- shares it among all of the client's transfers (src/engine.c).
local function with_default_refresh(self, opts)
  local o = copy(opts or {})
  if o.refresh == nil then
    o.refresh = function(entry) return self:refresh_entry(entry) end
  end
  return o
end

-- What a download run needs: the client's engine, how to wait, its secrets.
local function download_ctx(self)
  local p = private[self]
  local t, err = self:transport()
  if not t then return nil, err end
  local e, eerr = p.pool.engine()
  if not e then return nil, eerr end
  return { engine = e, host = t.host, secrets = p.secrets, cfg = p.cfg }
end

local function is_sink(v)
  if type(v) == "function" then return true end
  local ok, write = pcall(function() return v.write end)
  return (type(v) == "userdata" or type(v) == "table") and ok and type(write) == "function"
end

-- dest as a directory and a name: an existing directory keeps the name the
-- service gave; any other path names the file itself.
local function split_dest(entry, dest, dl)
  if core.is_dir(dest) then
    local info, err = dl.describe_named(entry)
    if not info then return nil, err end
    return dest, info.name
  end
  local dir, name = dest:match("^(.*)/([^/]*)$")
  if not dir then dir, name = ".", dest end
  if dir == "" then dir = "/" end
  if name == "" or name == "." or name == ".." or #name > dl.MAX_NAME then
    return nil, core.error{ kind = "input", field = "dest", message = ("dest: the file name must be 1 to %d "
      .. "bytes (255 with room for the temporary suffix), not '.' or '..'"):format(dl.MAX_NAME) }
  end
  return dir, name
end

--- Re-checks a downloaded file: client:verify_file(path [, { strict = }])
-- -> { path, ok, verified = {...}, unverified, part_size, notes, err }
-- (lua/hcdl/verify.lua says what each check means).
function Client:verify_file(path, opts)
  if type(path) ~= "string" or path == "" then error("hcdl: verify_file(path): path must be a string", 2) end
  if opts ~= nil and type(opts) ~= "table" then error("hcdl: verify_file(path, opts): opts must be a table", 2) end
  -- local files only: no request, no secret can be involved
  local h, herr = require("hcdl.host").current()
  if not h then return { path = path, ok = false, verified = {}, err = herr } end
  return require("hcdl.verify").file(path, h, opts)
end

--- Downloads one file: client:download(entry_or_url, dest, opts).
-- dest is a file path, an existing directory (the file keeps the name the
-- service gave it), or a sink: a function(chunk) or a file handle such as
-- io.stdout, which gets the bytes in order (verified at the end; on
-- failure it has what arrived).  Returns { path, bytes, md5, resumed,
-- skipped, refreshed } or nil, err.
function Client:download(entry, dest, opts)
  local dl = require "hcdl.download"
  local sink = is_sink(dest) and dest or nil
  if not sink and (type(dest) ~= "string" or dest == "") then
    error("hcdl: download(entry, dest, opts): dest must be a path, a function or a file handle", 2)
  end
  local err = dl.check_options(opts)
  if err then return nil, err end
  local o = with_default_refresh(self, opts)
  if sink then o.connections = 1 end
  local ctx, cerr = download_ctx(self)
  if not ctx then return nil, cerr end
  local job = { entry = entry, sink = sink }
  if not sink then
    local dir_path, name = split_dest(entry, dest, dl)
    if not dir_path then return nil, name end
    local dir, derr = core.dir(dir_path)
    if not dir then return nil, derr end
    job.dir, job.dir_path, job.name = dir, dir_path, name
  end
  local r = dl.run({ job }, o, ctx)[1]
  if job.dir then job.dir:close() end
  if not r.ok then return nil, r.err end
  return r
end

-- Entries in one batch must not use each other's names, temporary ones
-- included: an entry named `a.part` beside `a` would be a's partial file.
local function batch_names(entries, dl)
  local jobs, pre, finals, temps = {}, {}, {}, {}
  for i, e in ipairs(entries) do
    local info, ierr = dl.describe_named(e)
    if info then
      if finals[info.name] then
        ierr = core.error{ kind = "input", field = "name", name = info.name,
          message = info.name .. ": the same name appears twice in the batch" }
      else
        finals[info.name] = i
        for _, t in ipairs(dl.temp_names(info.name)) do temps[t] = info.name end
        jobs[#jobs + 1] = { entry = e, name = info.name, index = i }
      end
    end
    if ierr then pre[i] = { ok = false, err = ierr, name = ierr.name, status = "failed" } end
  end
  local kept = {}
  for _, job in ipairs(jobs) do
    local owner = temps[job.name]
    if owner then
      pre[job.index] = { ok = false, name = job.name, status = "failed", err = core.error{ kind = "input",
        field = "name", name = job.name, message = ("%s: refused: it is the name of a temporary file of %s "
          .. "in the same batch"):format(job.name, owner) } }
    else
      kept[#kept + 1] = job
    end
  end
  return kept, pre
end

--- Downloads many files into dir, opts.concurrency at a time (default 4)
-- on the client's connection pool.  Returns (report) or (report, err) when
-- any failed: report.files[i] = { ok, path, err, skipped, status, ... } in
-- entry order, report.failed = the failed ones, report.done /
-- report.skipped counts.
function Client:download_all(entries, dir, opts)
  local dl = require "hcdl.download"
  if type(entries) ~= "table" then error("hcdl: download_all(entries, dir, opts): entries must be a list", 2) end
  if type(dir) ~= "string" or dir == "" then error("hcdl: download_all(entries, dir, opts): dir must be a path", 2) end
  local err = dl.check_options(opts)
  if err then return nil, err end
  local handle, derr = core.dir(dir)
  if not handle then return nil, derr end
  local ctx, cerr = download_ctx(self)
  if not ctx then handle:close() return nil, cerr end
  local o = with_default_refresh(self, opts)
  o.concurrency = o.concurrency or 4
  local jobs, pre = batch_names(entries, dl)
  for _, job in ipairs(jobs) do job.dir, job.dir_path = handle, dir end
  local ran = dl.run(jobs, o, ctx)
  handle:close()
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
      busy = first and first.busy or nil,
      message = ("%d of %d files failed: %s; first: %s"):format(#report.failed, #entries,
        table.concat(names, ", "), first and first.message or "?") }
  end
  return report
end

--- Stops the client's transfers and its thread and closes its
-- connections (the client can still be used: it starts afresh).
function Client:close()
  private[self].pool.close()
end

--- The credential chain, in order: { { name =, network = }, ... }
-- (network: asking it needs the network, so it is asked at the first
-- call; see hcdl.credentials.chain).  A copy: changing it changes nothing.
function Client:credential_providers()
  if getmetatable(self) ~= Client then error("hcdl: call client:credential_providers() with a colon", 2) end
  local out = {}
  for i, p in ipairs(private[self].cfg.credential_providers) do out[i] = { name = p.name, network = p.network } end
  return out
end

function Client:__tostring()
  local p = private[self]
  return ("hcdl client (project %s, %s, credentials from %s)"):format(
    self.project_id or "looked up at the first call", p.cfg.region or "explicit endpoints",
    p.auth:source_name())
end

client.Client = Client
return client
