--- hcdl.download: download policy.  Bytes move in C (hcdl.core.fetch); this
-- module decides what to fetch, and when a file counts as finished.
--
-- The rules, for people who run this unattended:
-- * bytes go to `<dest>.part`; only a complete, verified file is flushed
--   (fsync) and renamed to `<dest>`, so nothing that looks finished is
--   ever half-written.  An existing `<dest>` is skipped: re-running a
--   batch is cheap and idempotent;
-- * an interrupted download resumes from the `.part` size with Range; a
--   server that ignores Range (200) or answers another range restarts the
--   file cleanly instead of appending;
-- * the size must match (Content-Length/Content-Range, and the entry's own
--   size), and a quoted-MD5 ETag must match the MD5 of the bytes; on a
--   mismatch the `.part` is kept and an "integrity" error returned;
-- * expired links (403 "Request has expired", or an expiry already past)
--   are refreshed through opts.refresh(entry), by default by asking the
--   API again for the same file, and the download resumes;
-- * network drops and 5xx are retried with backoff within a deadline;
-- * file names from the service are untrusted and checked before a byte
--   is written; link queries (signatures) never appear in errors.
local core = require "hcdl.core"
local retry = require "hcdl.retry"

local download = {}

local MAX_NAME = 255

local OPTIONS = {
  connections = "number", concurrency = "number", progress = "function",
  refresh = "function", deadline = "number", retries = "number",
  buffer_size = "number", fsync = "boolean", verify = "boolean",
}

local function input(field, msg)
  return nil, core.error{ kind = "input", field = field, message = field .. ": " .. msg }
end

--- The URL without its query: what may appear in messages.
function download.redact(url)
  return (tostring(url):gsub("%?.*$", "?<signed query>"))
end

--- Checks a file name that came from a service (or a URL).
function download.safe_name(name)
  if type(name) ~= "string" or name == "" then return nil, "is empty" end
  if #name > MAX_NAME then return nil, ("is longer than %d bytes"):format(MAX_NAME) end
  if name:find("[/\\]") then return nil, "contains a path separator" end
  if name:find("%.%.") or name == "." then return nil, "contains '..' or is '.'" end
  if name:find("[%z\1-\31\127]") then return nil, "contains a control character" end
  return name
end

local function url_decode(s)
  return (s:gsub("%%(%x%x)", function(h) return string.char(tonumber(h, 16)) end))
end

local parse_time = require("hcdl.timefmt").parse_offset

--- What hcdl knows about any file entry the five APIs return, or a URL.
-- Returns { url, name, exact (bytes), kb (approximate size), expires } or nil, err.
function download.describe(entry)
  local info = {}
  if type(entry) == "string" then
    info.url = entry
  elseif type(entry) == "table" then
    info.url = entry.download_link or entry.file_link or entry.link or entry.url
    info.name = entry.name or entry.file_name
    if entry.file_size ~= nil then               -- PostgreSQL: bytes as a string
      info.exact = tonumber(entry.file_size)
    elseif type(entry.size) == "number" then     -- TaurusDB, RDS: KB
      info.kb = entry.size
    end
    info.expires = parse_time(entry.link_expired_time)
  end
  if type(info.url) ~= "string" or not info.url:match("^https?://") then
    return input("entry", "has no http(s) link (download_link, file_link or link)")
  end
  local path = info.url:match("^https?://[^/]*(/[^?#]*)") or "/"
  if not info.name then
    info.name = url_decode(path:match("([^/]*)$") or "")
  end
  if not info.expires then
    local e = info.url:match("[?&]Expires=(%d+)")
    info.expires = e and tonumber(e) or nil
  end
  return info
end

--- describe(entry), when its file name will name a file on disk: an
-- "input" error (field "name") unless the name is safe.
function download.describe_named(entry)
  local info, err = download.describe(entry)
  if not info then return nil, err end
  local ok, why = download.safe_name(info.name)
  if not ok then
    return nil, core.error{ kind = "input", field = "name", name = info.name,
      message = ("file name %s refused: %s"):format(string.format("%q", tostring(info.name)):sub(1, 80), why) }
  end
  return info
end

-- ---------------------------------------------------------------------------
-- One file's state across rounds.

local function new_file(entry, dest)
  local info, err = download.describe(entry)
  if not info then return nil, err end
  return {
    entry = entry, info = info, url = info.url, final = dest, part = dest .. ".part",
    state = dest .. ".part.ranges", pieces = nil, total = info.exact, etag = nil,
    refreshed = 0, resumed = false, failures = 0,
  }
end

-- The byte ranges still to fetch for a file, from disk.
local function plan(f, connections)
  local part_size = core.file_size(f.part)
  local sf = io.open(f.state, "r")
  if sf then
    -- a multi-connection download was under way: continue its ranges
    local total = tonumber(sf:read("*l") or "")
    local pieces = {}
    for line in sf:lines() do
      local a, b, done = line:match("^(%d+) (%d+) (%d+)$")
      if a then pieces[#pieces + 1] = { start = tonumber(a), stop = tonumber(b), done = tonumber(done) } end
    end
    sf:close()
    if total and #pieces > 0 and part_size == total then
      f.total, f.pieces, f.multi = total, pieces, true
      for _, p in ipairs(pieces) do if p.done > 0 then f.resumed = true end end
      return true
    end
    os.remove(f.state) -- unusable: start over
    core.truncate(f.part, 0)
    part_size = 0
  end
  if connections > 1 and f.total and f.total >= connections * 1024 * 1024 then
    local pieces, size = {}, math.floor(f.total / connections)
    for i = 1, connections do
      local start = (i - 1) * size
      pieces[i] = { start = start, stop = (i == connections) and f.total - 1 or start + size - 1, done = 0 }
    end
    f.pieces, f.multi = pieces, true
    -- The state goes first: a preallocated .part without its state must
    -- never be mistaken by a later run for a finished single download.
    local ok, err = download.save_state(f)
    if not ok then return nil, err end
    return core.allocate(f.part, f.total)
  end
  f.multi = false
  local offset = part_size or 0
  if offset > 0 then f.resumed = true end
  f.pieces = { { start = offset, stop = nil, done = 0, single = true } }
  return true
end

function download.save_state(f)
  local tmp = f.state .. ".tmp"
  local out = io.open(tmp, "w")
  if not out then
    return nil, core.error{ kind = "io", path = f.state, message = "cannot write " .. f.state }
  end
  out:write(("%d\n"):format(f.total))
  for _, p in ipairs(f.pieces) do out:write(("%d %d %d\n"):format(p.start, p.stop, p.done)) end
  out:close()
  return core.rename(tmp, f.state)
end

local function transfers_for(f, buffer, o)
  local writeback = o.fsync ~= false -- the file will be fsync'd: start writing early
  for _, p in ipairs(f.pieces) do
    if p.single then
      buffer[#buffer + 1] = { file = f, piece = p, spec = {
        url = f.url, path = f.part, offset = p.start, md5 = true, md5_prefix = p.start,
        range_start = p.start > 0 and p.start or nil, writeback = writeback } }
    elseif p.start + p.done <= p.stop then
      local from = p.start + p.done
      buffer[#buffer + 1] = { file = f, piece = p, spec = {
        url = f.url, path = f.part, offset = from, range_start = from, range_end = p.stop,
        writeback = writeback } }
    end
  end
end

local function quoted_md5(etag)
  if type(etag) ~= "string" then return nil end
  return etag:match('^"?(%x%x%x%x%x%x%x%x%x%x%x%x%x%x%x%x%x%x%x%x%x%x%x%x%x%x%x%x%x%x%x%x)"?$')
end

local function integrity(f, msg)
  return nil, core.error{ kind = "integrity", path = f.part, name = f.info.name,
    message = ("%s: %s (the partial file is kept at %s)"):format(f.info.name, msg, f.part) }
end

-- All bytes are on disk: check them, flush, rename.  Returns true or nil, err.
local function finalize(f, o, streamed_md5)
  local size, serr = core.file_size(f.part)
  if not size then return nil, serr or core.error{ kind = "io", message = f.part .. " vanished" } end
  if f.total and size ~= f.total then
    return integrity(f, ("%d bytes on disk, the server announced %d"):format(size, f.total))
  end
  if f.info.exact and size ~= f.info.exact then
    return integrity(f, ("%d bytes, the service listed %d"):format(size, f.info.exact))
  end
  if f.info.kb and math.abs(size / 1024 - f.info.kb) >= 1 then
    return integrity(f, ("%d bytes, the service listed %d KB"):format(size, f.info.kb))
  end
  local want = o.verify ~= false and quoted_md5(f.etag)
  if want then
    local got = streamed_md5
    if not got then
      local err
      got, err = core.md5_file(f.part)
      if not got then return nil, err end
    end
    if got ~= want:lower() then
      return integrity(f, ("MD5 %s does not match the ETag %s"):format(got, want))
    end
    f.md5 = got
  end
  if o.fsync ~= false then
    local ok, err = core.fsync(f.part)
    if not ok then return nil, err end
  end
  local ok, err = core.rename(f.part, f.final)
  if not ok then return nil, err end
  os.remove(f.state)
  if o.fsync ~= false then
    core.fsync(f.final:match("^(.*)/[^/]*$") or ".")
  end
  f.bytes = size
  return true
end

local function is_expired(res)
  return res.status == 403 and type(res.body) == "string" and res.body:find("Request has expired", 1, true)
end

local function store_error(f, res)
  local code = type(res.body) == "string" and res.body:match("<Code>([^<]+)</Code>") or nil
  local msg = type(res.body) == "string" and res.body:match("<Message>([^<]+)</Message>") or nil
  return core.error{ kind = res.status == 403 and "auth" or "http", status = res.status, code = code,
    request_id = res.headers and (res.headers["x-obs-request-id"] or res.headers["x-request-id"]) or nil,
    retryable = res.status == 429 or res.status >= 500, name = f.info.name,
    message = ("%s: %s answered HTTP %d%s"):format(f.info.name, download.redact(f.url), res.status,
      msg and (" (" .. msg .. ")") or "") }
end

-- Refreshes an expired link: true, or nil, err.
local function refresh(f, o)
  if not o.refresh then
    return nil, core.error{ kind = "expired", name = f.info.name,
      message = ("%s: the link expired and no refresh is available"):format(f.info.name) }
  end
  f.refreshed = f.refreshed + 1
  if f.refreshed > 5 then
    return nil, core.error{ kind = "expired", name = f.info.name,
      message = ("%s: the link kept expiring after %d refreshes"):format(f.info.name, f.refreshed - 1) }
  end
  local new, err = o.refresh(f.entry)
  if not new then
    return nil, err or core.error{ kind = "expired", name = f.info.name,
      message = f.info.name .. ": the link expired and could not be refreshed" }
  end
  local info, ierr = download.describe(new)
  if not info then return nil, ierr end
  f.entry, f.url = new, info.url
  f.info.expires = info.expires
  return true
end

-- Settles one transfer result into the file's state.  Returns one of
-- "piece-done", "again" (re-plan now), "retry" (after a backoff), or
-- nil, err (the file failed).
local function settle(f, piece, res)
  f.etag = f.etag or (res.headers and res.headers.etag)
  if res.ok then
    if piece.single then
      if res.status == 200 then
        f.total = tonumber(res.headers["content-length"]) or (piece.start + res.bytes)
      elseif res.range_total and res.range_total >= 0 then
        f.total = res.range_total
      end
      piece.md5 = res.md5
      piece.complete = true
    else
      piece.done = piece.done + res.bytes
      if piece.start + piece.done <= piece.stop then return "retry" end
    end
    return "piece-done"
  end
  if not piece.single then piece.done = piece.done + (res.bytes or 0) end
  if res.status == 416 and piece.single then
    -- asked from where the .part ends: if that is the end, all bytes are here
    if res.range_total and res.range_total == piece.start then
      f.total = res.range_total
      piece.complete = true
      return "piece-done"
    end
    core.truncate(f.part, 0) -- the .part is longer than the object: start over
    return "again"
  end
  if is_expired(res) then return "expired" end
  local err = res.error
  if err and err.refused then
    -- 200 to a range request, or another range: restart cleanly
    if piece.single then core.truncate(f.part, 0) else f.abandon_multi = true end
    return "again"
  end
  if err and err.kind == "io" then return nil, err end
  if not err then err = store_error(f, res) end
  err.name = err.name or f.info.name
  if err.retryable == false then return nil, err end
  f.last_error = err
  return "retry"
end

--- Downloads many files; the engine behind client:download and download_all.
-- jobs: list of { entry =, dest = }.  Returns a list of per-job results
-- { ok =, path =, err =, skipped =, bytes =, md5 =, resumed =, refreshed = }.
function download.run(jobs, o, net)
  local policy = { retries = o.retries or 8, base = 0.5, cap = 10 }
  local deadline = core.now() + (o.deadline or 3600)
  local results, files = {}, {}
  for i, job in ipairs(jobs) do
    local f, err = new_file(job.entry, job.dest)
    if not f then
      results[i] = { ok = false, err = err, path = job.dest }
    elseif core.file_size(job.dest) then
      results[i] = { ok = true, skipped = true, path = job.dest, name = f.info.name }
    else
      f.index = i
      files[#files + 1] = f
    end
  end

  -- refresh links that are known to be expired already (a hint only: the
  -- server's clock decides, so without a refresh we try anyway)
  for _, f in ipairs(files) do
    if f.info.expires and f.info.expires <= os.time() and o.refresh then
      local ok, err = refresh(f, o)
      if not ok then f.failed = err end
    end
  end

  -- several connections need the size first (entries in KB are not exact)
  if (o.connections or 1) > 1 then
    for _, f in ipairs(files) do
      if not f.failed and not f.total and not core.file_size(f.state) then
        local res = net.probe(f.url)
        if res and res.status == 206 then
          f.total = tonumber((res.headers["content-range"] or ""):match("/(%d+)$"))
          f.etag = res.headers.etag
        end
      end
    end
  end

  local round = 0
  while true do
    local pending = {}
    for _, f in ipairs(files) do
      if not f.failed and not f.finished then
        if not f.pieces or f.replan then
          f.replan = false
          if f.abandon_multi then
            os.remove(f.state)
            core.truncate(f.part, 0)
            f.abandon_multi, f.multi, f.pieces = false, false, nil
            o.connections = 1
          end
          local ok, err = plan(f, f.force_single and 1 or (o.connections or 1))
          if not ok then f.failed = err end
        end
        if not f.failed then pending[#pending + 1] = f end
      end
    end
    if #pending == 0 then break end
    round = round + 1

    local transfers, specs = {}, {}
    for _, f in ipairs(pending) do transfers_for(f, transfers, o) end
    for i, t in ipairs(transfers) do specs[i] = t.spec end

    local on_disk = 0
    for _, f in ipairs(pending) do
      for _, p in ipairs(f.pieces) do on_disk = on_disk + (p.single and p.start or p.done) end
    end
    local total_known = 0
    for _, f in ipairs(files) do total_known = total_known + (f.total or f.info.exact or (f.info.kb or 0) * 1024) end
    local last_t, last_b = core.now(), 0
    local progress = o.progress and function(bytes)
      local now = core.now()
      local rate = (now - last_t) > 0 and (bytes - last_b) / (now - last_t) or 0
      last_t, last_b = now, bytes
      return o.progress(on_disk + bytes, total_known, rate)
    end or nil

    local results_round, cancelled = core.fetch{
      transfers = specs, concurrency = o.concurrency or #specs, buffer_size = o.buffer_size,
      connect_timeout = net.connect_timeout, cafile = net.cafile, verify_tls = net.verify_tls,
      proxy = net.proxy, user_agent = net.user_agent, progress = progress, progress_interval = 0.1,
      low_speed_limit = 1, low_speed_time = net.low_speed_time or 60,
    }
    if cancelled then
      for _, f in ipairs(pending) do
        if f.multi then download.save_state(f) end
        f.failed = core.error{ kind = "io", name = f.info.name, message = f.info.name .. ": cancelled (the partial file is kept)" }
      end
      break
    end

    local wait = false
    for i, t in ipairs(transfers) do
      local f, p = t.file, t.piece
      if not f.failed then
        local outcome, err = settle(f, p, results_round[i])
        if outcome == nil then
          f.failed = err
        elseif outcome == "expired" then
          local ok, rerr = refresh(f, o)
          if not ok then f.failed = rerr else f.replan = not f.multi end
        elseif outcome == "again" then
          f.replan = true
          f.restarts = (f.restarts or 0) + 1
          if f.restarts > 3 then
            f.force_single = true
          end
          if f.restarts > 6 then
            f.failed = core.error{ kind = "http", name = f.info.name,
              message = f.info.name .. ": the server keeps answering a different range than asked" }
          end
        elseif outcome == "retry" then
          f.failures = f.failures + 1
          f.replan = not f.multi
          if f.failures > policy.retries then
            f.failed = f.last_error or core.error{ kind = "network", name = f.info.name,
              message = f.info.name .. ": gave up after " .. f.failures .. " failed attempts" }
          else
            wait = true
          end
        end
      end
    end
    for _, f in ipairs(pending) do
      if f.multi and not f.failed then download.save_state(f) end
      if not f.failed then
        local all = true
        for _, p in ipairs(f.pieces) do
          if p.single then all = all and p.complete
          else all = all and (p.start + p.done > p.stop) end
        end
        if all and not f.replan then
          local single = f.pieces[1].single and f.pieces[1] or nil
          local ok, err = finalize(f, o, single and single.md5 or nil)
          if ok then f.finished = true else f.failed = err end
        end
      end
    end
    if wait then
      local d = retry.delay(policy, round, nil)
      if core.now() + d >= deadline then
        for _, f in ipairs(files) do
          if not f.finished and not f.failed then
            f.failed = f.last_error or core.error{ kind = "timeout", name = f.info.name,
              message = f.info.name .. ": download deadline reached" }
            if f.multi then download.save_state(f) end
          end
        end
        break
      end
      net.sleep(d)
    end
    if core.now() >= deadline then
      for _, f in ipairs(files) do
        if not f.finished and not f.failed then
          f.failed = core.error{ kind = "timeout", name = f.info.name, message = f.info.name .. ": download deadline reached" }
        end
      end
      break
    end
  end

  for _, f in ipairs(files) do
    results[f.index] = {
      ok = f.finished == true, err = f.failed, path = f.final, name = f.info.name,
      bytes = f.bytes, md5 = f.md5, resumed = f.resumed, refreshed = f.refreshed,
    }
  end
  return results
end

--- Validates download options: nil, or err.
function download.check_options(opts)
  if opts == nil then return nil end
  if type(opts) ~= "table" then
    error("hcdl: download options must be a table", 3)
  end
  for k, v in pairs(opts) do
    if not OPTIONS[k] then
      return select(2, input(tostring(k), "unknown option (known: buffer_size, concurrency, connections, deadline, fsync, progress, refresh, retries, verify)"))
    end
    if type(v) ~= OPTIONS[k] then
      return select(2, input(k, "must be a " .. OPTIONS[k]))
    end
  end
  if opts.connections and (opts.connections < 1 or opts.connections > 16 or opts.connections % 1 ~= 0) then
    return select(2, input("connections", "must be a whole number from 1 to 16"))
  end
  if opts.concurrency and (opts.concurrency < 1 or opts.concurrency > 64 or opts.concurrency % 1 ~= 0) then
    return select(2, input("concurrency", "must be a whole number from 1 to 64"))
  end
  return nil
end

return download
