--- hcdl.download: download policy.  Bytes move in C (the engine's thread);
-- this module decides what to fetch and when a file counts as finished,
-- as a small state machine per file:
--
--   queued -> plan -> fetch -> verify -> commit -> done
--                       \-> wait (backoff) -/          \-> failed / skipped
--
-- The rules, for people who run this unattended:
-- * hcdl writes only files it created.  Bytes go to `<name>.part`; its
--   record `<name>.part.state` (validators, ranges) is written first and is
--   what makes the .part hcdl's.  A single stream starts without one: the
--   mark is then written into the file's lock (`.hcdl-lock.<name>`, which
--   outlives a run that dies), and the state file follows once there is
--   something to resume by (validators, a second into the transfer) or
--   when the run gives the file up.  Both are opened relative to the
--   destination directory, never through a link, must be regular files
--   with one link owned by this user, and are created exclusively.  Any
--   other file in their place is left alone and the file fails (kind "io",
--   naming the path).  New files get mode 0600 (opts.mode to change it).
-- * only a complete, verified file is flushed (fsync) and renamed over
--   `<name>`; a failure leaves nothing that looks finished;
-- * a resume sends If-Range with the first answer's ETag (or Last-Modified)
--   and refuses an answer about another object (another ETag or size):
--   the file restarts from zero, it is never spliced from two objects;
-- * sizes must match (the answer's, the entry's), and a quoted-MD5 ETag
--   must match the MD5 of the bytes that are renamed into place.  A file
--   that fails verification is removed, so the next run starts afresh;
-- * several connections keep their ranges in the state file while they
--   run (only bytes known to be on disk are recorded), so a killed run
--   resumes where it was;
-- * expired links are renewed through opts.refresh(entry) (by default by
--   asking the API again) and the file resumes; network errors, 5xx and
--   throttling are retried with backoff, honouring Retry-After, all within
--   opts.deadline (which also bounds a transfer that trickles or stalls);
-- * after an authentication failure no new file is started.
-- * a file is skipped only on exact facts: the directory's record
--   (hcdl.record) says what hcdl verified; the file on disk must still
--   match it and the entry (size, time) must not have moved.  A file hcdl
--   has no record of is compared by exact size when the entry gives bytes,
--   else by size within the KB rounding and mtime = the entry's time.  An
--   entry with neither size nor time is asked about: a conditional GET with
--   the recorded validators (304: unchanged).  See download.decide.
-- * files that may grow (the descriptor's `growing`: full-SQL files, run
--   logs): the listed size is a lower bound; more bytes are kept when the
--   answer is self-consistent (Content-Length, an MD5 ETag, no splice), the
--   record notes it (`grown`) and the next run asks the store again.
-- * one writer per file: the file is locked (flock on
--   `.hcdl-lock.<name>`, removed by its holder when done) from the skip
--   decision to the record; another process wanting it waits opts.wait
--   seconds (default 0), then that file fails with an io error, busy = true.
local core = require "hcdl.core"
local debuglog = require "hcdl.debuglog"
local entry_mod = require "hcdl.entry"
local record = require "hcdl.record"
local configfile = require "hcdl.configfile"
local redact = require "hcdl.redact"
local retry = require "hcdl.retry"
local verify = require "hcdl.verify"

local download = {}

-- The names hcdl derives from a file name, and what that leaves for it.
local PART, STATE, STATE_TMP = ".part", ".part.state", ".part.state.tmp"
download.MAX_NAME = 255 - #STATE_TMP
-- hcdl's own files in a directory (record, locks, sync state) start with this
local RESERVED = ".hcdl-"
local LOCK_PREFIX = ".hcdl-lock."
-- written into a file's lock: its .part is hcdl's (see Run:fresh)
local PART_MARK = "hcdl-part\n"

local MULTI_MIN = 1024 * 1024       -- bytes per range, at least
local SYNC_EVERY = 16 * 1024 * 1024 -- with fsync on: bytes between durability points
local CHECKPOINT = 1.0              -- seconds between state-file updates
local MAX_RESTARTS = 4
local MAX_REFRESH = 5

-- The download options and their types (true: checked below), one list
-- for download, download_all and every sync (hcdl.sync hands them on).
-- The transfer options (buffer_size, max_rate) join them from the one table
-- in C (core.options(), src/options.h), with their ranges, and go into
-- every transfer's spec.
local OPTIONS = {
  connections = "number", concurrency = "number", progress = "function",
  refresh = "function", deadline = "number", retries = "number",
  fsync = "boolean", verify = true, mode = "number",
  force = "boolean", progress_interval = "number", wait = "number",
}
local TRANSFER_ROWS = {}
for _, row in ipairs(core.options()) do
  if row.scope ~= "client" then
    OPTIONS[row.name] = "number"
    TRANSFER_ROWS[#TRANSFER_ROWS + 1] = row
  end
end
download.OPTIONS = OPTIONS
-- A transfer's share of max_rate never goes below this: the stall guard
-- fails a transfer slower than 1 KiB/s for 60 s.
local MIN_RATE_SHARE = 2048
-- Receive buffers of transfers running at once: together what one stream
-- gets (the call's or the client's buffer_size), each at least this, or
-- the whole budget when that is smaller.
local MIN_RECV_SHARE = 64 * 1024
-- Each file a run finishes leaves garbage behind (its transfer's result,
-- its tasks, its steps' tables: about 13 KiB for a small file) while the
-- files done stay live until the run returns; left to its own pace the
-- collector lets the heap grow to about twice what is live before it
-- catches up.  A step of this many KiB per file finished keeps a long run
-- near what it holds (peak RSS, 500 files of 256 KiB: 18.9 -> 16.0 MB).
-- Only while the host's collector runs (collectgarbage("isrunning"), Lua
-- 5.2+ and LuaJIT): a host that stopped it keeps it stopped.
local GC_STEP_KB = 16
local BUFFER_DEFAULT
for _, row in ipairs(core.options()) do
  if row.name == "buffer_size" then BUFFER_DEFAULT = row.default end
end

local function input(field, msg)
  return core.error{ kind = "input", field = field, message = field .. ": " .. msg }
end

--- The URL as it may appear in messages: its query's values hidden
-- (hcdl.redact, the one rule for links).
function download.redact(url)
  return redact.links(tostring(url))
end

--- The temporary names of a file.
function download.temp_names(name)
  return { name .. PART, name .. STATE, name .. STATE_TMP }
end

--- Checks a file name that came from a service (or a URL).
function download.safe_name(name)
  if type(name) ~= "string" or name == "" then return nil, "is empty" end
  if #name > download.MAX_NAME then
    return nil, ("is longer than %d bytes (255 with room for hcdl's %s suffix)"):format(
      download.MAX_NAME, STATE_TMP)
  end
  if name:find("[/\\]") then return nil, "contains a path separator" end
  if name:find("%.%.") or name == "." then return nil, "contains '..' or is '.'" end
  if name:find("[%z\1-\31\127]") then return nil, "contains a control character" end
  if name:sub(1, #RESERVED) == RESERVED then
    return nil, "starts with " .. RESERVED .. ", which hcdl keeps for its own files"
  end
  return name
end

--- describe(entry) whose name will name a file: an "input" error (field
-- "name") unless the name is safe.
function download.describe_named(e)
  local info, err = entry_mod.describe(e)
  if not info then return nil, err end
  local ok, why = download.safe_name(info.name)
  if not ok then
    return nil, core.error{ kind = "input", field = "name", name = info.name,
      message = ("file name %s refused: %s"):format(("%q"):format(tostring(info.name)):sub(1, 80), why) }
  end
  return info
end

--- Validates download options: nil, or err.
function download.check_options(opts)
  if opts == nil then return nil end
  if type(opts) ~= "table" then error("hcdl: download options must be a table", 3) end
  local known = {}
  for k in pairs(OPTIONS) do known[#known + 1] = k end
  table.sort(known)
  for k, v in pairs(opts) do
    if not OPTIONS[k] then
      return input(tostring(k), "unknown option (known: " .. table.concat(known, ", ") .. ")")
    end
    if k == "verify" and v ~= true and v ~= false and v ~= "strict" then
      return input(k, 'must be true, false or "strict"')
    elseif OPTIONS[k] ~= true and type(v) ~= OPTIONS[k] then
      return input(k, "must be a " .. OPTIONS[k])
    end
  end
  local function whole(k, lo, hi)
    local v = opts[k]
    if v ~= nil and (v ~= v or v < lo or v > hi or v % 1 ~= 0) then
      return input(k, ("must be a whole number from %d to %d"):format(lo, hi))
    end
  end
  local err = whole("connections", 1, 16) or whole("concurrency", 1, 64) or whole("retries", 0, 100)
    or whole("mode", 0, 511)
  if err then return err end
  if opts.mode and opts.mode % 512 ~= opts.mode then return input("mode", "permission bits only") end
  if opts.deadline and not (opts.deadline > 0) then
    return input("deadline", "must be a number of seconds > 0")
  end
  for _, row in ipairs(TRANSFER_ROWS) do
    local v = opts[row.name]
    if v ~= nil and not (v >= row.min and v <= row.max and (row.type ~= "whole" or v % 1 == 0)) then
      return input(row.name, ("must be a %s from %.0f to %.0f"):format(
        row.type == "rate" and "number of bytes per second" or "whole number", row.min, row.max))
    end
  end
  if opts.wait and not (opts.wait >= 0 and opts.wait <= 86400) then
    return input("wait", "must be 0 to 86400 seconds")
  end
  if opts.progress_interval and not (opts.progress_interval >= 0.01) then
    return input("progress_interval", "must be at least 0.01 seconds")
  end
  return nil
end

-- ---------------------------------------------------------------------------
-- Locks: an flock on a file of ours.  A per-file lock file is removed by
-- its holder while it still holds it; so whoever gets a lock checks that
-- the name still leads to the file it locked (else it locked a removed
-- file, and tries again).

--- download.lock(dir, name) -> handle, stat | false (held elsewhere) | nil, err
-- (stat: the lock file's, as locked; a size > 0 is a .part's mark, see
-- Run:fresh)
function download.lock(dir, name)
  for _ = 1, 8 do
    local l, err = dir:lock(name)
    if not l then return l, err end
    local mine, now = l:stat(), dir:stat(name)
    if mine and now and now.id == mine.id then return l, mine end
    l:close()
  end
  return false
end

--- Releases a per-file lock: the name goes first, then the lock.
function download.unlock(dir, name, l)
  dir:remove(name)
  l:close()
end

function download.lock_name(name) return LOCK_PREFIX .. name end

-- ---------------------------------------------------------------------------
-- Skip on exact facts.

local function validators(facts)
  return facts.etag ~= nil or facts.last_modified ~= nil
end

--- download.decide(info, st, facts) -> "skip" | "ask" | "fetch": what to
-- do about a file of `st` (dir:stat) on disk for an entry described by
-- `info` (hcdl.entry), `facts` being the record's (nil: no record).  See
-- the module comment.
function download.decide(info, st, facts)
  if facts then
    if st.size ~= facts.size or (facts.mtime and math.abs(st.mtime - facts.mtime) > 1e-3) then
      return "fetch" -- not the file hcdl verified
    end
    local ask = validators(facts) and "ask" or "fetch"
    if facts.grown then return ask end
    if not (info.exact or info.kb or info.mtime) then return ask end
    if info.exact and info.exact ~= facts.size then return "fetch" end
    if info.kb and not entry_mod.size_agrees(info, facts.size) then return "fetch" end
    -- the same size at another time (a file rewritten, or a service whose
    -- time is that of the export, as PostgreSQL error logs'): the store
    -- says whether it is still the object hcdl verified
    if info.mtime and facts.time ~= info.mtime then return ask end
    -- a size in KB alone cannot see a file that changed by a few bytes
    if info.kb and not info.mtime then return ask end
    return "skip"
  end
  if info.exact then return st.size == info.exact and "skip" or "fetch" end
  if info.kb and info.mtime and entry_mod.size_agrees(info, st.size)
    and math.floor(st.mtime) == math.floor(info.mtime) then
    return "skip"
  end
  return "fetch"
end

-- ---------------------------------------------------------------------------
-- The state file: "hcdl-part 1" then "key value" lines.

local function encode_state(s)
  local out = { "hcdl-part 1" }
  for _, k in ipairs{ "total", "etag", "last-modified", "crc64", "crc64-header", "version-id" } do
    if s[k] ~= nil then out[#out + 1] = k .. " " .. tostring(s[k]) end
  end
  for _, r in ipairs(s.ranges or {}) do
    out[#out + 1] = ("range %d %d %d"):format(r.start, r.stop, r.durable)
  end
  return table.concat(out, "\n") .. "\n"
end

local function decode_state(text)
  local lines = {}
  for line in text:gmatch("[^\n]+") do lines[#lines + 1] = line end
  if lines[1] ~= "hcdl-part 1" then return nil end
  local s = {}
  for i = 2, #lines do
    local k, v = lines[i]:match("^(%S+) (.*)$")
    if k == "total" then
      s.total = tonumber(v:match("^%d+$") or "")
    elseif k == "etag" or k == "last-modified" or k == "crc64" or k == "crc64-header" or k == "version-id" then
      s[k] = v
    elseif k == "range" then
      local a, b, d = v:match("^(%d+) (%d+) (%d+)$")
      if not a then return nil end
      s.ranges = s.ranges or {}
      s.ranges[#s.ranges + 1] = { start = tonumber(a), stop = tonumber(b),
        durable = tonumber(d), done = tonumber(d) }
    end
  end
  if s.ranges and not s.total then return nil end
  return s
end

local quoted_md5 = verify.quoted_md5

-- ---------------------------------------------------------------------------
-- Errors about a file.

local function file_error(f, fields)
  fields.name = fields.name or f.info.name
  if fields.path == nil and f.dir_path then fields.path = f.final_path end
  return core.error(fields)
end

local function retry_after(headers)
  local v = headers and headers["retry-after"]
  if type(v) ~= "string" then return nil end
  local secs = tonumber(v:match("^%s*(%d+%.?%d*)%s*$") or "")
  return secs
end

local function store_error(f, res)
  local body = type(res.body) == "string" and res.body or ""
  local code = body:match("<Code>([^<]*)</Code>")
  local msg = body:match("<Message>([^<]*)</Message>")
  local status = res.status or 0
  local kind, retryable = core.classify_status(status, code) -- the one rule: src/status.c
  return file_error(f, { kind = kind, status = status, code = code,
    request_id = res.headers and (res.headers["x-obs-request-id"] or res.headers["x-request-id"]) or nil,
    retryable = retryable, retry_after = retry_after(res.headers),
    message = ("%s: %s answered HTTP %d%s"):format(f.info.name, download.redact(f.url), status,
      msg and (" (" .. msg .. ")") or "") })
end

-- The size of the whole object, from an answer's headers.
local function total_of(h)
  local cr = h["content-range"]
  if cr then return tonumber(cr:match("/(%d+)%s*$") or "") end
  return tonumber(h["content-length"] or "")
end

local function is_expired(res)
  return res.status == 403 and type(res.body) == "string"
    and res.body:find("Request has expired", 1, true) ~= nil
end

-- ---------------------------------------------------------------------------
-- A run: many files, a scheduler, one engine.

local Run = {}
Run.__index = Run

local function new_file(run, job, index)
  local f = {
    run = run, entry = job.entry, index = index, dir = job.dir, dir_path = job.dir_path,
    name = job.name, sink = job.sink, status = "queued", transfers = {},
    refreshed = 0, failures = 0, restarts = 0, resumed = false, urls = {},
  }
  local info, err = entry_mod.describe(job.entry)
  if not info then
    f.status, f.err = "failed", err
    f.info = { name = tostring(job.name) }
    return f
  end
  f.info, f.url = info, info.url
  f.urls[1] = info.url
  if f.dir then
    f.part, f.state = job.name .. PART, job.name .. STATE
    f.final_path = f.dir:path(job.name)
  end
  return f
end

function Run:now() return self.h.now() end

function Run:release(f)
  if f.lock then
    download.unlock(f.dir, download.lock_name(f.name), f.lock)
    f.lock = nil
  end
end

function Run:fail(f, err)
  if f.status == "done" or f.status == "failed" then return end
  for _, t in pairs(f.transfers) do t.ticket:cancel() end
  f.transfers = {}
  -- a .part known only by the lock's mark: its state file, before the
  -- lock (and the mark) goes, so the next run resumes it (not while the
  -- commit may be renaming it)
  local record_part = f.marked and not f.writing and not (f.pending and f.status == "commit")
  f.status, f.err = "failed", err
  if f.file then f.file:close() f.file = nil end
  if record_part then self:save(f) end
  if not f.writing and not f.pending then self:release(f) end
  if err.kind == "auth" and not err.not_started then self.stop_new = self.stop_new or err end
end

-- A file is done: what only its steps needed goes (its result keeps the
-- rest), and the collector takes a step (GC_STEP_KB).
function Run:settled(f)
  f.saved, f.checks = nil, nil
  if self.gc_step then collectgarbage("step", GC_STEP_KB) end
end

function Run:finish(f, fields)
  f.status = "done"
  for k, v in pairs(fields) do f[k] = v end
  if f.file then f.file:close() f.file = nil end
  self:release(f)
  self:settled(f)
end

function Run:skip(f, bytes, facts)
  f.status, f.bytes, f.skipped = "skipped", bytes, true
  f.verified = facts and facts.verified or nil
  f.delivered_size = bytes
  self:release(f)
  self:settled(f)
end

-- An async step: op (a task or a ticket) then k(self, f, value, err).
function Run:after(f, op, k)
  f.pending = { op = op, k = k }
end

-- State writes of a file go one at a time, in order: a later one started
-- while one is in flight is written after it (with the latest ranges);
-- k runs once the state holding what it needs is on disk.
function Run:save(f, k, quick)
  f.write_waiters = f.write_waiters or {}
  if k then f.write_waiters[#f.write_waiters + 1] = k end
  if f.writing then
    f.write_again = true
    return
  end
  f.state_dirty = false
  f.writing_for, f.write_waiters = f.write_waiters, {}
  f.writing = core.task("write", { dir = f.dir, name = f.state, data = encode_state(f.saved),
    fsync = self.o.fsync ~= false and not quick, wake = self.engine })
end


-- Runs k once no state write is in flight (the commit removes the state).
function Run:when_idle(f, k)
  if not f.writing then return k(self, f) end
  f.idle_waiters = f.idle_waiters or {}
  f.idle_waiters[#f.idle_waiters + 1] = k
end

function Run:saved_done(f)
  local ok, err = f.writing:result()
  local done_for = f.writing_for or {}
  f.writing, f.writing_for = nil, nil
  if not ok then return self:fail(f, err) end
  f.marked = nil -- the .part has its state file now
  if f.write_again then
    f.write_again = false
    self:save(f)
  end
  for _, k in ipairs(done_for) do
    if f.status == "failed" then return end
    k(self, f)
  end
  if not f.writing and f.idle_waiters then
    local waiters = f.idle_waiters
    f.idle_waiters = nil
    for _, k in ipairs(waiters) do
      if f.status == "failed" then return end
      k(self, f)
    end
  end
end

-- ---- plan -----------------------------------------------------------------

-- The file's lock, waiting opts.wait seconds (polled by the scheduler).
function Run:take_lock(f)
  local lname = download.lock_name(f.name)
  local l, found = download.lock(f.dir, lname)
  if l then
    -- a mark left in the lock: a run that died left a .part it made
    f.lock, f.lock_marked = l, found.size > 0
    return true
  end
  local err = found
  if l == nil then
    self:fail(f, err)
    return false
  end
  f.lock_deadline = f.lock_deadline or (self:now() + (self.o.wait or 0))
  if self:now() >= f.lock_deadline then
    self:fail(f, file_error(f, { kind = "io", busy = true, path = f.dir:path(lname),
      message = ("%s: another process is writing it (it holds %s)"):format(f.info.name, f.dir:path(lname)) }))
    return false
  end
  f.status, f.on_wake = "wait", function(run, ff) run:start_file(ff) end
  f.wake_at = math.min(f.lock_deadline, self:now() + 0.05)
  return false
end

function Run:start_file(f)
  f.status = "plan"
  if f.sink then return self:start_stream(f) end
  if not f.lock and not self:take_lock(f) then return end
  local st, err = f.dir:stat(f.name)
  if st == nil then return self:fail(f, err) end
  if st then
    if st.type == "dir" then
      return self:fail(f, file_error(f, { kind = "io",
        message = f.final_path .. " is a directory; a file was to be written there" }))
    elseif st.type ~= "file" then
      return self:fail(f, file_error(f, { kind = "io",
        message = f.final_path .. " exists and is not a regular file; hcdl leaves it alone" }))
    elseif not self.o.force then
      local facts, rerr = self:recorded(f)
      if rerr then return self:fail(f, rerr) end
      local what = download.decide(f.info, st, facts)
      if what == "skip" then return self:skip(f, st.size, facts) end
      if what == "ask" then f.ask = facts end
    end
    -- anything else: downloaded again and replaced atomically
  end
  self:plan(f)
end

function Run:plan(f)
  local text, err = f.dir:read(f.state, configfile.MAX_BYTES.part_state)
  if text == nil then return self:fail(f, err) end
  local pst, perr = f.dir:stat(f.part)
  if pst == nil then return self:fail(f, perr) end
  local saved = text and decode_state(text) or nil
  if not pst then
    -- no .part (a state without one: a crash between writing the two)
    return self:fresh(f, nil, text ~= false)
  end
  local part_path = f.dir:path(f.part)
  if pst.type ~= "file" then
    return self:fail(f, file_error(f, { kind = "io", path = part_path, message = part_path ..
      (pst.type == "link" and " is a symbolic link; hcdl does not write through links"
        or " is not a regular file; hcdl leaves it alone") }))
  end
  if not saved and not (f.lock_marked and text == false) then
    return self:fail(f, file_error(f, { kind = "io", path = part_path, message = part_path
      .. " exists but hcdl has no record of creating it (" .. f.state .. "); it is left alone" }))
  end
  local file, oerr = f.dir:open(f.part)
  if not file then return self:fail(f, oerr) end
  if not saved then
    -- made by a run that died before recording what it was fetching: it
    -- cannot be resumed (no validators to prove the rest is the same
    -- object), so it starts over
    return self:fresh(f, file)
  end
  f.file, f.saved = file, saved
  f.ask = nil -- a transfer to resume: it decides
  if saved.ranges then
    if pst.size ~= saved.total then return self:restart(f, "the partial file has the wrong size") end
    f.resumed = true
    return self:fetch_ranges(f)
  end
  f.resumed = pst.size > 0
  self:fetch_single(f)
end

-- The first record only says the .part to come is hcdl's, so it is not
-- flushed: should a crash lose it, the .part it leaves is "not hcdl's" and
-- left alone (an io error naming it), never resumed from.  What a resume
-- relies on (validators, ranges) is flushed when it is recorded.
-- A single stream writes no state file first: its mark goes into the
-- file's lock (held, and removed only by a holder that is done), which a
-- run that dies leaves behind, so the next run knows the .part is hcdl's
-- (and fetches it afresh: nothing recorded proves what it holds).  The
-- state file is written once there is something to resume by
-- (record_single) or when the run gives the file up (Run:fail); a file
-- done quickly never has one.  `file`: a marked .part to reuse; `stale`:
-- a state file without a .part, removed first.
function Run:fresh(f, file, stale)
  f.saved = {}
  if self.connections == 1 then
    local ok, err = f.lock:write(PART_MARK, f.dir:path(download.lock_name(f.name)))
    if ok and stale then ok, err = f.dir:remove(f.state) end
    if not ok then return self:fail(f, err) end
    if file then
      ok, err = file:truncate(0, f.dir:path(f.part))
      if not ok then file:close() return self:fail(f, err) end
    else
      file, err = f.dir:open(f.part, { create = true, mode = self.o.mode or 384 })
      if not file then return self:fail(f, err) end
    end
    f.file, f.marked = file, true
    return self:fetch_single(f)
  end
  if file then f.file = file return self:restart(f, "a partial file without a record") end
  self:save(f, function(run, ff)
    local file, err = ff.dir:open(ff.part, { create = true, mode = run.o.mode or 384 })
    if not file then return run:fail(ff, err) end
    ff.file = file
    if run.connections > 1 and not ff.ask then return run:probe(ff) end
    run:fetch_single(ff)
  end, true)
end

-- From zero: the object changed, or what is on disk cannot be trusted.
function Run:restart(f, why)
  f.restarts = f.restarts + 1
  if f.restarts > MAX_RESTARTS then
    return self:fail(f, file_error(f, { kind = "http", message = ("%s: %s, again after %d restarts; giving up")
      :format(f.info.name, why, MAX_RESTARTS) }))
  end
  for _, t in pairs(f.transfers) do t.ticket:cancel() end
  f.transfers = {}
  f.resumed, f.checks, f.shown = false, nil, 0
  f.saved = {}
  if not f.file then
    local file, err = f.dir:open(f.part)
    if not file then return self:fail(f, err) end
    f.file = file
  end
  local ok, err = f.file:truncate(0, f.dir:path(f.part))
  if not ok then return self:fail(f, err) end
  self:save(f, function(run, ff)
    if run.connections > 1 then return run:probe(ff) end
    run:fetch_single(ff)
  end)
end

-- ---- fetch: one stream ------------------------------------------------------

-- One line per transfer and per answer, when the client's debug hook is on
-- (the sink scrubs the client's secrets; the file's own - its links' query
-- values, which a store may echo in a header - are scrubbed here first).
function Run:debug(f, ev)
  debuglog.emit(self.ctx.cfg, ev, self:secrets(f))
end

-- Are debug lines on?  (Their tables are built only then.)
function Run:debugging()
  return self.ctx.cfg and self.ctx.cfg.debug
end

local function range_note(spec)
  if not spec.range_start then return nil end
  return ("range %d-%s"):format(spec.range_start, spec.range_end and tostring(spec.range_end) or "")
end

function Run:transfer(f, piece, spec)
  spec.url, spec.deadline, spec.max_rate = f.url, self.deadline, self.rate_share
  spec.buffer_size = self.buffer_share
  local ticket, err = self.engine:start(spec)
  if not ticket then return self:fail(f, err) end
  f.transfers[ticket] = { ticket = ticket, piece = piece, spec = spec, started = self:now() }
  f.status = "fetch"
  if not self:debugging() then return end
  self:debug(f, { event = "download", method = "GET", url = f.url, note = range_note(spec),
    attempt = f.failures + 1, retries = self.policy.retries })
end

function Run:debug_result(f, t, r)
  if not self:debugging() then return end
  local h = r.headers or {}
  self:debug(f, { event = r.ok and "answer" or "error", method = "GET", url = t.spec.url, status = r.status,
    request_id = h["x-obs-request-id"] or h["x-request-id"], seconds = self:now() - t.started,
    bytes = r.bytes, err = r.error, note = range_note(t.spec), attempt = f.failures + 1 })
end

function Run:fetch_single(f)
  local st, err = f.file:stat(f.dir:path(f.part))
  if not st then return self:fail(f, err) end
  local size, saved = st.size, f.saved
  local spec = { file = f.file, offset = size, md5 = self.o.verify ~= false, md5_prefix = size,
    verify = self.o.verify ~= false, writeback = self.o.fsync ~= false }
  if size > 0 then
    spec.range_start = size
    spec.if_range = saved.etag or saved["last-modified"]
    spec.expect_etag, spec.expect_total = saved.etag, saved.total
    spec.expect_headers = verify.expect_headers(saved)
  elseif f.ask then
    -- unchanged since hcdl verified it? (304: yes, the file is kept)
    spec.headers = f.ask.etag and { ["If-None-Match"] = f.ask.etag }
      or { ["If-Modified-Since"] = f.ask.last_modified }
  end
  self:transfer(f, { single = true, start = size }, spec)
end

-- Records the first answer's validators (once), so later resumes can
-- prove they continue the same object.
function Run:learn(f, headers, total)
  local s = f.saved
  if s.etag or s["last-modified"] or not headers then return end
  verify.learn(s, headers)
  s.etag, s["last-modified"] = headers.etag, headers["last-modified"]
  s.total = s.total or total
  if s.etag or s["last-modified"] then f.state_dirty = true end
end

function Run:on_single(f, t, r)
  local piece = t.piece
  if r.ok then
    local total = total_of(r.headers)
    self:learn(f, r.headers, total)
    f.total = total or (piece.start + r.bytes)
    f.checks = r.checks
    return self:verify(f)
  end
  if r.status == 304 and f.ask and piece.start == 0 then return self:unchanged(f) end
  if r.status == 200 or r.status == 206 then self:learn(f, r.headers, total_of(r.headers)) end
  if r.status == 416 then return self:on_416(f, piece, r) end
  self:on_failure(f, r, function(run, ff) run:fetch_single(ff) end)
end

-- 304 to the conditional request: the file hcdl verified is current.
function Run:unchanged(f)
  if f.file then f.file:close() f.file = nil end
  self:when_idle(f, function(run, ff)
    ff.dir:remove(ff.part)
    ff.dir:remove(ff.state)
    ff.marked = nil
    local facts = ff.ask
    if ff.info.mtime == nil or facts.time == ff.info.mtime then return run:skip(ff, facts.size, facts) end
    -- the store vouched for the file at the entry's new time: recorded,
    -- so the next run need not ask again
    local now = {}
    for k, v in pairs(facts) do now[k] = v end
    now.time = ff.info.mtime
    run:after(ff, run:record_batch(ff):put(ff.name, now), function(run2, f2)
      run2:skip(f2, facts.size, facts) -- the record is a cache here: the file stands either way
    end)
  end)
end

-- 416: asked from where the .part ends.  Complete only if that is the end
-- and the bytes can be verified; anything else starts over.
function Run:on_416(f, piece, r)
  if not piece.start or piece.start == 0 then
    local kind, retryable = core.classify_status(416)
    return self:on_failure(f, { status = 416, headers = r.headers, error = file_error(f, {
      kind = kind, status = 416, retryable = retryable,
      message = f.info.name .. ": HTTP 416 to a request for the whole object" }) },
      function(run, ff) run:fetch_single(ff) end)
  end
  local s = f.saved
  local want = self.o.verify ~= false and (quoted_md5(s.etag) or verify.multipart_parts(s.etag) or s.crc64)
  if r.range_total == piece.start and want then
    f.total = piece.start
    return self:verify(f, "416")
  end
  self:restart(f, "the server says the partial file is complete, but it cannot be verified")
end

-- A transfer that did not succeed: refresh, restart, retry or fail.
function Run:on_failure(f, r, again)
  if is_expired(r) then return self:refresh(f, again) end
  local err = r.error
  if err and err.refused then return self:restart(f, err.message) end
  if err and err.kind == "io" then
    err.path = err.path or (f.dir and f.dir:path(f.part) or "sink")
    err.message = err.path .. ": " .. err.message
    err.name = f.info.name
    return self:fail(f, err)
  end
  if err then
    err.name = err.name or f.info.name
    err.status = err.status or (r.status ~= 0 and r.status or nil)
  else
    err = store_error(f, r)
  end
  if self.deadline and self:now() >= self.deadline then
    if err.kind ~= "timeout" then
      err = file_error(f, { kind = "timeout", message = f.info.name
        .. ": the download deadline passed (last error: " .. tostring(err.message) .. ")" })
    end
    return self:fail(f, err)
  end
  if err.retryable == false then return self:fail(f, err) end
  self:backoff(f, err, again)
end

function Run:backoff(f, err, again)
  f.failures = f.failures + 1
  if f.failures > self.policy.retries then return self:fail(f, err) end
  local delay = retry.delay(self.policy, f.failures, err)
  if self.deadline and self:now() + delay >= self.deadline then return self:fail(f, err) end
  f.status, f.wake_at, f.on_wake = "wait", self:now() + delay, again
end

function Run:refresh(f, again)
  if not self.o.refresh then
    return self:fail(f, file_error(f, { kind = "expired",
      message = f.info.name .. ": the link expired and no refresh is available" }))
  end
  f.refreshed = f.refreshed + 1
  if f.refreshed > MAX_REFRESH then
    return self:fail(f, file_error(f, { kind = "expired", message = ("%s: the link kept expiring after %d refreshes")
      :format(f.info.name, MAX_REFRESH) }))
  end
  local new, err = self.o.refresh(f.entry)
  if not new then
    return self:fail(f, err or file_error(f, { kind = "expired",
      message = f.info.name .. ": the link expired and could not be refreshed" }))
  end
  local info, ierr = entry_mod.describe(new)
  if not info then return self:fail(f, ierr) end
  f.entry, f.url, f.info.expires = new, info.url, info.expires
  f.urls[#f.urls + 1] = info.url
  again(self, f)
end

-- ---- fetch: ranges ------------------------------------------------------------

function Run:probe(f)
  local ticket, err = self.engine:start{ url = f.url, headers = { Range = "bytes=0-0" },
    max_body = 65536, deadline = self.deadline }
  if not ticket then return self:fail(f, err) end
  f.status = "fetch"
  self:after(f, ticket, function(run, ff, r)
    if r.status == 206 and r.range_total and r.range_total >= run.connections * MULTI_MIN then
      ff.saved = { total = r.range_total, etag = r.headers.etag,
        ["last-modified"] = r.headers["last-modified"] }
      verify.learn(ff.saved, r.headers)
      return run:plan_ranges(ff)
    end
    if r.status == 206 or r.status == 200 or (r.error and r.error.kind == "http") then
      return run:fetch_single(ff) -- small, or no ranges: one stream
    end
    run:on_failure(ff, r, function(rr, fff) rr:probe(fff) end)
  end)
end

function Run:plan_ranges(f)
  local total, n = f.saved.total, self.connections
  local size = math.floor(total / n)
  f.saved.ranges = {}
  for i = 1, n do
    local start = (i - 1) * size
    f.saved.ranges[i] = { start = start, stop = i == n and total - 1 or start + size - 1,
      done = 0, durable = 0, crc_len = 0 }
  end
  -- the record goes first: a preallocated .part without it would be
  -- taken by a later run for someone else's file
  self:save(f, function(run, ff)
    run:after(ff, core.task("allocate", { file = ff.file, size = total, path = ff.dir:path(ff.part),
      wake = run.engine }),
      function(r2, fff, ok, err)
        if not ok then return r2:fail(fff, err) end
        r2:fetch_ranges(fff)
      end)
  end)
end

function Run:fetch_ranges(f)
  local s = f.saved
  local pending = false
  for _, p in ipairs(s.ranges) do
    local from = p.start + p.done
    if from <= p.stop and not p.active then
      pending = true
      p.active = true
      self:transfer(f, p, { file = f.file, offset = from, range_start = from, range_end = p.stop,
        if_range = s.etag or s["last-modified"], expect_etag = s.etag, expect_total = s.total,
        expect_headers = verify.expect_headers(s), crc64 = self.o.verify ~= false and s.crc64 ~= nil,
        writeback = self.o.fsync ~= false, sync_every = self.o.fsync ~= false and SYNC_EVERY or 0 })
      if f.status == "failed" then return end
    elseif from <= p.stop then
      pending = true
    end
  end
  if not pending then
    f.total = s.total
    self:verify(f)
  end
end

function Run:on_range(f, t, r)
  local p = t.piece
  p.active = false
  p.done = p.done + (r.bytes or 0)
  verify.extend_range(p, r.checks, r.bytes)
  p.durable = p.durable + (self.o.fsync ~= false and (r.synced or 0) or (r.bytes or 0))
  f.state_dirty = true
  if r.ok then return self:fetch_ranges(f) end
  if r.status == 416 then return self:restart(f, "HTTP 416 to a range inside the object") end
  self:on_failure(f, r, function(run, ff) run:fetch_ranges(ff) end)
end

-- ---- stream to a sink ----------------------------------------------------------

function Run:start_stream(f)
  f.delivered = f.delivered or 0
  f.saved = f.saved or {}
  local spec = { stream = true }
  if f.delivered == 0 then
    -- from the first byte: the checks start with it (once the answer is known)
    f.stream_digest = nil
  else
    -- on from the next byte, the digest going on too
    spec.range_start = f.delivered
    spec.if_range = f.saved.etag or f.saved["last-modified"]
    spec.expect_etag, spec.expect_total = f.saved.etag, f.saved.total
    spec.expect_headers = verify.expect_headers(f.saved)
  end
  self:transfer(f, { stream = true, start = f.delivered }, spec)
end

function Run:deliver(f, t)
  local chunk = t.ticket:read()
  if #chunk == 0 then return true end
  if f.delivered == 0 and not f.stream_digest and self.o.verify ~= false then
    local h = t.ticket:headers() or {}
    local s = { etag = h.etag }
    verify.learn(s, h)
    f.stream_digest = core.verifier(verify.pass_spec(s, total_of(h), true))
  end
  if f.stream_digest then f.stream_digest:update(chunk) end
  f.delivered = f.delivered + #chunk
  local ok, err
  if type(f.sink) == "function" then
    ok, err = pcall(f.sink, chunk)
    if ok and err == false then ok, err = false, "the sink returned false" end
  else
    ok, err = f.sink:write(chunk)
  end
  if not ok then
    self:fail(f, file_error(f, { kind = "io", path = "sink",
      message = f.info.name .. ": the sink refused the data (sink: " .. tostring(err) .. ")" }))
    return false
  end
  return true
end

function Run:on_stream(f, t, r)
  if r.ok then
    local total = total_of(r.headers)
    self:learn(f, r.headers, total)
    f.total = total or f.delivered
    return self:verify(f)
  end
  if r.status == 200 or r.status == 206 then self:learn(f, r.headers, total_of(r.headers)) end
  if r.error and r.error.refused then
    -- the sink already has bytes of the first object: it cannot be undone
    return self:fail(f, file_error(f, { kind = "integrity", path = "sink", message = f.info.name
      .. ": the object changed after " .. f.delivered .. " bytes were delivered to the sink ("
      .. r.error.message .. ")" }))
  end
  self:on_failure(f, r, function(run, ff) run:start_stream(ff) end)
end

-- ---- verify and commit ---------------------------------------------------------

--- download.size_check(info, size) -> ok, beyond: does a file of `size`
-- bytes agree with what the entry lists?  For an entry that may still
-- grow (info.growing) the listed size is a lower bound: more bytes agree
-- (beyond = true: the next run asks again), fewer never do.
function download.size_check(info, size)
  if entry_mod.size_agrees(info, size) then return true, false end
  if not info.growing then return false end
  if info.exact then return size > info.exact, true end
  if info.kb then return size > (info.kb - 1) * 1024, true end
  return true, false
end

function Run:integrity(f, msg)
  if f.sink then
    return self:fail(f, file_error(f, { kind = "integrity", path = "sink", message = f.info.name .. ": " .. msg }))
  end
  if f.resumed and not f.fresh_retry then
    -- the bytes kept from an earlier attempt may be the bad ones: once
    f.fresh_retry = true
    return self:restart(f, msg)
  end
  if f.file then f.file:close() f.file = nil end
  f.dir:remove(f.part)
  f.dir:remove(f.state)
  f.marked = nil
  self:fail(f, file_error(f, { kind = "integrity", message = ("%s: %s; the partial file was removed, "
    .. "so the next run starts afresh"):format(f.info.name, msg) }))
end

function Run:verify(f, via)
  f.status = "verify"
  local size
  if f.sink then
    size = f.delivered
  else
    local st, err = f.file:stat(f.dir:path(f.part))
    if not st then return self:fail(f, err) end
    size = st.size
  end
  if f.total and size ~= f.total then
    return self:integrity(f, ("%d bytes received, the server announced %d"):format(size, f.total))
  end
  local listed_ok, beyond = download.size_check(f.info, size)
  if not listed_ok then
    return self:integrity(f, f.info.exact and ("%d bytes, the service listed %d"):format(size, f.info.exact)
      or ("%d bytes, the service listed %d KB"):format(size, f.info.kb))
  end
  f.grown = beyond or nil
  local sized = f.total ~= nil or f.info.exact ~= nil or f.info.kb ~= nil
  if self.o.verify == false then
    return self:verified(f, { verified = sized and { "size" } or {} }, size)
  end
  if f.sink then return self:judge(f, f.stream_digest and f.stream_digest:result(), sized, size) end
  if f.checks and via ~= "416" then return self:judge(f, f.checks, sized, size) end
  -- ranges (or a 416): one pass over the file, the CRC-64 combined from
  -- the ranges when they saw every byte
  local s = f.saved
  local combined = via ~= "416" and s.crc64 and verify.combine_ranges(s.ranges) or nil
  local spec = verify.pass_spec(s, size, not combined)
  spec.file, spec.path, spec.wake = f.file, f.dir:path(f.part), self.engine
  self:after(f, core.task("verify", spec), function(run, ff, checks, err)
    if not checks then return run:fail(ff, err) end
    if combined then checks.crc64 = combined end
    run:judge(ff, checks, sized, size)
  end)
end

-- The checks against what the store said: commit, or nothing under the name.
function Run:judge(f, checks, sized, size)
  local out, bad = verify.judge(f.saved, checks, sized)
  if not out then return self:integrity(f, bad) end
  if self.o.verify == "strict" and not verify.proves(out.verified) then
    return self:unproven(f, out)
  end
  self:verified(f, out, size)
end

function Run:verified(f, out, size)
  f.verified, f.unverified, f.part_size, f.md5 = out.verified, out.unverified, out.part_size, out.md5
  f.bytes = size
  self:commit(f)
end

-- verify = "strict" and only the size could be checked: the bytes may be
-- right, but nothing proves it; the file is not kept.
function Run:unproven(f, out)
  local msg = ('%s: verify = "strict", and the bytes could be checked only by their size (%s)')
    :format(f.info.name, #out.unverified > 0 and ("unchecked: " .. table.concat(out.unverified, ", "))
      or "the store gave no MD5, multipart ETag or CRC-64, and the format carries no checksum")
  if not f.sink then
    if f.file then f.file:close() f.file = nil end
    f.dir:remove(f.part)
    f.dir:remove(f.state)
    f.marked = nil
    msg = msg .. "; the partial file was removed"
  end
  self:fail(f, file_error(f, { kind = "integrity", path = f.sink and "sink" or nil, message = msg }))
end

function Run:commit(f)
  if f.sink then
    return self:finish(f, { resumed = f.restarts == 0 and f.failures > 0 })
  end
  f.status = "commit"
  if f.file then f.file:close() f.file = nil end
  self:when_idle(f, function(run, ff) run:commit_now(ff) end)
end

function Run:commit_now(f)
  self:after(f, core.task("commit", { dir = f.dir, part = f.part, final = f.name, state = f.state,
    fsync = self.o.fsync ~= false, mtime = f.info.mtime, wake = self.engine }), function(run, ff, ok, err)
    if not ok then return run:fail(ff, err) end
    ff.marked = nil -- renamed into place
    -- the file is complete and verified under its name: its slot is free
    -- now, and its facts reach the record in the background (the run
    -- returns once they are on disk, see drain_records)
    local op, rerr = run:record(ff)
    if not op then ff.record_error = rerr else run.record_ops[#run.record_ops + 1] = { f = ff, op = op } end
    run:finish(ff, {})
  end)
end

-- Waits until every record write the run started has landed; a file
-- whose facts could not be written stays done (its bytes are verified),
-- and says so in its result (record_error): the next run, finding no
-- record, decides by the entry's size and time alone.
function Run:drain_records()
  for _, r in ipairs(self.record_ops) do
    while not r.op:ready() do
      local w = r.op.batch.writing
      if w then self.h.wait(w.task, 1) else self.h.sleep(0.01) end
    end
    local ok, err = r.op:result()
    if not ok then r.f.record_error = err end
  end
  self.record_ops = {}
end

-- What the directory's record says of f (nil: nothing), read once per
-- directory and run: files recorded during the run are not decided again.
function Run:recorded(f)
  self.records = self.records or {}
  local r = self.records[f.dir]
  if not r then
    local err
    r, err = record.load(f.dir)
    if not r then return nil, err end
    self.records[f.dir] = r
  end
  return r.files[f.name]
end

-- What was verified, when the engine did not say (size, and MD5 when an
-- ETag gave one).
local function verified_of(f)
  if f.verified then return f.verified end
  local v = { "size" }
  if f.md5 then v[2] = "md5" end
  return v
end

-- The record writer of f's directory, shared by the run's files there.
function Run:record_batch(f)
  self.record_batches = self.record_batches or {}
  local batch = self.record_batches[f.dir] or record.batch(f.dir, self.o.fsync ~= false)
  self.record_batches[f.dir] = batch
  return batch
end

-- The facts of a file just renamed into place, into the directory's
-- record (hcdl.record): what a later run's skip relies on.  An op that is
-- done once they are on disk; the files of one directory share a batch,
-- so the record is rewritten once per batch, not once per file.
function Run:record(f)
  local st, err = f.dir:stat(f.name)
  if not st then
    return nil, err or file_error(f, { kind = "io", message = f.final_path .. " vanished after it was renamed into place" })
  end
  f.verified = verified_of(f)
  local s = f.saved or {}
  return self:record_batch(f):put(f.name, { size = f.bytes, time = f.info.mtime, etag = s.etag,
    last_modified = s["last-modified"], md5 = f.md5, crc64 = s.crc64, version_id = s["version-id"],
    verified = f.verified, part_size = f.part_size, mtime = st.mtime, at = os.time(), grown = f.grown })
end

-- ---- the scheduler ----------------------------------------------------------------

function Run:checkpoint(f, now)
  if not (f.saved and f.saved.ranges) or f.writing or f.status ~= "fetch" then return end
  if not f.state_dirty and now - (f.checkpointed or 0) < CHECKPOINT then return end
  local moved = f.state_dirty
  for _, t in pairs(f.transfers) do
    local written, synced = t.ticket:progress()
    local d = self.o.fsync ~= false and synced or written
    if d > (t.recorded or 0) then
      t.piece.durable = t.piece.durable + d - (t.recorded or 0)
      t.recorded = d
      moved = true
    end
  end
  f.checkpointed = now
  if moved then self:save(f) end
end

-- Single streams: once the validators are known, record them, so a killed
-- run resumes with If-Range; only for a transfer that has run a second (a
-- small file is done before it could be interrupted, and is spared the
-- flush).
function Run:record_single(f, now)
  if not f.state_dirty or f.writing or not f.saved or f.saved.ranges or f.sink
    or f.status ~= "fetch" then return end
  for _, t in pairs(f.transfers) do
    if now - t.started >= 1 then return self:save(f) end
  end
end

function Run:poll_file(f)
  local progressed = false
  if f.writing and f.writing:ready() then
    self:saved_done(f)
    progressed = true
    if f.status == "failed" then return true end
  end
  if f.pending and f.pending.op:ready() then
    local p = f.pending
    f.pending = nil
    p.k(self, f, p.op:result())
    progressed = true
  end
  -- a snapshot: handling a result may start new transfers
  local current = {}
  for key, t in pairs(f.transfers) do current[#current + 1] = { key, t } end
  for _, kt in ipairs(current) do
    local key, t = kt[1], kt[2]
    if f.status == "failed" then break end
    local finished = t.ticket:finished()
    if t.piece.stream and not self:deliver(f, t) then return true end
    if not finished and t.piece.single and not (f.saved.etag or f.saved["last-modified"]) then
      -- record the first answer's validators as soon as they arrive
      local h = t.ticket:headers()
      if h then self:learn(f, h, total_of(h)) end
    end
    if finished then
      local r = t.ticket:result()
      f.transfers[key] = nil
      progressed = true
      self:debug_result(f, t, r)
      if f.status ~= "failed" then
        if t.piece.single then self:on_single(f, t, r)
        elseif t.piece.stream then self:on_stream(f, t, r)
        else self:on_range(f, t, r) end
      end
    end
  end
  return progressed
end

function Run:terminal(f)
  return f.status == "done" or f.status == "failed" or f.status == "skipped"
end

-- The files started and not finished, in entry order: all the loop looks
-- at, so an event costs what the `concurrency` files in flight cost, not
-- what every file of a long list costs (queued and finished files have
-- nothing to poll).
function Run:live_files()
  local kept = {}
  for _, f in ipairs(self.live) do
    if not self:terminal(f) then kept[#kept + 1] = f end
  end
  self.live = kept
  return kept
end

-- Files start in entry order, `concurrency` transferring at a time.  A
-- file being committed (flushed, renamed, its directory flushed: disk
-- work on a task thread) no longer holds a slot, so the next file's
-- transfer overlaps it; at most `concurrency` more files are committing
-- (each holds its lock and a descriptor or two).
function Run:admit()
  local live, files = self:live_files(), self.files
  local active, held = 0, #live
  for _, f in ipairs(live) do
    if f.status ~= "commit" then active = active + 1 end
  end
  while active < self.concurrency and held < 2 * self.concurrency and self.next_queued <= #files do
    local f = files[self.next_queued]
    self.next_queued = self.next_queued + 1
    if f.status == "queued" then
      if self.stop_new then
        self:fail(f, file_error(f, { kind = "auth", not_started = true, status = self.stop_new.status,
          message = f.info.name .. ": not started: an earlier file failed with an authentication error ("
            .. tostring(self.stop_new.message) .. ")" }))
      else
        self:start_file(f)
        if not self:terminal(f) then
          active, held = active + 1, held + 1
          self.live[#self.live + 1] = f
        end
      end
    end
  end
end

function Run:wake_timers(now)
  local next_wake
  for _, f in ipairs(self.live) do
    if f.status == "wait" then
      if now >= f.wake_at then
        f.status = "fetch"
        local k = f.on_wake
        f.on_wake = nil
        k(self, f)
      elseif not next_wake or f.wake_at < next_wake then
        next_wake = f.wake_at
      end
    end
  end
  return next_wake
end

-- Where the run stands: bytes done, bytes expected, and per file.
function Run:standing()
  local done, total, info = 0, 0, { files = {} }
  for i, f in ipairs(self.files) do
    local fd = 0
    if f.status == "done" or f.status == "skipped" then
      fd = f.bytes or 0
    elseif f.sink then
      fd = f.delivered or 0
    elseif f.saved and f.saved.ranges then
      for _, p in ipairs(f.saved.ranges) do fd = fd + p.done end
      for _, t in pairs(f.transfers) do fd = fd + (t.ticket:progress()) end
    elseif next(f.transfers) then
      for _, t in pairs(f.transfers) do fd = fd + t.piece.start + (t.ticket:progress()) end
    elseif f.file then
      local st = f.file:stat()
      fd = st and st.size or 0
    end
    -- between transfers (a backoff, verifying, committing) the bytes are
    -- still there: progress only goes back when the file restarts from zero
    if f.status ~= "done" and f.status ~= "skipped" then
      fd = math.max(fd, f.shown or 0)
      f.shown = fd
    end
    -- a finished file is as large as what it holds: the last call says done == total
    local finished = f.status == "done" or f.status == "skipped"
    local ft = finished and fd or f.total or (f.saved and f.saved.total) or f.info.exact
      or (f.info.kb and f.info.kb * 1024) or nil
    local state = f.status == "queued" and "queued" or f.status == "done" and "done"
      or f.status == "skipped" and "skipped" or f.status == "failed" and "failed" or "active"
    info.files[i] = { name = f.info.name, done = fd, total = ft, state = state }
    done, total = done + fd, total + (ft or fd)
  end
  return done, total, info
end

function Run:report_progress(now, done, total, info)
  local dt = now - self.last_progress
  local rate = dt > 0 and math.max(0, done - self.last_done) / dt or 0
  self.last_done, self.last_total = done, total
  local go_on = self.o.progress(done, total, rate, info)
  -- measured from the end of this call: never more often than the interval
  self.last_progress = self:now()
  if go_on == false then self.cancelled = true end
end

function Run:progress(now)
  if not self.o.progress or now - self.last_progress < self.progress_interval then return end
  self:report_progress(now, self:standing())
end

-- The last call says where the run ended (finished files done == total),
-- unless the previous call already did; still no sooner than the interval.
function Run:final_progress()
  if not self.o.progress then return end
  local done, total, info = self:standing()
  if done == self.last_done and total == self.last_total then return end
  local left = self.progress_interval - (self:now() - self.last_progress)
  if self.last_total and left > 0 then self.h.sleep(left) end
  self:report_progress(self:now(), done, total, info)
end

function Run:all_terminal()
  if #self:live_files() > 0 then return false end
  for i = self.next_queued, #self.files do
    if not self:terminal(self.files[i]) then return false end
  end
  return true
end

-- Something to wait on: any transfer ending (or streaming), any task done.
function Run:waitable()
  local e, since = self.engine, self.engine:events()
  -- the run's own tasks (userdata) wake the engine when they end
  -- (core.task's `wake`); a record op (a table) has to be looked at
  local tasks, unwoken = {}, false
  for _, f in ipairs(self.live) do
    local op = f.pending and f.pending.op
    if op and op.ready then
      tasks[#tasks + 1] = op
      if type(op) ~= "userdata" then unwoken = true end
    end
    if f.writing then tasks[#tasks + 1] = f.writing end
  end
  local function any_task()
    for _, k in ipairs(tasks) do if k:ready() then return true end end
    return false
  end
  return {
    ready = function() return e:ready(since) or any_task() end,
    wait = function(_, t)
      if any_task() then return true end
      if #tasks > 0 and not e:busy() then
        -- only threads of ours to wait for: sleep on the first one still
        -- running (the others are looked at when it ends, or in 20 ms)
        for _, k in ipairs(tasks) do
          if not k:ready() then k:wait(math.min(t, 0.02)) break end
        end
        return any_task()
      end
      -- a task's end moves the engine's events on, as a transfer's does;
      -- a record op is looked at every 20 ms
      return e:wait(unwoken and math.min(t, 0.02) or t, since) or any_task()
    end,
  }
end

function Run:cancel_all(why)
  -- the finished files' facts: a moment to land, no more (hcdl.record)
  for _, r in ipairs(self.record_ops) do r.op:wait(2) end
  for _, f in ipairs(self.files) do
    if not self:terminal(f) then
      for _, t in pairs(f.transfers) do t.ticket:cancel() end
    end
  end
  -- let the cancelled transfers report what they wrote, then record it
  local deadline = core.now() + 2
  for _, f in ipairs(self.files) do
    for key, t in pairs(f.transfers) do
      while not t.ticket:ready() and core.now() < deadline do t.ticket:wait(0.05) end
      local r = t.ticket:result()
      f.transfers[key] = nil
      if r and t.piece and not t.piece.single and not t.piece.stream then
        t.piece.done = t.piece.done + (r.bytes or 0)
        t.piece.durable = t.piece.durable + (self.o.fsync ~= false and (r.synced or 0) or (r.bytes or 0))
      end
    end
    if f.writing then f.writing:wait(5) f.writing = nil end
    if f.saved and (f.saved.ranges or f.marked) and f.dir and f.status ~= "done" then
      local k = core.task("write", { dir = f.dir, name = f.state, data = encode_state(f.saved),
        fsync = self.o.fsync ~= false })
      k:wait(10)
    end
    if f.pending and f.pending.op.wait then f.pending.op:wait(10) end
    if not self:terminal(f) then
      f.status, f.err = "failed", file_error(f, { kind = "io", cancelled = true,
        message = f.info.name .. ": " .. why .. " (the partial file is kept for the next run)" })
    end
    if f.file then f.file:close() f.file = nil end
  end
end

-- Every file lock still held (files that failed with a task in flight):
-- released once their tasks are done.
function Run:release_all()
  for _, f in ipairs(self.files) do
    if f.lock then
      if f.writing then f.writing:wait(10) end
      if f.pending and f.pending.op.wait then f.pending.op:wait(10) end
      self:release(f)
    end
  end
end

function Run:loop()
  while true do
    local now = self:now()
    if self.deadline and now >= self.deadline then
      for _, f in ipairs(self.files) do
        if not self:terminal(f) then
          self:fail(f, file_error(f, { kind = "timeout", message = f.info.name .. ": the download deadline passed" }))
        end
      end
    end
    self:admit()
    local progressed = false
    for _, f in ipairs(self:live_files()) do
      if not self:terminal(f) and self:poll_file(f) then progressed = true end
    end
    local next_wake = self:wake_timers(self:now())
    -- facts put into the record while its last write was in flight
    for _, batch in pairs(self.record_batches or {}) do batch:pump() end
    local now = self:now()
    for _, f in ipairs(self:live_files()) do
      if not self:terminal(f) then
        self:checkpoint(f, now)
        self:record_single(f, now)
      end
    end
    self:progress(self:now())
    if self.cancelled then return self:cancel_all("cancelled") end
    if self:all_terminal() then break end
    if not progressed then
      local timeout = self.progress_interval
      if next_wake then timeout = math.min(timeout, math.max(0.001, next_wake - self:now())) end
      if self.deadline then timeout = math.min(timeout, math.max(0.001, self.deadline - self:now())) end
      self.h.wait(self:waitable(), timeout)
    end
  end
  self:drain_records()
  self:final_progress()
end

-- The secrets of a file's result: the client's, and every link it used.
function Run:secrets(f)
  local list = redact.list()
  for _, s in ipairs(self.ctx.secrets or {}) do list.add(s) end
  for _, u in ipairs(f.urls) do redact.add_link(list, u) end
  return list
end

function Run:results()
  local out = {}
  for i, f in ipairs(self.files) do
    local r = { ok = f.status == "done" or f.status == "skipped", path = f.final_path, name = f.info.name,
      err = f.err, skipped = f.status == "skipped" or nil, bytes = f.bytes, md5 = f.md5,
      resumed = f.resumed, refreshed = f.refreshed, status = f.status == "done" and "downloaded" or f.status,
      verified = f.status ~= "failed" and f.verified or nil, grown = f.grown,
      unverified = f.status ~= "failed" and f.unverified and #f.unverified > 0 and f.unverified or nil,
      part_size = f.status ~= "failed" and f.part_size or nil,
      record_error = f.record_error and redact.error(f.record_error, self:secrets(f)) or nil }
    if r.err then r.err = redact.error(r.err, self:secrets(f)) end
    out[i] = r
  end
  return out
end

--- Downloads files; the engine behind client:download and download_all.
-- jobs: list of { entry =, dir = <core.dir handle>, dir_path =, name =,
--   sink = <fn or file handle> }.
-- ctx: { engine =, host =, secrets = {...}, cfg = <client config, for debug lines> }.
-- Returns one result per job: { ok, path, name, err, skipped, bytes, md5,
-- resumed, refreshed, status }.
function download.run(jobs, o, ctx)
  local run = setmetatable({
    o = o, ctx = ctx, h = ctx.host, engine = ctx.engine, files = {},
    concurrency = o.concurrency or 1, connections = o.connections or 1,
    policy = { retries = o.retries or 8, base = 0.5, cap = 10 },
    progress_interval = o.progress_interval or 0.1, record_ops = {},
    live = {}, next_queued = 1,
  }, Run)
  local gc_known, gc_running = pcall(collectgarbage, "isrunning")
  run.gc_step = gc_known and gc_running == true
  run.last_progress, run.last_done = run:now(), 0
  run.deadline = o.deadline and (run:now() + o.deadline) or nil
  -- max_rate is for the whole call: an even share for each transfer that
  -- may run at once
  if o.max_rate then
    local parallel = math.min(run.concurrency, math.max(1, #jobs)) * run.connections
    run.rate_share = math.max(MIN_RATE_SHARE, math.floor(o.max_rate / parallel))
  end
  -- libcurl's receive buffer is per transfer: transfers that run at once
  -- share what one stream gets, so a run's memory does not grow with its
  -- concurrency (see docs/architecture.md "One download, end to end")
  local budget = o.buffer_size or (ctx.cfg and ctx.cfg.buffer_size) or BUFFER_DEFAULT
  local parallel = math.min(run.concurrency, math.max(1, #jobs)) * run.connections
  run.buffer_share = o.buffer_size
  if parallel > 1 then
    run.buffer_share = math.min(budget, math.max(MIN_RECV_SHARE, math.floor(budget / parallel)))
  end
  for i, job in ipairs(jobs) do
    run.files[i] = new_file(run, job, i)
  end
  local ok, err = pcall(Run.loop, run)
  if not ok then
    -- interrupted (Ctrl-C in a script raises "interrupted!") or a bug:
    -- stop the transfers, keep what is on disk resumable, then re-raise
    pcall(Run.cancel_all, run, "interrupted")
    pcall(Run.release_all, run)
    error(err, 0)
  end
  run:release_all()
  return run:results()
end

return download
