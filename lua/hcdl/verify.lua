--- What a file's bytes were checked against, and what that proves.
-- The C core computes (core.verifier, the "verify" task, transfers with
-- `verify = true`); this module decides: which of the store's answers can
-- be checked, whether the checks hold, and the `verified` list of a result:
--   "size"                       the length the store (or service) announced
--   "md5"                        the MD5 of a plain ETag
--   "etag-multipart:<part size>" a multipart ETag, its part size found
--   "crc64"                      the store's CRC-64/XZ header
--   "rdb" | "rdb-no-checksum"    a Redis RDB's own CRC-64 (or its structure
--                                only: the server saved with checksums off)
--   "xbstream"                   every chunk's CRC-32, the stream complete
--   "gzip"                       every member's CRC-32 and length
local core = require "hcdl.core"
local record = require "hcdl.record"

local verify = {}

-- The spellings of the store's CRC-64 (decimal), first found wins.
verify.CRC64_HEADERS = { "x-obs-hash-crc64ecma", "x-obs-checksum-crc64ecma",
  "x-amz-checksum-crc64ecma", "x-obs-meta-crc64ecma", "x-amz-meta-crc64ecma" }

local ORDER = { size = 1, md5 = 2, ["etag-multipart"] = 3, crc64 = 4, rdb = 5,
  ["rdb-no-checksum"] = 5, xbstream = 6, gzip = 7 }

-- Checks that prove the bytes, not only their number (strict mode).
local PROVES = { md5 = true, ["etag-multipart"] = true, crc64 = true, rdb = true,
  xbstream = true, gzip = true }

--- The hex of a plain MD5 ETag, or nil.
function verify.quoted_md5(etag)
  if type(etag) ~= "string" then return nil end
  local hex = etag:match('^"(%x+)"$') or etag:match("^(%x+)$")
  return hex and #hex == 32 and hex:lower() or nil
end

--- "<hex>-N" (quotes optional): the number of parts, or nil.
function verify.multipart_parts(etag)
  if type(etag) ~= "string" then return nil end
  local hex, n = (etag:match('^"(.*)"$') or etag):match("^(%x+)%-([1-9]%d*)$")
  return hex and #hex == 32 and #n <= 5 and tonumber(n) or nil
end

-- A decimal unsigned 64-bit value, without leading zeros; nil if not one.
local function decimal(v)
  if type(v) ~= "string" then return nil end
  local digits = v:match("^%s*(%d+)%s*$")
  if not digits or #digits > 20 then return nil end
  digits = digits:gsub("^0+", "")
  if digits == "" then return "0" end
  if #digits == 20 and digits > "18446744073709551615" then return nil end
  return digits
end
verify.decimal = decimal

--- The store's CRC-64 of the object and the header it came in, or nil.
function verify.crc64_of(headers)
  for _, name in ipairs(verify.CRC64_HEADERS) do
    local v = headers and decimal(headers[name])
    if v then return v, name end
  end
  return nil
end

--- Records what later answers must repeat (state: crc64, version-id).
function verify.learn(saved, headers)
  if not headers then return end
  if saved.crc64 == nil then saved.crc64, saved["crc64-header"] = verify.crc64_of(headers) end
  if saved["version-id"] == nil and type(headers["x-obs-version-id"]) == "string" then
    saved["version-id"] = headers["x-obs-version-id"]
  end
end

--- Headers a resumed answer must carry unchanged (for a transfer spec).
function verify.expect_headers(saved)
  local h
  if saved.crc64 and saved["crc64-header"] then
    h = { [saved["crc64-header"]] = saved.crc64 }
  end
  if saved["version-id"] then
    h = h or {}
    h["x-obs-version-id"] = saved["version-id"]
  end
  return h
end

--- The checks a file pass needs (the "verify" task / core.verifier).
function verify.pass_spec(saved, total, want_crc)
  return { md5 = verify.quoted_md5(saved.etag) ~= nil,
    etag = verify.multipart_parts(saved.etag) and saved.etag or nil, size = total,
    crc64 = want_crc and saved.crc64 ~= nil, formats = true }
end

local function add(list, what)
  list[#list + 1] = what
end

local function sorted(list)
  table.sort(list, function(a, b)
    return ORDER[a:match("^[^:]+")] < ORDER[b:match("^[^:]+")]
  end)
  return list
end

local function judge_etag(saved, checks, out)
  local want = verify.quoted_md5(saved.etag)
  if want then
    if checks.md5 ~= want then
      return ("MD5 %s does not match the ETag %s"):format(tostring(checks.md5), want)
    end
    add(out.verified, "md5")
    out.md5 = checks.md5
    return nil
  end
  local parts = verify.multipart_parts(saved.etag)
  if not parts then return nil end
  if checks.part_size then
    add(out.verified, "etag-multipart:" .. ("%d"):format(checks.part_size))
    out.part_size = checks.part_size
  elseif checks.multipart_strong then
    return ("the bytes do not match the multipart ETag %s with any usual part size"
      .. " (the part sizes uploaders use fit this object)"):format(saved.etag)
  else
    add(out.unverified, "etag-multipart")
    out.notes[#out.notes + 1] = ("multipart ETag of %d parts not checked: its part size is none"
      .. " of the %d tried"):format(parts, checks.multipart_candidates or 0)
  end
  return nil
end

--- Judges the checks against what the store said.
-- saved: { etag, crc64 }; checks: the verifier's table; sized: the size
-- was checked.  Returns out = { verified, unverified, notes, part_size,
-- md5 } or nil, message (the bytes are not the object's).
function verify.judge(saved, checks, sized)
  checks = checks or {}
  local out = { verified = {}, unverified = {}, notes = {} }
  if sized then add(out.verified, "size") end
  local bad = judge_etag(saved, checks, out)
  if bad then return nil, bad end
  if saved.crc64 then
    if checks.crc64 == nil then
      add(out.unverified, "crc64")
    elseif decimal(checks.crc64) ~= saved.crc64 then
      return nil, ("CRC-64 %s does not match the store's %s"):format(checks.crc64, saved.crc64)
    else
      add(out.verified, "crc64")
    end
  end
  if checks.format_error then
    return nil, checks.format .. ": " .. checks.format_error
  end
  if checks.format_verified then add(out.verified, checks.format_verified) end
  if checks.format_unchecked then
    add(out.unverified, checks.format)
    out.notes[#out.notes + 1] = checks.format .. ": " .. checks.format_unchecked
  end
  sorted(out.verified)
  return out
end

--- True when something beyond the size proved the bytes.
function verify.proves(list)
  for _, v in ipairs(list or {}) do
    if PROVES[v:match("^[^:]+")] then return true end
  end
  return false
end

--- CRC-64 of the ranges, in order, when each covers all its bytes; else nil.
-- ranges: { start, stop, crc, crc_len }.
function verify.combine_ranges(ranges)
  local crc
  for _, p in ipairs(ranges or {}) do
    if not p.crc or p.crc_len ~= p.stop - p.start + 1 then return nil end
    crc = crc and core.crc64_combine(crc, p.crc, p.crc_len) or p.crc
  end
  return crc
end

--- Adds a transfer's CRC-64 of its bytes to its range (in order).
function verify.extend_range(p, checks, bytes)
  if not checks and (bytes or 0) == 0 then return end -- nothing written
  if not (checks and checks.crc64) or p.crc_len == nil then
    p.crc_len = nil -- not all bytes of this range were seen: a pass decides
    return
  end
  p.crc = p.crc and core.crc64_combine(p.crc, checks.crc64, checks.bytes) or checks.crc64
  p.crc_len = p.crc_len + checks.bytes
end

-- ---- files already on disk -------------------------------------------------

-- The directory record's facts of a file (hcdl.record); nil when there
-- are none or the record cannot be read.
local function record_facts(dir, name)
  local facts = record.get(dir, name)
  return type(facts) == "table" and facts or nil
end

local function split_path(path)
  local dir, name = path:match("^(.*)/([^/]+)$")
  if not dir then return ".", path end
  return dir == "" and "/" or dir, name
end

-- What the record lets a pass check: ETag-like facts for judge().
local function record_claims(facts)
  if not facts then return {} end
  local etag = facts.md5 and ('"' .. facts.md5 .. '"')
    or (verify.multipart_parts(facts.etag) and facts.etag) or nil
  return { etag = etag, crc64 = decimal(facts.crc64) }
end

local function run_pass(h, dir, name, size, claims)
  local file, err = dir:open(name, { read_only = true })
  if not file then return nil, err end
  local spec = verify.pass_spec(claims, size, true)
  spec.file, spec.path = file, dir:path(name)
  local task = core.task("verify", spec)
  while not h.wait(task, 1) do end
  local checks, terr = task:result()
  file:close()
  return checks, terr
end

--- Re-checks a file on disk against its directory record (size, digests)
-- and its own format.  h: the host (waits without blocking its loop).
-- Returns { path, ok, verified, unverified?, notes?, err? }.
function verify.file(path, h, opts)
  local res = { path = path, ok = false, verified = {} }
  local dir_path, name = split_path(path)
  local dir, err = core.dir(dir_path)
  if not dir then res.err = err return res end
  local st, serr = dir:stat(name)
  if not st or st.type ~= "file" then
    dir:close()
    res.err = serr or core.error{ kind = "io", path = path, message = path
      .. (st and " is not a regular file" or ": no such file") }
    return res
  end
  local facts = record_facts(dir, name)
  if facts and facts.size ~= st.size then
    dir:close()
    res.err = core.error{ kind = "integrity", path = path, message = ("%s: %d bytes, its record says %d")
      :format(path, st.size, facts.size) }
    return res
  end
  local claims = record_claims(facts)
  local checks, perr = run_pass(h, dir, name, st.size, claims)
  dir:close()
  if not checks then res.err = perr return res end
  local out, bad = verify.judge(claims, checks, facts ~= nil)
  if not out then
    res.err = core.error{ kind = "integrity", path = path, message = path .. ": " .. bad }
    return res
  end
  res.verified, res.part_size = out.verified, out.part_size
  if #out.unverified > 0 then res.unverified = out.unverified end
  if not facts then res.notes = { "no record of this file: only its own format was checked" } end
  if opts and opts.strict and not verify.proves(out.verified) then
    res.err = core.error{ kind = "integrity", path = path, message = path
      .. ": nothing but its size could be checked (strict)" }
    return res
  end
  res.ok = true
  return res
end

return verify
