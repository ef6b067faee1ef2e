-- The transfer engine (hcdl.core.engine) against the emulator: tickets,
-- blocking and polled waits, cancel, deadlines, back-pressure, a worker
-- that starts only for polling hosts and ends when idle or closed, and the
-- refusal rules of a transfer (only the bytes asked for, only the object
-- the caller started with).
local core = require "hcdl.core"
local cjson = require "cjson"
local emulator = require "tests.support.emulator"
local process = require "tests.support.process"
local shell = require "tests.support.shell"

local function threads()
  local f = io.open("/proc/self/status")
  if not f then return nil end
  local n = f:read("*a"):match("Threads:%s*(%d+)")
  f:close()
  return tonumber(n)
end

describe("transfer engine", function()
  local emu, e, dir, d

  setup(function() emu = emulator.start() end)
  teardown(function()
    if emu then emu:stop() end
    shell.remove(dir)
  end)
  before_each(function()
    emu:reset()
    e = assert(core.engine{})
    dir = shell.renew_dir(dir)
    d = assert(core.dir(dir))
  end)
  after_each(function()
    e:close()
    d:close()
  end)

  local function object(name, size)
    return emu:object{ name = name, size = size, ttl = 3600 }
  end

  local function finish(t, limit)
    local deadline = core.now() + (limit or 20)
    while not t:finished() and core.now() < deadline do t:wait(0.05) end
    return t:result()
  end

  it("performs a request and keeps the connection for the next", function()
    local r1 = assert(e:perform{ url = emu.control .. "/info" })
    assert.are.equal(200, r1.status)
    assert.are.equal(emu.project_id, cjson.decode(r1.body).project_id)
    local r2 = assert(e:perform{ url = emu.control .. "/info" })
    assert.are.equal(200, r2.status)
  end)

  it("refuses a link with a space, a control character or a NUL before any request", function()
    for _, url in ipairs{ "http://127.0.0.1:1/a b", "http://127.0.0.1:1/a\tb", "http://127.0.0.1:1/a\0b",
                          "http://127.0.0.1:1/a\127", "ftp://127.0.0.1/x", "" } do
      local t, err = e:start{ url = url }
      assert.is_nil(t, url)
      assert.are.equal("input", err.kind)
      assert.are.equal("url", err.field)
    end
  end)

  it("writes a file at an offset and hashes exactly what is on disk", function()
    local obj = object("e1.bin", 300000)
    local f = assert(d:open("e1.bin.part", { create = true }))
    local t = assert(e:start{ url = obj.url, file = f, md5 = true })
    local r = finish(t)
    assert.is_true(r.ok)
    assert.are.equal(300000, r.bytes)
    assert.are.equal(obj.etag:gsub('"', ""), r.md5)
    -- resume from 100000 with the prefix read back from the file
    assert(f:truncate(100000))
    local t2 = assert(e:start{ url = obj.url, file = f, offset = 100000, range_start = 100000,
      md5 = true, md5_prefix = 100000, expect_etag = obj.etag, expect_total = 300000 })
    local r2 = finish(t2)
    assert.is_true(r2.ok, tostring(r2.error))
    assert.are.equal(200000, r2.bytes)
    assert.are.equal(obj.etag:gsub('"', ""), r2.md5)
    f:close()
  end)

  it("refuses an answer about another object before writing a byte", function()
    local obj = object("e2.bin", 50000)
    local f = assert(d:open("e2.bin.part", { create = true }))
    local t = assert(e:start{ url = obj.url, file = f, range_start = 10, offset = 10,
      expect_etag = '"00000000000000000000000000000000"' })
    local r = finish(t)
    assert.is_false(r.ok)
    assert.are.equal("changed", r.error.refused)
    assert.are.equal(0, r.bytes)
    local t2 = assert(e:start{ url = obj.url, file = f, range_start = 10, offset = 10, expect_total = 49999 })
    assert.are.equal("changed", finish(t2).error.refused)
    assert.are.equal(0, f:stat().size)
    f:close()
  end)

  it("refuses a 200 to a range request and more than the range", function()
    local obj = object("e3.bin", 50000)
    local f = assert(d:open("e3.bin.part", { create = true }))
    emu:fault{ target = "store", kind = "ignore_range", count = 1 }
    local r = finish(assert(e:start{ url = obj.url, file = f, range_start = 100, offset = 100 }))
    assert.are.equal("range", r.error.refused)
    assert.are.equal(200, r.status)
    assert.are.equal(0, f:stat().size)
    f:close()
  end)

  it("cancels, and ends a transfer at its deadline even when the server trickles", function()
    local obj = object("e4.bin", 1000000)
    emu:fault{ target = "store", kind = "throttle", rate = 2000 }
    local t = assert(e:start{ url = obj.url, stream = true })
    core.sleep(0.2)
    t:cancel()
    local r = finish(t, 5)
    assert.is_false(r.ok)
    assert.matches("cancelled", r.error.message)
    local t0 = core.now()
    local t2 = assert(e:start{ url = obj.url, stream = true, deadline = core.now() + 0.6 })
    repeat t2:read() t2:wait(0.05) until t2:finished()
    local r2 = t2:result()
    assert.are.equal("timeout", r2.error.kind)
    assert.is_true(core.now() - t0 < 2)
  end)

  it("holds a stream the reader does not keep up with, and resumes it", function()
    local obj = object("e5.bin", 2000000)
    local t = assert(e:start{ url = obj.url, stream = true, stream_limit = 65536 })
    core.sleep(0.3)
    -- nothing read: the transfer is paused near the limit, not buffering everything
    local written = t:progress()
    assert.is_true(written <= 65536 + 512 * 1024, "buffered " .. written)
    local got, md5 = 0, core.md5()
    while true do
      local chunk = t:read()
      got = got + #chunk
      md5:update(chunk)
      if t:finished() and #chunk == 0 then break end
      if #chunk == 0 then t:wait(0.05) end
    end
    local r = t:result()
    assert.is_true(r.ok)
    assert.are.equal(2000000, got)
    assert.are.equal(obj.etag:gsub('"', ""), md5:hex())
  end)

  it("shares an answer's headers once its body started", function()
    local obj = object("e6.bin", 1000000)
    emu:fault{ target = "store", kind = "throttle", rate = 200000, count = 1 }
    local f = assert(d:open("e6.bin.part", { create = true }))
    local t = assert(e:start{ url = obj.url, file = f })
    local h
    local deadline = core.now() + 5
    repeat t:wait(0.05) h = t:headers() until h or core.now() > deadline
    assert.are.equal(obj.etag, h.etag)
    assert.is_false(t:finished())
    t:cancel()
    finish(t)
    f:close()
  end)

  it("runs no thread for a blocking waiter, one for a polling host, and none after close", function()
    local base = threads()
    if not base then return end -- no /proc
    local obj = object("e7.bin", 300000)
    emu:fault{ target = "store", kind = "throttle", rate = 1000000, count = 1 }
    local f = assert(d:open("e7.bin.part", { create = true }))
    local t = assert(e:start{ url = obj.url, file = f })
    assert.is_false(t:wait(0.1))
    assert.are.equal(base, threads())
    assert.is_false(t:ready()) -- a polling host: now a worker drives it
    assert.are.equal(base + 1, threads())
    while not t:finished() do core.sleep(0.02) end
    assert.is_true(t:result().ok)
    f:close()
    e:close()
    assert.are.equal(base, threads())
  end)

  it("cancels what a collected ticket was running", function()
    local obj = object("e8.bin", 1000000)
    emu:fault{ target = "store", kind = "throttle", rate = 100000 }
    local t = assert(e:start{ url = obj.url, stream = true })
    t:ready()
    core.sleep(0.1)
    t = nil -- luacheck: ignore
    collectgarbage()
    collectgarbage()
    core.sleep(0.3)
    e:close() -- returns at once: nothing is left running
  end)

  it("runs file tasks off the caller's thread: write atomically, hash, commit with a time", function()
    local w = core.task("write", { dir = d, name = "s.state", data = "hello", fsync = true })
    assert.is_true(w:wait(5))
    assert.is_true(w:result())
    assert.are.equal("hello", d:read("s.state"))
    local f = assert(d:open("c.part", { create = true }))
    local obj = object("c.bin", 12345)
    assert.is_true(finish(assert(e:start{ url = obj.url, file = f })).ok)
    local h = core.task("hash", { file = f })
    h:wait(5)
    assert.are.equal(obj.etag:gsub('"', ""), h:result())
    f:close()
    local c = core.task("commit", { dir = d, part = "c.part", final = "c.bin", state = "s.state",
      fsync = true, mtime = 1690000000 })
    c:wait(5)
    assert.is_true(c:result())
    local st = d:stat("c.bin")
    assert.are.equal(12345, st.size)
    assert.are.equal(1690000000, math.floor(st.mtime))
    assert.are.equal(tonumber("600", 8), st.mode)
    assert.is_false(d:stat("c.part"))
    assert.is_false(d:stat("s.state"))
  end)

  it("takes a receive buffer per transfer (buffer_size), refusing one out of range", function()
    for _, bad in ipairs{ 1000, 11 * 1024 * 1024, -1 } do
      local t, err = e:start{ url = emu.control .. "/info", buffer_size = bad }
      assert.is_nil(t)
      assert.are.equal("input", err.kind)
      assert.are.equal("buffer_size", err.field)
    end
    local obj = object("rb.bin", 300000)
    for _, size in ipairs{ 1024, 65536, 4 * 1024 * 1024 } do
      local f = assert(d:open("rb" .. size .. ".part", { create = true }))
      local r = finish(assert(e:start{ url = obj.url, file = f, buffer_size = size, md5 = true }))
      f:close()
      assert.is_true(r.ok)
      assert.are.equal(300000, r.bytes)
      assert.are.equal(obj.etag:gsub('"', ""), r.md5)
    end
  end)

  it("a task given wake = engine ends an engine:wait, also while the caller drives a transfer", function()
    -- a slow transfer keeps the engine busy and produces no event of its
    -- own for seconds (a file transfer moves events only when it ends)
    local obj = object("wake.bin", 400000)
    emu:fault{ target = "store", kind = "throttle", rate = 100000 }
    local f = assert(d:open("wake.part", { create = true }))
    local t = assert(e:start{ url = obj.url, file = f })
    e:wait(0.2, e:events()) -- the transfer is under way, driven by this thread
    local since = e:events()
    local k = core.task("write", { dir = d, name = "w.state", data = "x", wake = e })
    local t0 = core.now()
    assert.is_true(e:wait(5, since))
    assert.is_true(core.now() - t0 < 2)
    assert.is_true(k:ready())
    assert.is_true(k:result())
    assert.are_not.equal(since, e:events())
    assert.is_false(t:finished())
    -- without wake the same wait sees nothing move
    since = e:events()
    local k2 = core.task("write", { dir = d, name = "w2.state", data = "y" })
    assert.is_true(k2:wait(5))
    assert.is_false(e:wait(0.3, since))
    t:cancel()
    finish(t)
    f:close()
    -- a task holds its engine: collected after the engine's owner lets go
    local e2 = assert(core.engine{})
    local k3 = core.task("write", { dir = d, name = "w3.state", data = "z", wake = e2 })
    e2 = nil -- luacheck: ignore
    collectgarbage()
    assert.is_true(k3:wait(5))
    assert.is_true(k3:result())
    assert.has_error(function() core.task("write", { dir = d, name = "w4.state", data = "z", wake = {} }) end)
  end)

  it("opens only files it may own: no links, no hard links, exclusive creation", function()
    local victim = dir .. "/victim"
    local vf = assert(io.open(victim, "w"))
    vf:write("precious")
    vf:close()
    os.execute(("ln -s %s %s/link.part && ln %s %s/hard.part"):format(victim, dir, victim, dir))
    local _, err = d:open("link.part")
    assert.are.equal("io", err.kind)
    assert.matches("symbolic link", err.message)
    assert.are.equal(dir .. "/link.part", err.path)
    _, err = d:open("link.part", { create = true })
    assert.are.equal("io", err.kind)
    _, err = d:open("hard.part")
    assert.matches("hard links", err.message)
    _, err = d:read("link.part")
    assert.matches("symbolic link", err.message)
    local f = assert(d:open("new.part", { create = true, mode = tonumber("640", 8) }))
    assert.are.equal(tonumber("640", 8), f:stat().mode)
    f:close()
    _, err = d:open("new.part", { create = true })
    assert.matches("File exists", err.message)
    assert.are.equal("precious", io.open(victim):read("*a"))
  end)

  it("locks a file so a second holder is refused, and a dead holder leaves no lock", function()
    local l = assert(d:lock("x.lock"))
    local script = ("local core = require 'hcdl.core'; local d = core.dir(%q); local l = d:lock('x.lock'); "
      .. "io.write(l == false and 'busy' or l and 'held' or 'error')"):format(dir)
    local p = process.lua_pipe(script)
    assert.are.equal("busy", p:read("*a"))
    p:close()
    l:close()
    p = process.lua_pipe(script)
    assert.are.equal("held", p:read("*a"))
    p:close()
  end)
end)
