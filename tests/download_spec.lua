-- Downloads against the emulator's object store and its faults: resume,
-- refresh of expired links, retries, integrity, unsafe names, full and
-- read-only destinations, batches.
local hcdl = require "hcdl"
local core = require "hcdl.core"
local fixture = require "tests.support.fixture"
local helpers = require "tests.support.helpers"
local shell = require "tests.support.shell"

local sh = shell.ok

local function md5(path)
  return core.md5_file(path)
end

-- The bytes the emulator serves for (name, size), computed by its own tool.
local expected_md5 = helpers.expected_md5

local function exists(path) return core.file_size(path) ~= false end

describe("downloads", function()
  local emu, client, dir

  local fx = fixture.emulator{ dir = "made" }
  setup(function() emu, client = fx:start() end)
  teardown(function() fx:stop() end)
  before_each(function() dir = fx:reset() end)

  local function object(name, size, extra)
    local spec = { name = name, size = size, ttl = 3600 }
    for k, v in pairs(extra or {}) do spec[k] = v end
    return emu:object(spec)
  end

  it("downloads a URL byte-exact, verified against the ETag, and leaves no .part", function()
    local obj = object("plain.bin", 3 * 1024 * 1024 + 5)
    local r = assert(client:download(obj.url, dir .. "/plain.bin"))
    assert.are.equal(obj.size, r.bytes)
    assert.are.equal(obj.etag:gsub('"', ""), r.md5)
    assert.are.equal(expected_md5("plain.bin", obj.size), md5(dir .. "/plain.bin"))
    assert.is_false(exists(dir .. "/plain.bin.part"))
  end)

  it("sends the link byte for byte, as a plain GET without Content-Type", function()
    local obj = object("cc.bin", 1000, { cache_control = "no-cache,no-store" })
    assert.matches("response%-cache%-control=no%-cache%%2Cno%-store", obj.url)
    assert.is_truthy(client:download(obj.url, dir .. "/cc.bin"))
  end)

  it("skips a file that is already complete: a link with neither size nor time is asked about", function()
    local obj = object("again.bin", 4096)
    assert.is_truthy(client:download(obj.url, dir .. "/again.bin"))
    local r = assert(client:download(obj.url, dir .. "/again.bin"))
    assert.is_true(r.skipped)
    -- the second request is conditional (the recorded ETag): 304, no body
    local reqs = emu:requests("store")
    assert.are.equal(2, #reqs)
    assert.are.equal(304, reqs[2].status)
    assert.is_false(exists(dir .. "/again.bin.part"))
  end)

  it("resumes after the connection drops at 37% and is byte-exact", function()
    local size = 8 * 1024 * 1024
    local obj = object("drop.bin", size)
    emu:fault{ target = "store", kind = "drop_after", bytes = math.floor(size * 0.37), count = 1 }
    local r = assert(client:download(obj.url, dir .. "/drop.bin"))
    assert.are.equal(expected_md5("drop.bin", size), md5(dir .. "/drop.bin"))
    assert.are.equal(obj.etag:gsub('"', ""), r.md5)
    local reqs = emu:requests("store")
    assert.are.equal(2, #reqs)
    assert.are.equal(("bytes=%d-"):format(math.floor(size * 0.37)), reqs[2].range)
  end)

  it("continues a .part left by an earlier run, hashing what is on disk first", function()
    local size = 2 * 1024 * 1024
    local obj = object("later.bin", size)
    emu:fault{ target = "store", kind = "drop_after", bytes = 700000, count = 1 }
    local r, err = client:download(obj.url, dir .. "/later.bin", { retries = 0 })
    assert.is_nil(r)
    assert.are.equal("network", err.kind)
    assert.are.equal(700000, core.file_size(dir .. "/later.bin.part"))
    assert.is_false(exists(dir .. "/later.bin"))
    r = assert(client:download(obj.url, dir .. "/later.bin"))
    assert.is_true(r.resumed)
    assert.are.equal(expected_md5("later.bin", size), md5(dir .. "/later.bin"))
  end)

  it("catches a corrupted .part from an earlier run with the ETag and fetches the file afresh", function()
    local size = 1024 * 1024
    local obj = object("bad.bin", size)
    emu:fault{ target = "store", kind = "drop_after", bytes = 500000, count = 1 }
    assert.is_nil(client:download(obj.url, dir .. "/bad.bin", { retries = 0 }))
    shell.patch(dir .. "/bad.bin.part", 1234, "garbage")
    emu:reset()
    local r = assert(client:download(obj.url, dir .. "/bad.bin"))
    assert.are.equal(expected_md5("bad.bin", size), md5(dir .. "/bad.bin"))
    assert.are.equal(obj.etag:gsub('"', ""), r.md5)
    -- the resume, then one fresh download of the whole object
    local reqs = emu:requests("store")
    assert.are.equal(2, #reqs)
    assert.are.equal("bytes=500000-", reqs[1].range)
    assert.is_true(reqs[2].range == nil or reqs[2].range == require("cjson").null)
    assert.is_false(exists(dir .. "/bad.bin.part"))
    assert.is_false(exists(dir .. "/bad.bin.part.state"))
  end)

  it("leaves alone a .part it did not create (no record beside it)", function()
    local obj = object("foreign.bin", 1000)
    shell.write(dir .. "/foreign.bin.part", "someone else's bytes")
    local r, err = client:download(obj.url, dir .. "/foreign.bin")
    assert.is_nil(r)
    assert.are.equal("io", err.kind)
    assert.are.equal(dir .. "/foreign.bin.part", err.path)
    assert.matches("no record", err.message)
    assert.are.equal("someone else's bytes", helpers.read_file(dir .. "/foreign.bin.part"))
    assert.are.equal(0, #emu:requests("store"))
  end)

  it("marks a single stream's .part in its lock, with no state file until there is one to resume by", function()
    local obj = object("marked.bin", 200000)
    emu:fault{ target = "store", kind = "throttle", rate = 400000, count = 1 } -- about half a second
    local seen = {}
    local report = assert(client:download_all({ { name = "marked.bin", download_link = obj.url } }, dir, {
      progress_interval = 0.05,
      progress = function()
        if exists(dir .. "/marked.bin.part") then
          seen[#seen + 1] = { lock = shell.read(dir .. "/.hcdl-lock.marked.bin"),
            state = exists(dir .. "/marked.bin.part.state") }
        end
      end }))
    assert.is_true(report.ok)
    assert.is_true(#seen > 0, "no progress call saw the .part")
    for _, s in ipairs(seen) do
      assert.are.equal("hcdl-part\n", s.lock)
      assert.is_false(s.state)
    end
    assert.are.equal(expected_md5("marked.bin", 200000), md5(dir .. "/marked.bin"))
    for _, name in ipairs{ "marked.bin.part", "marked.bin.part.state", ".hcdl-lock.marked.bin" } do
      assert.is_false(exists(dir .. "/" .. name), name)
    end
  end)

  it("fetches afresh a .part marked in its lock by a run that died before recording it", function()
    local obj = object("died.bin", 100000)
    shell.write(dir .. "/.hcdl-lock.died.bin", "hcdl-part\n")
    shell.write(dir .. "/died.bin.part", "bytes of a run that was killed")
    local r = assert(client:download(obj.url, dir .. "/died.bin"))
    assert.is_falsy(r.resumed)
    assert.are.equal(expected_md5("died.bin", 100000), md5(dir .. "/died.bin"))
    local reqs = emu:requests("store")
    assert.are.equal(1, #reqs)
    assert.is_true(reqs[1].range == nil or reqs[1].range == require("cjson").null)
    for _, name in ipairs{ "died.bin.part", "died.bin.part.state", ".hcdl-lock.died.bin" } do
      assert.is_false(exists(dir .. "/" .. name), name)
    end
  end)

  it("download_all transfers `concurrency` files at once (one committing does not hold a slot)", function()
    local entries = {}
    for i = 1, 4 do
      local o = object(("one%d.bin"):format(i), 60000)
      entries[i] = { name = ("one%d.bin"):format(i), download_link = o.url }
    end
    emu:fault{ target = "store", kind = "throttle", rate = 200000 } -- 0.3 s a file
    local report = assert(client:download_all(entries, dir, { concurrency = 1 }))
    assert.is_true(report.ok)
    local reqs = emu:requests("store")
    assert.are.equal(4, #reqs)
    table.sort(reqs, function(a, b) return a.time < b.time end)
    for i = 2, 4 do
      -- each request starts after the one before it has been sent whole
      assert.is_true(reqs[i].time - reqs[i - 1].time >= 0.25,
        ("request %d started %.3f s after the one before"):format(i, reqs[i].time - reqs[i - 1].time))
    end
  end)

  it("retries 503s from the store", function()
    local obj = object("busy.bin", 100000)
    emu:fault{ target = "store", kind = "status", status = 503, count = 2 }
    assert.is_truthy(client:download(obj.url, dir .. "/busy.bin"))
    assert.are.equal(3, #emu:requests("store"))
  end)

  it("does not take a short body behind a lying Content-Length for a whole file", function()
    -- every answer announces 5000 bytes more than it sends, then closes:
    -- the short transfer is an error, the resume finds the end (416), and
    -- the bytes are accepted only because their MD5 matches the ETag
    local obj = object("lie.bin", 300000)
    emu:fault{ target = "store", kind = "lying_length", extra = 5000, count = 50 }
    local r = assert(client:download(obj.url, dir .. "/lie.bin"))
    assert.are.equal(expected_md5("lie.bin", 300000), md5(dir .. "/lie.bin"))
    assert.are.equal(obj.etag:gsub('"', ""), r.md5)
    local statuses = {}
    for _, q in ipairs(emu:requests("store")) do statuses[#statuses + 1] = q.status end
    assert.are.same({ 200, 416 }, statuses)
  end)

  it("restarts cleanly when the server ignores Range (200 instead of 206)", function()
    local size = 600000
    local obj = object("norange.bin", size)
    emu:fault{ target = "store", kind = "drop_after", bytes = 200000, count = 1 }
    assert.is_nil(client:download(obj.url, dir .. "/norange.bin", { retries = 0 }))
    assert.are.equal(200000, core.file_size(dir .. "/norange.bin.part"))
    emu:reset()
    emu:fault{ target = "store", kind = "ignore_range", count = 1 }
    assert.is_truthy(client:download(obj.url, dir .. "/norange.bin"))
    assert.are.equal(expected_md5("norange.bin", size), md5(dir .. "/norange.bin"))
    local reqs = emu:requests("store")
    assert.are.equal("bytes=200000-", reqs[1].range)
    assert.are.equal(200, reqs[1].status)
    -- restarted from the first byte, not appended
    assert.is_true(reqs[2].range == nil or reqs[2].range == require("cjson").null)
  end)

  it("restarts cleanly when Content-Range does not start where asked", function()
    local size = 600000
    local obj = object("shift.bin", size)
    emu:fault{ target = "store", kind = "drop_after", bytes = 250000, count = 1 }
    assert.is_nil(client:download(obj.url, dir .. "/shift.bin", { retries = 0 }))
    emu:reset()
    emu:fault{ target = "store", kind = "shift_range", by = 1000, count = 1 }
    assert.is_truthy(client:download(obj.url, dir .. "/shift.bin"))
    assert.are.equal(expected_md5("shift.bin", size), md5(dir .. "/shift.bin"))
  end)

  it("restarts cleanly when the .part is longer than the object", function()
    local obj = object("long.bin", 100000)
    emu:fault{ target = "store", kind = "drop_after", bytes = 60000, count = 1 }
    assert.is_nil(client:download(obj.url, dir .. "/long.bin", { retries = 0 }))
    local f = assert(io.open(dir .. "/long.bin.part", "ab"))
    f:write(string.rep("x", 90000))
    f:close()
    emu:reset()
    assert.is_truthy(client:download(obj.url, dir .. "/long.bin"))
    assert.are.equal(expected_md5("long.bin", 100000), md5(dir .. "/long.bin"))
  end)

  it("refreshes a link that expired mid-file and completes", function()
    local file = emu:file_expiring_mid_download(client)
    local got = assert(client:download(file, dir))
    assert.are.equal(1, got.refreshed)
    local size = math.floor(got.bytes)
    assert.are.equal(expected_md5(file.name, size), md5(dir .. "/" .. file.name))
    assert.are.equal(2, #emu:requests("show_backup_download_link"))
    -- one "Request has expired" (usually on the resume; on a slow machine
    -- the link may already be dead at the first try), then the rest
    local statuses = {}
    for _, q in ipairs(emu:requests("store")) do statuses[#statuses + 1] = q.status end
    local expired = 0
    for _, st in ipairs(statuses) do if st == 403 then expired = expired + 1 end end
    assert.are.equal(1, expired, table.concat(statuses, " "))
    assert.is_true(statuses[#statuses] == 200 or statuses[#statuses] == 206, table.concat(statuses, " "))
  end)

  it("reports an expired link it cannot refresh as an expired error without the signature", function()
    local obj = object("old.bin", 1000, { ttl = -10 })
    local r, err = client:download(obj.url, dir .. "/old.bin")
    assert.is_nil(r)
    assert.are.equal("expired", err.kind)
    assert.is_nil(tostring(err):find("Signature", 1, true))
    assert.is_false(exists(dir .. "/old.bin"))
  end)

  it("refuses unsafe names from the service before writing a byte", function()
    local obj = object("x.bin", 100)
    for _, name in ipairs{ "../../etc/passwd", "/etc/passwd", "a/b", "..", "a\\b", "bad\nname", "x\0y",
                           string.rep("n", 300) } do
      local r, err = client:download({ name = name, size = 1, download_link = obj.url }, dir)
      assert.is_nil(r, name)
      assert.are.equal("input", err.kind)
      assert.are.equal("name", err.field)
    end
    assert.are.equal(0, #emu:requests("store"))
    local p = assert(io.popen("ls -A " .. dir))
    assert.are.equal("", p:read("*a"))
    p:close()
  end)

  it("downloads with 4 connections in parallel ranges, byte-exact", function()
    local size = 16 * 1024 * 1024 + 3
    local obj = object("multi.bin", size)
    local r = assert(client:download(obj.url, dir .. "/multi.bin", { connections = 4 }))
    assert.are.equal(size, r.bytes)
    assert.are.equal(expected_md5("multi.bin", size), md5(dir .. "/multi.bin"))
    local ranged = 0
    for _, q in ipairs(emu:requests("store")) do
      if q.range and q.range ~= "bytes=0-0" then ranged = ranged + 1 end
    end
    assert.are.equal(4, ranged)
    assert.is_false(exists(dir .. "/multi.bin.part.ranges"))
  end)

  it("resumes each range after a drop with 4 connections", function()
    local size = 8 * 1024 * 1024
    local obj = object("multidrop.bin", size)
    emu:fault{ target = "store", kind = "drop_after", bytes = 300000, count = 2, skip_first = 1 }
    assert.is_truthy(client:download(obj.url, dir .. "/multidrop.bin", { connections = 4 }))
    assert.are.equal(expected_md5("multidrop.bin", size), md5(dir .. "/multidrop.bin"))
  end)

  it("keeps a whole call under max_rate, shared by its transfers; the client's max_rate is the default", function()
    -- libcurl paces between reads and lets about a second's worth through
    -- at first: sizes of a few seconds' worth, bounds below the ideal
    local size = 2 * 1024 * 1024
    local a, b = object("capped-a.bin", size), object("capped-b.bin", size)
    local t0 = core.now()
    local report = assert(client:download_all({ { url = a.url, name = "capped-a.bin" },
      { url = b.url, name = "capped-b.bin" } }, dir, { concurrency = 2, max_rate = 1024 * 1024 }))
    local took = core.now() - t0
    assert.is_true(report.ok)
    assert.is_true(took >= 2.5, ("4 MiB under a 1 MiB/s cap took %.2f s (4 s at the cap)"):format(took))
    assert.are.equal(expected_md5("capped-a.bin", size), md5(dir .. "/capped-a.bin"))
    local capped = assert(hcdl.new(emu:config{ retry_base = 0.05, max_rate = 512 * 1024 }))
    t0 = core.now()
    assert(capped:download(a.url, dir .. "/capped-c.bin"))
    took = core.now() - t0
    assert.is_true(took >= 2.5, ("2 MiB under the client's 512 KiB/s took %.2f s (4 s at the cap)"):format(took))
    capped:close()
    local r, err = client:download(a.url, dir .. "/x.bin", { max_rate = 10 })
    assert.is_nil(r)
    assert.are.equal("input", err.kind)
    assert.are.equal("max_rate", err.field)
  end)

  it("calls progress at most 10 times a second with done, total and rate", function()
    local size = 4 * 1024 * 1024
    local obj = object("slow.bin", size)
    emu:fault{ target = "store", kind = "throttle", rate = 4 * 1024 * 1024, count = 1 }
    local calls = {}
    assert.is_truthy(client:download(obj.url, dir .. "/slow.bin", { progress = function(done, total, rate)
      calls[#calls + 1] = { core.now(), done, total, rate }
    end }))
    assert.is_true(#calls >= 3)
    for i = 2, #calls do
      assert.is_true(calls[i][1] - calls[i - 1][1] >= 0.095)
      assert.is_true(calls[i][2] >= calls[i - 1][2])
    end
  end)

  it("cancels when progress returns false, keeping the .part", function()
    local obj = object("cancel.bin", 4 * 1024 * 1024)
    emu:fault{ target = "store", kind = "throttle", rate = 1024 * 1024, count = 1 }
    local r, err = client:download(obj.url, dir .. "/cancel.bin", { progress = function(done)
      if done > 0 then return false end
    end })
    assert.is_nil(r)
    assert.matches("cancelled", err.message)
    assert.is_false(exists(dir .. "/cancel.bin"))
    assert.is_true(exists(dir .. "/cancel.bin.part"))
  end)

  it("fails cleanly on a full disk: an io error, nothing renamed", function()
    local mnt = dir .. "/small"
    assert(sh("mkdir -p " .. mnt))
    local mounted = sh("mount -t tmpfs -o size=1m tmpfs " .. mnt .. " 2>/dev/null")
    local target
    if mounted then
      target = mnt .. "/big.bin"
    else
      -- not root: /dev/full gives the kernel's ENOSPC on every write
      target = dir .. "/big.bin"
      assert(sh("ln -s /dev/full " .. target .. ".part"))
    end
    local obj = object("big.bin", 3 * 1024 * 1024)
    local r, err = client:download(obj.url, target)
    if mounted then sh("umount " .. mnt) end
    assert.is_nil(r)
    assert.are.equal("io", err.kind)
    assert.matches("no space left", err.message)
    assert.is_false(exists(target))
  end)

  it("fails cleanly on a read-only destination", function()
    local obj = object("ro.bin", 1000)
    local mnt = dir .. "/ro"
    assert(sh("mkdir -p " .. mnt))
    local target = mnt .. "/ro.bin"
    if not sh("mount -t tmpfs -o ro,size=1m tmpfs " .. mnt .. " 2>/dev/null") then
      target = "/sys/ro.bin" -- sysfs is read-only, even for root
    end
    local r, err = client:download(obj.url, target)
    sh("umount " .. mnt .. " 2>/dev/null")
    assert.is_nil(r)
    assert.are.equal("io", err.kind)
  end)

  it("download_all: a batch where one file fails completes the others and says which failed", function()
    local entries = {}
    for i = 1, 12 do
      local o = object(("batch%02d.bin"):format(i), 50000 + i)
      entries[i] = { name = ("batch%02d.bin"):format(i), download_link = o.url, size = math.ceil((50000 + i) / 1024) }
    end
    -- nothing listens on port 1: a network failure, retried once, then given up
    entries[5] = { name = "gone.bin", download_link = "http://127.0.0.1:1/adhoc-emulator/gone.bin?Expires=9999999999&Signature=x", size = 1 }
    entries[9].name = "../escape.bin"
    local report, err = client:download_all(entries, dir, { concurrency = 4, retries = 1 })
    assert.is_table(report)
    assert.is_false(report.ok)
    assert.are.equal(10, report.done)
    assert.are.equal(2, #report.failed)
    assert.matches("2 of 12 files failed", err.message)
    assert.is_false(report.files[5].ok)
    assert.is_false(report.files[9].ok)
    assert.are.equal("input", report.files[9].err.kind)
    for i, r in ipairs(report.files) do
      if r.ok then assert.is_true(exists(dir .. "/" .. entries[i].name)) end
    end
    -- a second run skips what is already there (retries = 1 again: the
    -- default 8 would spend about 20 s backing off from port 1)
    local again = client:download_all(entries, dir, { concurrency = 4, retries = 1 })
    assert.are.equal(10, again.skipped)
  end)

  it("download_all takes the entries the APIs return", function()
    local files = assert(client:list_audit_log_files{ instance_id = emu.seed.gaussdb_instance_id,
      start_time = "2023-07-24T00:00:00+0800", end_time = "2023-07-24T06:00:00+0800" })
    local report = assert(client:download_all(files, dir, { concurrency = 8 }))
    assert.are.equal(#files, report.done)
    local f = files[1]
    local size = core.file_size(dir .. "/" .. f.name)
    assert.are.equal(expected_md5(f.name, size), md5(dir .. "/" .. f.name))
    local pg = assert(client:wait_errorlog_links{ instance_id = emu.seed.pg_instance_id, interval = 0.05 })
    local rep2 = assert(client:download_all(pg, dir))
    assert.are.equal(#pg, rep2.done)
    assert.are.equal(tonumber(pg[1].file_size), core.file_size(dir .. "/" .. pg[1].file_name))
  end)

  it("writes a debug line per transfer and per answer, never the link's signature", function()
    local obj = object("dbg.bin", 5000)
    local lines = {}
    local c = assert(hcdl.new(emu:config{ debug = function(l) lines[#lines + 1] = l end }))
    assert(c:download(obj.url, dir .. "/dbg.bin"))
    local text = table.concat(lines, "\n")
    assert.matches("event=download method=GET host=127%.0%.0%.1:%d+ path=/adhoc%-emulator/dbg%.bin", text)
    assert.matches("event=answer .* status=200 request_id=%w+ seconds=[%d.]+ bytes=5000", text)
    local signature = obj.url:match("Signature=([^&]+)")
    assert.is_nil(text:find(signature, 1, true))
    assert.is_nil(text:find("Signature=" .. signature, 1, true))
  end)

  it("refuses unknown options", function()
    local _, err = client:download("http://127.0.0.1:1/x", dir .. "/x", { conections = 4 })
    assert.are.equal("conections", err.field)
  end)
end)
