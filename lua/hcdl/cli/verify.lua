--- hcdl.cli.verify: `hcdl verify [-r] [--strict] [--json] PATH...`
-- Re-checks files already on disk against their directory record (size,
-- digests) and their own format (lua/hcdl/verify.lua); one line per file:
--   ok    PATH  size md5 crc64 gzip
--   FAIL  PATH  what does not hold
-- Exit status: 0 when every file holds, 1 when any does not, 2 usage.
-- No credentials are needed: nothing is asked of a service.
local argparse = require "argparse"
local core = require "hcdl.core"
local json = require "hcdl.json"
local host = require "hcdl.host"
local text = require "hcdl.text"
local verify = require "hcdl.verify"

local M = {}

local MAX_LINE = 400

-- hcdl's own files in a directory: never verified as downloads.
local function is_ours(name)
  return name == ".hcdl-record.json" or name == ".hcdl-record.lock"
    or name:find("%.part$") ~= nil or name:find("%.part%.state$") ~= nil
    or name:find("%.part%.state%.tmp$") ~= nil
end

-- A path or message as one printable line: the one rule of everything
-- the command prints (hcdl.text.shown).
local function visible(s)
  return text.shown(s, MAX_LINE)
end

local function parser()
  local p = argparse("hcdl verify", "Re-check downloaded files against their record (size, MD5, "
    .. "multipart ETag, CRC-64) and their own format (RDB, xbstream, gzip).")
    :help_max_width(79)
  p:argument("paths", "Files (or directories, with -r)."):args("+"):argname("PATH")
  p:flag("-r --recursive", "Check every file under the directories given.")
  p:flag("--strict", "A file whose bytes could be checked only by size does not hold.")
  p:flag("--json", 'One JSON object {"files": [{"path", "ok", "verified", "error"}]}.')
  return p
end

local function shell_quote(s)
  return "'" .. s:gsub("'", "'\\''") .. "'"
end

-- Every regular file under dir (find -print0: any byte in a name is safe).
local function walk(dir, out)
  local f = io.popen("find " .. shell_quote(dir) .. " -type f -print0 2>/dev/null")
  if not f then return end
  local all = f:read("*a") or ""
  f:close()
  local list = {}
  for path in all:gmatch("([^%z]+)%z") do
    if not is_ours(path:match("([^/]*)$")) then list[#list + 1] = path end
  end
  table.sort(list)
  for _, p in ipairs(list) do out[#out + 1] = p end
end

local function targets(a)
  local out, bad = {}, {}
  for _, p in ipairs(a.paths) do
    if core.is_dir(p) then
      if a.recursive then walk(p, out) else bad[#bad + 1] = p end
    else
      out[#out + 1] = p
    end
  end
  return out, bad
end

local function line(r)
  if r.ok then
    local what = #r.verified > 0 and table.concat(r.verified, " ") or "nothing to check"
    if r.unverified then what = what .. " (not checked: " .. table.concat(r.unverified, ", ") .. ")" end
    return ("ok    %s  %s"):format(visible(r.path), what)
  end
  local msg = type(r.err) == "table" and r.err.message or tostring(r.err)
  if msg:sub(1, #r.path + 2) == r.path .. ": " then msg = msg:sub(#r.path + 3) end
  return ("FAIL  %s  %s"):format(visible(r.path), visible(msg))
end

--- Runs `hcdl verify ...` (argv without "verify"): the exit status.
function M.main(argv)
  local ok, a = parser():pparse(argv)
  if not ok then
    io.stderr:write("hcdl verify: ", a, " (see 'hcdl verify --help')\n")
    return 2
  end
  local h, herr = host.current()
  if not h then io.stderr:write(visible(tostring(herr)), "\n") return 4 end
  local paths, dirs = targets(a)
  local results, all_ok = {}, #dirs == 0
  for _, d in ipairs(dirs) do
    results[#results + 1] = { path = d, ok = false, verified = {},
      err = { message = "is a directory (use -r to check the files under it)" } }
  end
  for _, p in ipairs(paths) do
    local r = verify.file(p, h, { strict = a.strict })
    results[#results + 1] = r
    all_ok = all_ok and r.ok
  end
  if a.json then
    local files = {}
    for i, r in ipairs(results) do
      files[i] = { path = r.path, ok = r.ok, verified = r.verified, part_size = r.part_size,
        unverified = r.unverified, error = r.err and (type(r.err) == "table" and r.err.message or tostring(r.err)) }
    end
    io.stdout:write(json.encode({ files = files }), "\n")
  else
    for _, r in ipairs(results) do io.stdout:write(line(r), "\n") end
  end
  return all_ok and 0 or 1
end

return M
