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
local MAX_BYTES = 64 * 1024 * 1024
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

-- Sleeps the way the caller's host does (ngx.sleep in OpenResty, a
-- yield in a Neovim task), blocking only where blocking is allowed.
local function sleep(seconds)
  local h = require("hcdl.host").current()
  if h then return h.sleep(seconds) end
  core.sleep(seconds)
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
    sleep(0.01)
  end
end

local function write(dir, text, fsync)
  local task = core.task("write", { dir = dir, name = record.NAME, data = text, fsync = fsync ~= false })
  while not task:wait(3600) do end
  return task:result()
end

-- Read-modify-write under the lock: change(files) edits the table.
local function update(dir, change, fsync)
  local held, lerr = lock(dir)
  if not held then return nil, lerr end
  local r, err = record.load(dir)
  if not r then held:close() return nil, err end
  change(r.files)
  local ok, werr = write(dir, encode(r.files), fsync)
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

return record
