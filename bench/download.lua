-- bench/download.lua - hcdl's downloader as a command, for bench/download.
--   lua bench/download.lua [--connections N] [--no-fsync] [--cafile PATH]
--                          [--expect-verified WHAT] URL DEST
--   lua bench/download.lua --concurrency N [--no-fsync] [--cafile PATH] --list LISTFILE DIR
--   lua bench/download.lua --verify PATH [--expect-verified WHAT]
-- LISTFILE: one "URL NAME" pair per line.  --verify re-checks a file hcdl
-- downloaded (client:verify_file, what `hcdl verify PATH` runs).
-- --expect-verified fails unless the result's `verified` list has WHAT (a
-- benchmark of a check must not time a download that skipped it).  Prints
-- nothing on success; exits 1 with the error on stderr otherwise.
local hcdl = require "hcdl"

local opts, args, i = {}, {}, 1
while i <= #arg do
  local a = arg[i]
  if a == "--connections" or a == "--concurrency" or a == "--cafile" or a == "--list"
    or a == "--verify" or a == "--expect-verified" then
    opts[a:sub(3)] = arg[i + 1]
    i = i + 2
  elseif a == "--no-fsync" then
    opts.no_fsync = true
    i = i + 1
  else
    args[#args + 1] = a
    i = i + 1
  end
end

-- Downloads need no API credentials; the client only carries TLS settings.
local client = assert(hcdl.new{
  project_id = string.rep("0", 32), ak = "bench", sk = "bench",
  endpoints = { rds = "http://127.0.0.1:1" }, cafile = opts.cafile,
})

local function fail(err)
  io.stderr:write(tostring(err), "\n")
  os.exit(1)
end

local function expect(r)
  local want = opts["expect-verified"]
  if not want then return end
  for _, v in ipairs(r.verified or {}) do
    if v == want then return end
  end
  fail(("%s was not verified by %s (verified: %s)"):format(r.path or "?", want,
    table.concat(r.verified or {}, ",")))
end

if opts.verify then
  if not client.verify_file then fail("this hcdl has no client:verify_file") end
  local r, err = client:verify_file(opts.verify)
  if not r then fail(err) end
  if not r.ok then fail(r.err or "not verified") end
  expect(r)
elseif opts.list then
  local entries = {}
  for line in io.lines(opts.list) do
    local url, name = line:match("^(%S+)%s+(%S+)$")
    if url then entries[#entries + 1] = { url = url, name = name } end
  end
  local report, err = client:download_all(entries, args[1], {
    concurrency = tonumber(opts.concurrency or 8), fsync = not opts.no_fsync })
  if not report or not report.ok then fail(err) end
else
  local r, err = client:download(args[1], args[2], { connections = tonumber(opts.connections or 1),
    fsync = not opts.no_fsync })
  if not r then fail(err) end
  expect(r)
end
