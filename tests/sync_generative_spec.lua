-- Generated histories of sync_audit_log_files against the emulator: file
-- counts 0-300, times clustered (a young instance) or spread over days, 1-2
-- nodes (the emulator's instance has two), page limits 1-50, growth between
-- runs and between listing and download, store failures, runs killed at
-- random moments, a second run at the same time.  After every run and
-- history the invariants hold:
--   * sync never raises: a report, or nil and an hcdl error;
--   * every file under its final name is the store's bytes of some moment
--     (the object's prefix), no shorter than its listing said;
--   * after a final quiet run the directory mirrors the store: every file
--     listed in the window is there with the store's exact size;
--   * nothing outside the directory is touched.
--
-- Seeded: HCDL_SYNC_SEED=<n> replays (the failing history's seed is in
-- the message); HCDL_SYNC_HISTORIES=<n> sets the count.  By default each
-- build runs enough that the CI's seven suite runs (five Lua builds, ASan,
-- valgrind) add up to more than 200 histories: 40 on a plain build, 8
-- under ASan, 4 under valgrind.
local hcdl = require "hcdl"
local core = require "hcdl.core"
local timefmt = require "hcdl.timefmt"
local emulator = require "tests.support.emulator"
local helpers = require "tests.support.helpers"
local process = require "tests.support.process"
local seeded = require "tests.support.seeded"
local shell = require "tests.support.shell"

local function under(word)
  return (os.getenv("LD_PRELOAD") or ""):find(word, 1, true) or (os.getenv("HCDL_BUILD") or ""):find(word, 1, true)
end

local COUNT = tonumber(os.getenv("HCDL_SYNC_HISTORIES") or "")
  or (under("vgpreload") and 4) or (under("asan") and 8) or 40
local MASTER = tonumber(os.getenv("HCDL_SYNC_SEED") or "") or (os.time() % 1000000)
local LUA = helpers.LUA
local rng = seeded.numbers
local sh = shell.ok

local function iso(t) return os.date("!%Y-%m-%dT%H:%M:%S+0000", t) end

local emu_for_check
local function check_dir(path)
  return emu_for_check:ctl("POST", "/mirror", { dir = path })
end

local function store_files(emu)
  local out = {}
  for _, f in ipairs(emu:ctl("GET", "/audit").files) do out[f.name] = f end
  return out
end

describe("sync over generated histories", function()
  local emu, root, script
  local ran, findings = 0, {}

  setup(function()
    emu = emulator.start()
    emu_for_check = emu
    root = shell.mktemp_dir()
    -- a run in another process (killed, or at the same time as ours)
    script = root .. "/other.lua"
    shell.write(script, [[
local hcdl = require "hcdl"
local load = loadstring or load -- Lua 5.1
local cfg, params = load("return " .. arg[1])(), load("return " .. arg[2])()
local c = assert(hcdl.new(cfg))
local r, err = c:sync_audit_log_files(params)
io.write(r and "report" or (err.busy and "busy" or "error"), "\n")
]])
  end)
  teardown(function()
    if emu then emu:stop() end
    shell.remove(root)
    io.stderr:write(("\n[sync histories] %d ran (seed %d)%s\n"):format(ran, MASTER,
      #findings > 0 and ("; " .. table.concat(findings, "; ")) or ""))
  end)

  local function other_process(cfg, params)
    local lit = require "tests.support.lua_literal"
    local cmd = ("%s %s %q %q & echo $!"):format(LUA, script, lit(cfg), lit(params))
    local p = io.popen(cmd)
    local pid = tonumber(p:read("*l"))
    return pid, p
  end

  -- Waits until another process has exited (its locks with it).
  local function gone(pid)
    if pid then process.wait_for(function() return not process.alive(pid) end, 60, 0.02) end
  end

  -- A run: never a raise; a report, or nil and an hcdl error.
  local function run(client, params, seed, what)
    local ok, r, err = pcall(client.sync_audit_log_files, client, params)
    assert(ok, ("seed %d: %s raised: %s"):format(seed, what, tostring(r)))
    if r == nil then
      assert(type(err) == "table" and err.kind, ("seed %d: %s: nil without an hcdl error"):format(seed, what))
    end
    return r, err
  end

  -- Every file under its final name is a prefix of its object, no shorter
  -- than its listing said; hcdl's temporary files are its own.
  local function check_files(dir, seed, report)
    local seen = check_dir(dir)
    for name, f in pairs(seen.files) do
      assert(f.ok, ("seed %d: %s is not the store's bytes of any moment"):format(seed, name))
    end
    for _, r in ipairs(report and report.files or {}) do
      if r.status == "new" or r.status == "updated" then
        local f = seen.files[r.name]
        assert(f, ("seed %d: %s reported %s but is not there"):format(seed, r.name, r.status))
        local kb = r.entry.size
        assert(f.size > (kb - 1) * 1024, ("seed %d: %s has %d bytes, listed %d KB"):format(seed, r.name, f.size, kb))
      end
    end
    return seen
  end

  local function history(seed)
    local rand = rng(seed)
    emu:reset()
    local count = rand() < 0.6 and rand(0, 12) or rand() < 0.75 and rand(13, 80) or rand(81, 300)
    local young = rand() < 0.5
    local spread = young and rand(1, 3000) or rand(3600, 3 * 86400)
    emu:ctl("POST", "/audit", { replace = count, spread = spread, nodes = rand(1, 2), seed = seed,
      max_size = rand(1, 6000) })
    local client = assert(hcdl.new(emu:config{ retry_base = 0.01, retries = 1 }))
    local base = ("%s/%d"):format(root, seed)
    local dir = base .. "/mirror"
    assert(sh(("mkdir -p %q && echo keep > %q"):format(base, base .. "/outside")))
    local start = iso(os.time() - 4 * 86400)
    local params = { instance_id = emu.seed.gaussdb_instance_id, dir = dir, start_time = start,
      limit = rand(1, 50), concurrency = rand(1, 8), retries = 1, window = rand(0, 1) == 0 and 3600 or rand(0, 600) }
    local runs = rand(1, 3)
    if os.getenv("HCDL_SYNC_DEBUG") then io.stderr:write(("count %d limit %d runs %d\n"):format(count, params.limit, runs)) end
    for k = 1, runs do
      -- what changes between runs, and what goes wrong during one
      if rand() < 0.4 and count > 0 then emu:ctl("POST", "/audit", { grow = "latest", by = rand(1, 3000), seconds = rand(1, 20) }) end
      if rand() < 0.3 then emu:ctl("POST", "/audit", { add = rand(1, 5), node = 0, seconds = rand(1, 30) }) end
      emu:set{ audit_grow_on_list = rand() < 0.3 and rand(1, 2000) or 0 }
      local fault = rand(1, 8)
      if fault == 1 then emu:fault{ target = "store", kind = "status", status = 500, count = rand(1, 3), skip_first = rand(0, 5) }
      elseif fault == 2 then emu:fault{ target = "store", kind = "status", status = 404, skip_first = rand(0, 5) }
      elseif fault == 3 then emu:fault{ target = "store", kind = "drop_after", bytes = rand(0, 2000), skip_first = rand(0, 5) }
      elseif fault == 4 then emu:fault{ target = "store", kind = "lying_length", skip_first = rand(0, 5) }
      elseif fault == 5 then emu:fault{ target = "list_audit_log_download_link", kind = "malformed_json", skip_first = rand(0, 3) } end
      local p = k == 1 and params or setmetatable({ start_time = rand() < 0.2 and start or nil }, { __index = params })
      if k > 1 then
        -- later runs: start_time only sometimes (the saved position says where)
        local copy = {}
        for key, v in pairs(params) do copy[key] = v end
        copy.start_time = p.start_time
        p = copy
      end
      local special = rand(1, 12)
      if special == 1 and count > 0 then
        -- a run in another process, killed at a random moment
        emu:fault{ target = "store", kind = "throttle", rate = rand(20000, 200000) }
        local pid, pipe = other_process(emu:config{ retry_base = 0.01 }, params)
        core.sleep(rand(5, 60) / 100)
        sh("kill -9 " .. pid .. " 2>/dev/null")
        pipe:close()
        gone(pid)
        emu:ctl("DELETE", "/faults")
      elseif special == 2 then
        -- a second run at the same time: one waits or is busy, neither breaks anything
        local pid, pipe = other_process(emu:config{ retry_base = 0.01 }, params)
        local r, err = run(client, p, seed, "a run beside another")
        local said = pipe:read("*l")
        pipe:close()
        gone(pid)
        assert(r or err.busy or err.kind, ("seed %d: %s"):format(seed, tostring(err)))
        assert(said == "report" or said == "busy" or said == "error", ("seed %d: the other run said %s"):format(seed, tostring(said)))
        check_files(dir, seed, r)
        special = pid and nil
      end
      if special then
        local r = run(client, p, seed, "run " .. k)
        check_files(dir, seed, r)
      end
      emu:ctl("DELETE", "/faults")
    end
    -- a final quiet run: the directory mirrors the store
    emu:set{ audit_grow_on_list = 0 }
    local last = {}
    for key, v in pairs(params) do last[key] = v end
    -- the same start_time: a directory whose every run failed before it
    -- saved a position still needs one; a saved position takes precedence
    last.start_time = start
    last.end_time = iso(os.time() - 60)
    local r, err = run(client, last, seed, "the quiet run")
    assert(r and r.ok, ("seed %d: the quiet run failed: %s"):format(seed, tostring(err)))
    local seen = check_files(dir, seed, r)
    local limit = timefmt.parse_offset(last.end_time)
    for name, f in pairs(store_files(emu)) do
      local t = timefmt.parse_offset(f.updated_time)
      if t <= limit then
        local got = seen.files[name]
        assert(got, ("seed %d: %s is in the store but not in the mirror"):format(seed, name))
        assert(got.size == f.size, ("seed %d: %s has %d bytes, the store %d"):format(seed, name, got.size, f.size))
      end
    end
    for name in pairs(seen.files) do
      assert(store_files(emu)[name], ("seed %d: %s is in the mirror but not in the store"):format(seed, name))
    end
    for _, name in ipairs(seen.other) do
      assert(name:match("^%.hcdl%-") or name:match("%.part$") or name:match("%.part%.state$"),
        ("seed %d: unexpected %s"):format(seed, name))
    end
    -- nothing outside the directory
    local entries = shell.capture("ls -A " .. shell.q(base))
    assert(entries == "mirror\noutside\n", ("seed %d: outside the directory: %s"):format(seed, entries))
    client:close()
    sh(("rm -rf %q"):format(base))
  end

  it(("holds its invariants over %d histories"):format(COUNT), function()
    for i = 1, COUNT do
      local seed = MASTER + i
      local t0 = core.now()
      local ok, err = pcall(history, seed)
      if os.getenv("HCDL_SYNC_DEBUG") then io.stderr:write(("history %d: %.2fs\n"):format(seed, core.now() - t0)) end
      if not ok then
        error(("history failed (replay: HCDL_SYNC_SEED=%d HCDL_SYNC_HISTORIES=%d): %s"):format(MASTER, i, tostring(err)), 0)
      end
      ran = ran + 1
    end
  end)
end)
