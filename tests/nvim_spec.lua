-- hcdl inside real headless Neovim (Debian's neovim, LuaJIT), as a plugin
-- uses it (issue 10; docs/architecture.md "Hosts with an event loop"):
-- nothing hcdl does may freeze the editor.  A 50 ms vim.loop timer must keep ticking
-- while, inside hcdl.async, a slow API call, a polling wait, a throttled
-- download and a download_all run (~2 s each against the emulator), and
-- vim.api must work right after each call, in progress callbacks and in
-- on_done.  tests/support/nvim_host.lua is the plugin side; it reports in
-- a JSON file this spec reads.
local core = require "hcdl.core"
local cjson = require "cjson"
local emulator = require "tests.support.emulator"
local helpers = require "tests.support.helpers"

local shell = require "tests.support.shell"

local q, sh, read = shell.q, shell.ok, shell.read

-- A clean environment for builds and for Neovim: inside `make test` the
-- outer make's flags, LUA_PATH/LUA_CPATH (a Lua 5.4 build would crash
-- LuaJIT) and a sanitizer preload must not leak in.
local CLEAN = helpers.CLEAN_ENV
  .. " -u LUA_PATH -u LUA_CPATH -u LUA_PATH_5_2 -u LUA_CPATH_5_2 -u LUA_PATH_5_3 -u LUA_CPATH_5_3"
  .. " -u LUA_PATH_5_4 -u LUA_CPATH_5_4"

-- Runs the plugin side in headless Neovim; returns the decoded results
-- (or nil and the log) once Neovim has quit or been killed.
local function run_nvim(plan, mode, limit)
  local planfile = os.tmpname()
  shell.write(planfile, cjson.encode(plan))
  os.remove(plan.results)
  local log = planfile .. ".log"
  sh(("%s HCDL_NVIM_PLAN=%s HCDL_NVIM_MODE=%s timeout -s KILL %d nvim --headless --clean -n -i NONE"
    .. " --cmd %s -c %s </dev/null >%s 2>&1")
    :format(CLEAN, q(planfile), mode or "host", limit or 120,
      q("set rtp^=" .. helpers.root), q("luafile " .. helpers.root .. "/tests/support/nvim_host.lua"), q(log)))
  local text, out = read(plan.results), read(log)
  os.remove(planfile)
  os.remove(log)
  if not text then return nil, out end
  return cjson.decode(text), out
end

describe("Neovim (headless, vim.loop) #once", function()
  local emu, dir, plan, results, nvim_log, made_nvim

  setup(function()
    assert(sh("command -v nvim >/dev/null"), "neovim is not installed (scripts/install-deps installs it)")
    made_nvim = sh(CLEAN .. " make -s -C " .. q(helpers.root) .. " nvim >/dev/null 2>&1")
    -- the fallback, so the host behaviour is measured even before `make nvim` exists
    assert(sh(CLEAN .. " make -s -C " .. q(helpers.root) .. " LUA=luajit BUILD=build/luajit >/dev/null"),
      "cannot build for LuaJIT")
    emu = emulator.start()
    dir = shell.fresh_path()
    assert(sh("mkdir -p " .. q(dir .. "/all")))
    emu:set{ errorlog_creating = 3 } -- with interval 0.5: about 2.4 s of polling
    emu:fault{ target = "show_backup_download_link", kind = "slow_first_byte", seconds = 2, count = 1 }
    emu:fault{ target = "create_redislog_download_link", kind = "slow_first_byte", seconds = 1, count = 2 }
    emu:fault{ target = "store", kind = "throttle", rate = 1024 * 1024, count = cjson.null }
    local one = emu:object{ name = "nvim-one.bin", size = 2 * 1024 * 1024, ttl = 3600 }
    local batch = {}
    for i = 1, 4 do
      local o = emu:object{ name = ("nvim-all%d.bin"):format(i), size = 1024 * 1024, ttl = 3600 }
      batch[i] = { name = o.name, download_link = o.url }
    end
    plan = {
      endpoint = emu.endpoint, ak = emu.ak, sk = emu.sk, project_id = emu.project_id, seed = emu.seed,
      download = one.url, batch = batch, dir = dir, results = dir .. "/results.json",
      fallback_cpath = helpers.root .. "/build/luajit/?.so", watchdog_ms = 60000,
    }
    results, nvim_log = run_nvim(plan)
  end)

  teardown(function()
    if emu then emu:stop() end
    shell.remove(dir)
  end)

  local function ran()
    assert.is_table(results, "Neovim left no results: " .. tostring(nvim_log))
    assert.is_nil(results.fatal, results.fatal)
    return results
  end

  -- the cases below are about hcdl.async; without it the host runs the
  -- calls as plain Lua would (blocking), which is measured but not credited
  local function with_async()
    assert.is_true(ran().has_async, "hcdl.async is missing")
    return results
  end

  local function step(name)
    for _, s in ipairs(ran().steps) do
      if s.name == name then return s end
    end
    error(name .. " never finished (Neovim froze or was killed): " .. tostring(nvim_log))
  end

  it("make nvim puts hcdl.core where Neovim's runtimepath loader finds it", function()
    assert.is_true(made_nvim, "`make nvim` failed")
    assert.is_truthy(io.open(helpers.root .. "/lua/hcdl/core.so"), "lua/hcdl/core.so is missing")
  end)

  it("require 'hcdl' works from the runtimepath with no path setup and no system lua-cjson", function()
    emu:reset()
    local p = {}
    for k, v in pairs(plan) do p[k] = v end
    p.results = dir .. "/packaging.json"
    local r, log = run_nvim(p, "packaging", 30)
    assert.is_table(r, "no results: " .. tostring(log))
    assert.is_true(r.require_ok, tostring(r.require_error))
    assert.is_true(r.call_ok, tostring(r.call_error))
    assert.are.equal(2, r.call_files)
    assert.is_true(r.array_null_is_vim_nil, "an array's null is not vim.NIL")
  end)

  it("offers hcdl.async", function()
    assert.is_true(ran().has_async)
  end)

  for _, name in ipairs{ "slow_api", "poll", "download", "download_all" } do
    it(name .. ": the 50 ms timer keeps ticking and vim.api works right after the call", function()
      local s = step(name)
      -- the figures, for people reading CI's log
      io.stderr:write(("\n[nvim] %s: %s ticks of a 50 ms timer in %.2f s\n"):format(name,
        tostring(s.ticks), tonumber(s.elapsed) or -1))
      assert.is_true(s.ok, tostring(s.error))
      assert.is_true(s.elapsed >= 1.5, ("the call took only %.2f s: not the intended ~2 s wait"):format(s.elapsed))
      assert.is_true(s.ticks >= 25,
        ("%d ticks in %.2f s (about %d expected): the editor was frozen"):format(s.ticks, s.elapsed,
          math.floor(s.elapsed / 0.05)))
      assert.is_true(s.api_after, "vim.api after the call: " .. tostring(s.api_error))
    end)
  end

  it("progress callbacks run where vim.api may be called", function()
    local p = with_async().progress
    assert.is_true(p.calls > 0, "no progress callback")
    assert.are.equal(p.calls, p.api_ok, "vim.api in a progress callback: " .. tostring(p.api_error))
  end)

  it("on_done(true, result) runs where vim.api may be called", function()
    local d = with_async().on_done
    assert.is_table(d, "on_done never ran")
    assert.is_true(d.ok, d.result)
    assert.are.equal("steps done", d.result)
    assert.is_true(d.api, "vim.api in on_done: " .. tostring(d.api_error))
  end)

  it("two tasks overlap: two 1 s calls finish in well under 2 s", function()
    local o = with_async().overlap
    assert.is_table(o, "the overlap case never ran")
    assert.is_number(o.elapsed, "the two tasks never both finished")
    for i = 1, 2 do
      assert.is_true(o.tasks[i].ok, o.tasks[i].result)
      assert.are.equal("link", o.tasks[i].result)
    end
    assert.is_true(o.elapsed < 1.7, ("both done after %.2f s"):format(o.elapsed))
  end)

  it("an error inside fn reaches on_done(false, err)", function()
    local e = with_async().error_case
    assert.is_table(e, "on_done never ran for the failing task")
    assert.is_false(e.ok)
    assert.matches("boom from fn", e.err)
    assert.is_true(e.api, "vim.api in on_done after an error")
  end)

  it("quits on its own, without the watchdog", function()
    assert.is_true(ran().finished)
    assert.is_nil(ran().watchdog)
  end)
end)
