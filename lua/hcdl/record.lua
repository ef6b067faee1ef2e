--- hcdl.record: what hcdl verified about the files of one directory.
--
-- One small JSON file per directory, `.hcdl-record.json`:
--
--   { "hcdl_record": 1, "files": { "<name>": { facts }, ... } }
--
-- facts: { size = <exact bytes>, time = <the entry's time, epoch s, or nil>,
--   etag =, last_modified =, md5 = <hex or nil>, crc64 = <decimal string or
--   nil>, version_id =, verified = { "size", "md5", ... }, part_size =,
--   mtime = <the local mtime hcdl set>, at = <when>, grown = <true when the
--   store delivered more than the entry listed> }
--
-- Numbers are written as decimal strings (a JSON library may round a
-- 53-bit size or a nanosecond mtime) and read back as numbers.
--
-- Writes are read-modify-write while holding an flock on
-- `.hcdl-record.lock` (held for milliseconds; the kernel releases it if
-- the holder dies), the new text going to a temporary file in the same
-- directory that is flushed and renamed over the record (core.task
-- "write"): two processes recording different files of one directory both
-- keep their facts, and a crash leaves the old record or the new one.
--
-- A record hcdl cannot read (not JSON, another version, wrong shapes) is
-- ignored: load returns an empty record with `invalid` saying why, and the
-- next put rewrites it.  The record is what marks a file as hcdl's:
-- retention (max_age, keep) removes only files and directories it names.
local core = require "hcdl.core"
local json = require "hcdl.json"

local record = {}

record.NAME = ".hcdl-record.json"
record.LOCK = ".hcdl-record.lock"
local VERSION = 1
local MAX_BYTES = require("hcdl.configfile").MAX_BYTES.record
local LOCK_WAIT = 30 -- seconds: holders keep it for one small write

local NUMBERS = { size = true, time = true, part_size = true, mtime = true, at = true }
local STRINGS = { etag = true, last_modified = true, md5 = true, crc64 = true, version_id = true }

-- Facts as read from the file: only known fields of the right shape.
local function clean_facts(raw)
  if type(raw) ~= "table" then return nil end
  local f = {}
  for k in pairs(NUMBERS) do
    local v = raw[k]
    if type(v) == "string" then v = tonumber(v) end
    if type(v) == "number" and v == v and v >= 0 and v < 2 ^ 63 then f[k] = v end
  end
  for k in pairs(STRINGS) do
    if type(raw[k]) == "string" then f[k] = raw[k] end
  end
  if raw.grown == true then f.grown = true end
  f.verified = {}
  if type(raw.verified) == "table" then
    for _, v in ipairs(raw.verified) do
      if type(v) == "string" then f.verified[#f.verified + 1] = v end
    end
  end
  if not f.size then return nil end
  return f
end

local function number_text(v)
  if v == math.floor(v) and v < 2 ^ 53 then return ("%d"):format(v) end
  return ("%.17g"):format(v)
end

local function encode(files)
  local out = {}
  for name, facts in pairs(files) do
    local f = { verified = facts.verified or {}, grown = facts.grown or nil }
    for k in pairs(NUMBERS) do
      if type(facts[k]) == "number" then f[k] = number_text(facts[k]) end
    end
    for k in pairs(STRINGS) do f[k] = facts[k] end
    if #f.verified == 0 then f.verified = nil end
    out[name] = f
  end
  local text = json.encode({ hcdl_record = VERSION, files = next(out) and out or nil })
  return text
end

--- Decodes the record's text: { files = { [name] = facts } } (with
-- `invalid` = why, when it could not be used).
function record.decode(text)
  local data = json.decode(text)
  if type(data) ~= "table" then return { files = {}, invalid = "not JSON" } end
  if data.hcdl_record ~= VERSION then return { files = {}, invalid = "not a version 1 record" } end
  local files = {}
  if data.files ~= nil and type(data.files) ~= "table" then
    return { files = {}, invalid = "its files are not an object" }
  end
  for name, raw in pairs(data.files or {}) do
    if type(name) == "string" then files[name] = clean_facts(raw) end
  end
  return { files = files }
end

--- record.load(dir) -> { files = { [name] = facts }, invalid = nil|why } | nil, err
function record.load(dir)
  local st = dir:stat(record.NAME)
  if st and st.size and st.size > MAX_BYTES then
    -- over the limit (README: Limits): like any record hcdl cannot use
    return { files = {}, invalid = ("%s was ignored (larger than %d bytes)"):format(dir:path(record.NAME), MAX_BYTES) }
  end
  local text, err = dir:read(record.NAME, MAX_BYTES)
  if text == nil then return nil, err end
  if text == false then return { files = {} } end
  local r = record.decode(text)
  if r.invalid then r.invalid = dir:path(record.NAME) .. " was ignored (" .. r.invalid .. ")" end
  return r
end

--- record.get(dir, name) -> facts | nil (no record of it) | nil, err
function record.get(dir, name)
  local r, err = record.load(dir)
  if not r then return nil, err end
  return r.files[name]
end

-- The caller's host (ngx.sleep in OpenResty, a yield in a Neovim task),
-- so that waiting never blocks an event loop; plain Lua blocks.
local function current_host()
  return require("hcdl.host").current() or require("hcdl.host").plain
end

-- The record's lock: waits up to LOCK_WAIT seconds (holders keep it only
-- for one write), then an io error with busy = true.
local function lock(dir)
  local deadline = core.now() + LOCK_WAIT
  while true do
    local l, err = dir:lock(record.LOCK)
    if l then return l end
    if l == nil then return nil, err end
    if core.now() >= deadline then
      return nil, core.error{ kind = "io", busy = true, path = dir:path(record.LOCK),
        message = "another process holds " .. dir:path(record.LOCK) .. " (the record's lock)" }
    end
    current_host().sleep(0.01)
  end
end

local function write_task(dir, files, fsync)
  return core.task("write", { dir = dir, name = record.NAME, data = encode(files), fsync = fsync ~= false })
end

local function write(dir, files, fsync)
  local task, h = write_task(dir, files, fsync), current_host()
  while not h.wait(task, 3600) do end
  return task:result()
end

-- Read-modify-write under the lock: change(files) edits the table.
local function update(dir, change, fsync)
  local held, lerr = lock(dir)
  if not held then return nil, lerr end
  local r, err = record.load(dir)
  if not r then held:close() return nil, err end
  change(r.files)
  local ok, werr = write(dir, r.files, fsync)
  held:close()
  if not ok then return nil, werr end
  return true
end

--- record.put(dir, name, facts [, fsync]) -> true | nil, err
function record.put(dir, name, facts, fsync)
  return update(dir, function(files) files[name] = facts end, fsync)
end

--- record.remove(dir, name [, fsync]) -> true | nil, err
function record.remove(dir, name, fsync)
  return update(dir, function(files) files[name] = nil end, fsync)
end

-- ---------------------------------------------------------------------------
-- Batched puts, for a download run: many files of one directory recorded
-- without blocking the run's loop and without rewriting the record once
-- per file.  batch:put(name, facts) returns an op (ready/result/wait, as a
-- task) that is done once a write holding those facts is on disk.  One
-- write is in flight at a time and holds the lock until it lands; facts
-- put meanwhile go into the next one, which starts BATCH_INTERVAL seconds
-- after the last one started at the soonest, unless someone waits for it
-- (op:ready(), op:wait(), batch:pump(true)): each write is the whole
-- record, so a run of many small files rewrites it a few times a second
-- rather than once per landed write.  The lock is tried, never waited on,
-- at each poll, for LOCK_WAIT seconds at most.
local BATCH_INTERVAL = 0.2

local Batch, Op = {}, {}
Batch.__index, Op.__index = Batch, Op

--- record.batch(dir [, fsync]) -> a batch for one directory.
function record.batch(dir, fsync)
  return setmetatable({ dir = dir, fsync = fsync, queued = {}, ops = {} }, Batch)
end

local function settle(ops, ok, err)
  for _, op in ipairs(ops) do op.done, op.ok, op.err = true, ok, err end
end

--- batch:pump([now]) lands the write in flight, if it has; then starts
-- the next one (at once with `now`, else once BATCH_INTERVAL has passed).
function Batch:pump(now)
  local w = self.writing
  if w then
    if not w.task:ready() then return end
    local ok, err = w.task:result()
    -- what this batch wrote, known by its inode (each write is a new
    -- file renamed into place): the next write needs no re-read of it
    -- unless another process wrote since
    local st = ok and self.dir:stat(record.NAME)
    self.known = st and { id = st.id, size = st.size, files = w.files } or nil
    w.lock:close()
    self.writing = nil
    settle(w.ops, ok, err)
  end
  if #self.ops == 0 then return end
  if not now and self.started and core.now() - self.started < BATCH_INTERVAL then return end
  local held, lerr = self.dir:lock(record.LOCK)
  if held == false then
    self.busy_since = self.busy_since or core.now()
    if core.now() - self.busy_since < LOCK_WAIT then return end
    lerr = core.error{ kind = "io", busy = true, path = self.dir:path(record.LOCK),
      message = "another process holds " .. self.dir:path(record.LOCK) .. " (the record's lock)" }
  end
  self.busy_since = nil
  local r, err
  if held then
    local st, k = self.dir:stat(record.NAME), self.known
    if k and st and st.id == k.id and st.size == k.size then r = { files = k.files }
    else r, err = record.load(self.dir) end
  end
  if not r then
    if held then held:close() end
    settle(self.ops, nil, lerr or err)
    self.queued, self.ops = {}, {}
    return
  end
  for name, facts in pairs(self.queued) do r.files[name] = facts end
  self.started = core.now()
  self.writing = { task = write_task(self.dir, r.files, self.fsync), lock = held, ops = self.ops, files = r.files }
  self.queued, self.ops = {}, {}
end

--- batch:put(name, facts) -> op: op:ready(), op:result() -> true | nil, err.
function Batch:put(name, facts)
  local op = setmetatable({ batch = self }, Op)
  self.queued[name] = facts
  self.ops[#self.ops + 1] = op
  self:pump()
  return op
end

function Op:ready()
  if not self.done then self.batch:pump(true) end
  return self.done == true
end

function Op:result()
  if self.ok then return true end
  return nil, self.err
end

-- Blocks up to t seconds (a cancelled run waiting for what it started).
function Op:wait(t)
  local deadline = core.now() + t
  while not self:ready() and core.now() < deadline do
    local w = self.batch.writing
    if w then w.task:wait(math.min(0.05, math.max(0, deadline - core.now()))) else core.sleep(0.01) end
  end
  return self.done == true
end

return record
