-- Packaging as a user or a rock maintainer meets it: `luarocks make` into
-- a private tree and `make install` into a private prefix, for each of the
-- five Lua builds, each then used for one API call against the emulator
-- (the library and the installed command) from another directory with a
-- clean environment, the checkout's own paths out of reach.  Also: the
-- version in one place, the release rockspec and `make dist`, `luarocks
-- lint`/`pack`/`test` offline, `make env`.
--
-- Everything is built in a copy of the checkout's files, so the checkout
-- itself is left as it was.
local cjson = require "cjson"
local hcdl = require "hcdl"
local emulator = require "tests.support.emulator"
local helpers = require "tests.support.helpers"
local shell = require "tests.support.shell"

local LUAS = { "lua5.1", "lua5.2", "lua5.3", "lua5.4", "luajit" }
local ABI = { ["lua5.1"] = "5.1", ["lua5.2"] = "5.2", ["lua5.3"] = "5.3", ["lua5.4"] = "5.4", luajit = "5.1" }
local REGION = "cn-north-4"
local q, capture, run, read, write = shell.q, shell.capture, shell.run, shell.read, shell.write

local function rockspec(path)
  local env = {}
  local text = assert(read(path), path)
  local chunk
  if setfenv then
    chunk = assert(loadstring(text, path))
    setfenv(chunk, env)
  else
    chunk = assert(load(text, path, "t", env))
  end
  chunk()
  return env
end

local function makefile_version()
  return assert(read(helpers.root .. "/Makefile"):match("\nVERSION := (%S+)\n"), "no VERSION in the Makefile")
end

local function luarocks(lua, tree)
  return ("LUAROCKS_CONFIG=%s %s luarocks --lua-version=%s --tree=%s"):format(
    q(helpers.root .. "/tools/luarocks-debian.lua"), lua == "luajit" and "HCDL_LUAJIT=1" or "", ABI[lua], q(tree))
end

describe("the version", function()
  it("lives in the Makefile and is the library's hcdl.version", function()
    assert.are.equal(makefile_version(), hcdl.version)
  end)

  it("names the one release rockspec, which is generated from the scm one", function()
    local v = hcdl.version
    local releases = capture(("cd %s && ls hcdl-*-1.rockspec"):format(q(helpers.root)))
    assert.are.same({ "hcdl-" .. v .. "-1.rockspec", "hcdl-scm-1.rockspec" },
      (function() local t = {} for l in releases:gmatch("%S+") do t[#t + 1] = l end table.sort(t) return t end)())
    local spec = rockspec(helpers.root .. "/hcdl-" .. v .. "-1.rockspec")
    assert.are.equal(v .. "-1", spec.version)
    assert.are.equal("v" .. v, spec.source.tag)
    assert.are.equal("hcdl-" .. v .. ".tar.gz", spec.source.url)
    local generated = capture(("lua5.4 %s/tools/make-release-rockspec %s"):format(q(helpers.root), v))
    assert.are.equal(generated, read(helpers.root .. "/hcdl-" .. v .. "-1.rockspec"),
      "the release rockspec is stale: run make release-rockspec")
    local scm = rockspec(helpers.root .. "/hcdl-scm-1.rockspec")
    assert.are.same(scm.build, spec.build)
    assert.are.same(scm.dependencies, spec.dependencies)
  end)
end)

describe("packaging #once", function()
  local emu, work, copy

  -- The environment of a user who installed hcdl: credentials and
  -- endpoints in the SDK variables, module paths as given, nothing else.
  local function clean_env(paths)
    local vars = {
      "PATH=/usr/bin:/bin", "HOME=" .. q(work .. "/home"),
      "HUAWEICLOUD_SDK_AK=" .. q(emu.ak), "HUAWEICLOUD_SDK_SK=" .. q(emu.sk),
      "HUAWEICLOUD_SDK_PROJECT_ID=" .. q(emu.project_id),
    }
    for _, s in ipairs{ "GAUSSDB", "RDS", "DCS", "IAM" } do
      vars[#vars + 1] = ("HUAWEICLOUD_SDK_REGION_%s_CN_NORTH_4=%s"):format(s, q(emu.endpoint))
    end
    for k, v in pairs(paths or {}) do vars[#vars + 1] = k .. "=" .. q(v) end
    return "cd " .. q(work .. "/elsewhere") .. " && env -i " .. table.concat(vars, " ")
  end

  -- One API call through the library, by `lua`, with these module paths;
  -- returns its output: "<hcdl.lua's path> <number of files>".
  local function api_call(lua, paths)
    local ok, out = run(("%s %s %s %s"):format(clean_env(paths), lua, q(work .. "/api_call.lua"), emu.seed.rds_backup_id))
    assert.is_true(ok, lua .. ": " .. out)
    return out
  end

  local function assert_outside_checkout(out, where)
    local source, files = out:match("^(%S+) (%d+)")
    assert.are.equal("2", files, out)
    assert.are.equal(where, source:sub(1, #where), "hcdl.lua came from " .. tostring(source))
    assert.is_nil(out:find(helpers.root, 1, true), out)
  end

  setup(function()
    emu = emulator.start()
    work = shell.mktemp_dir()
    copy = work .. "/checkout"
    assert(run(("mkdir -p %s %s %s"):format(q(copy), q(work .. "/home"), q(work .. "/elsewhere"))))
    -- the checkout's files (tracked and new, not ignored: no build/)
    local ok, out = run(("cd %s && git ls-files -co --exclude-standard -z | xargs -0 tar -cf - | tar -C %s -xf -")
      :format(q(helpers.root), q(copy)))
    assert(ok, out)
    write(work .. "/api_call.lua", [[
local hcdl = require "hcdl"
local client = assert(hcdl.new{ region = "]] .. REGION .. [[" })
local r = assert(client:show_backup_download_link{ backup_id = arg[1] })
io.write(debug.getinfo(hcdl.new, "S").source:sub(2), " ", #r.files, "\n")
]])
  end)
  teardown(function()
    if emu then emu:stop() end
    if work then run("rm -rf " .. q(work)) end
  end)

  it("luarocks lint accepts both rockspecs, offline", function()
    for _, name in ipairs{ "hcdl-scm-1.rockspec", "hcdl-" .. hcdl.version .. "-1.rockspec" } do
      local ok, out = run(("cd %s && luarocks lint %s"):format(q(copy), name))
      assert.is_true(ok, name .. ": " .. out)
    end
  end)

  for _, lua in ipairs(LUAS) do
    it(("luarocks make and make install for %s, each used from outside the checkout"):format(lua), function()
      local tree, prefix = work .. "/tree-" .. lua, work .. "/prefix-" .. lua
      local ok, out = run(("cd %s && %s make hcdl-scm-1.rockspec"):format(q(copy), luarocks(lua, tree)))
      assert.is_true(ok, out)
      -- nothing built lands next to the sources or where ./?.so looks
      local stray = capture(("cd %s && find . -path ./build -prune -o \\( -name '*.so' -o -name '*.o' \\) -print"):format(q(copy)))
      assert.are.equal("", stray)
      -- the rock has the project's flags: one exported symbol
      local so = ("%s/lib/lua/%s/hcdl/core.so"):format(tree, ABI[lua])
      local symbols = capture(("nm -D --defined-only %s | awk '$2 == \"T\" { print $3 }'"):format(q(so)))
      assert.are.equal("luaopen_hcdl_core\n", symbols)
      -- every Lua file of lua/ is in the rock
      for f in capture(("cd %s/lua && find . -name '*.lua'"):format(q(copy))):gmatch("%./(%S+)") do
        assert.is_truthy(read(("%s/share/lua/%s/%s"):format(tree, ABI[lua], f)), f .. " is not in the rock")
      end
      local lpath = ("%s/share/lua/%s/?.lua;%s/share/lua/%s/?/init.lua;;"):format(tree, ABI[lua], tree, ABI[lua])
      local cpath = ("%s/lib/lua/%s/?.so;;"):format(tree, ABI[lua])
      local suffix = ABI[lua] == "5.1" and "" or "_" .. ABI[lua]:gsub("%.", "_")
      assert_outside_checkout(api_call(lua, { ["LUA_PATH" .. suffix] = lpath, ["LUA_CPATH" .. suffix] = cpath }), tree)
      -- the command LuaRocks wrapped (install.bin), on the same Lua
      ok, out = run(("%s %s/bin/hcdl --region %s backup --backup-id %s --links"):format(clean_env(), q(tree),
        REGION, emu.seed.rds_backup_id))
      assert.is_true(ok, out)
      assert.are.equal(2, select(2, out:gsub("https?://[^\n]+\n", "")), out)
      ok, out = run(("%s %s/bin/hcdl --version"):format(clean_env(), q(tree)))
      assert.matches(lua == "luajit" and "LuaJIT" or ("Lua " .. ABI[lua]), out)

      -- make install of the module just built, into a private prefix
      ok, out = run(("cd %s && make --no-print-directory install LUA=%s BUILD=build/luarocks PREFIX=%s"):format(
        q(copy), lua, q(prefix)))
      assert.is_true(ok, out)
      -- it says what a Lua program needs for a prefix Lua does not search
      assert.matches(("export LUA_PATH%s='%s/share/lua/%s/"):format(suffix, prefix, ABI[lua]):gsub("%p", "%%%0"), out)
      local plpath = ("%s/share/lua/%s/?.lua;%s/share/lua/%s/?/init.lua;;"):format(prefix, ABI[lua], prefix, ABI[lua])
      local pcpath = ("%s/lib/lua/%s/?.so;;"):format(prefix, ABI[lua])
      assert_outside_checkout(api_call(lua, { ["LUA_PATH" .. suffix] = plpath, ["LUA_CPATH" .. suffix] = pcpath }), prefix)
      ok, out = run(("%s %s/bin/hcdl --region %s backup --backup-id %s --json"):format(clean_env(), q(prefix),
        REGION, emu.seed.rds_backup_id))
      assert.is_true(ok, out)
      assert.are.equal(2, #cjson.decode(out).files)
      ok, out = run(("cd %s && make --no-print-directory -s uninstall LUA=%s PREFIX=%s"):format(
        q(copy), lua, q(prefix)))
      assert.is_true(ok, out)
      assert.are.equal("", capture(("find %s -type f"):format(q(prefix))))
    end)
  end

  it("luarocks pack makes a binary rock from the tree, offline", function()
    local tree = work .. "/tree-lua5.4"
    assert.is_truthy(read(tree .. "/bin/hcdl"), "the lua5.4 rock was not installed")
    local dir = work .. "/packed"
    local ok, out = run(("mkdir -p %s && cd %s && %s pack hcdl scm-1"):format(q(dir), q(dir), luarocks("lua5.4", tree)))
    assert.is_true(ok, out)
    local listing = capture(("unzip -l %s/hcdl-scm-1.*.rock"):format(q(dir)))
    for _, f in ipairs{ "lib/hcdl/core.so", "lua/hcdl.lua", "lua/hcdl/cli.lua", "bin/hcdl", "hcdl-scm-1.rockspec" } do
      assert.matches(f, listing, 1, true)
    end
  end)

  it("luarocks test runs the busted suite on the rock's Lua", function()
    -- in the copy, with one small spec, so the suite does not run itself
    local small = work .. "/small"
    local ok, out = run(("cp -r %s %s && cd %s/tests && find . -maxdepth 1 -name '*_spec.lua' ! -name sign_spec.lua -delete")
      :format(q(copy), q(small), q(small)))
    assert.is_true(ok, out)
    ok, out = run(("cd %s && %s test hcdl-scm-1.rockspec"):format(q(small), luarocks("lua5.3", work .. "/tree-lua5.3")))
    assert.is_true(ok, out)
    assert.matches("busted %-%-lua=[^%s]*lua5%.3", out)
    assert.matches("\n%d+ passed, 0 failed", out)
  end)

  it("make env gives every Lua its paths and names the builds that are missing", function()
    local ok, out = run(("cd %s && make --no-print-directory -s LUA=lua5.4 && make -s env >%s/env.sh"):format(
      q(copy), q(work)))
    assert.is_true(ok, out)
    local line = out:match("make env: no build for ([^\n]*)")
    assert.is_not_nil(line, out)
    for _, missing in ipairs{ "lua5.1", "lua5.2", "lua5.3", "luajit" } do
      assert.matches(missing, line, 1, true)
    end
    assert.is_nil(line:find("lua5.4", 1, true))
    assert.matches("run 'make LUA=<lua>'", line, 1, true)
    local env = read(work .. "/env.sh")
    for _, v in ipairs{ "LUA_PATH_5_2", "LUA_CPATH_5_2", "LUA_PATH_5_3", "LUA_CPATH_5_3", "LUA_PATH_5_4",
                        "LUA_CPATH_5_4", "LUA_PATH", "LUA_CPATH" } do
      assert.matches("\nexport " .. v .. "=", "\n" .. env)
    end
    -- a user's own LUA_PATH_5_4 stays, after hcdl's
    ok, out = run(("%s LUA_PATH_5_4='/nonexistent/?.lua;;' sh -c %s"):format(clean_env(),
      q(". " .. q(work .. "/env.sh") .. " && echo \"$LUA_PATH_5_4\" && lua5.4 " .. q(work .. "/api_call.lua")
        .. " " .. emu.seed.rds_backup_id)))
    assert.is_true(ok, out)
    assert.matches(copy .. "/lua/?.lua;" .. copy .. "/lua/?/init.lua;/nonexistent/?.lua;;", out, 1, true)
    assert.matches(copy .. "/lua/hcdl.lua 2", out, 1, true)
    -- an unbuilt Lua is told where the module was looked for
    ok, out = run(("%s sh -c %s"):format(clean_env(), q(". " .. q(work .. "/env.sh") .. " && lua5.3 -e 'require \"hcdl\"'")))
    assert.is_false(ok)
    assert.matches(copy .. "/build/lua5.3/hcdl/core.so", out, 1, true)
  end)

  it("make dist makes the release from its tag, and that source rock installs offline", function()
    local v = hcdl.version
    local repo = work .. "/release"
    local git = "git -c user.email=packaging@spec -c user.name=packaging-spec"
    local ok, out = run(("cp -r %s %s && cd %s && rm -rf build && git init -q && git add -A && %s commit -q -m release")
      :format(q(copy), q(repo), q(repo), git))
    assert.is_true(ok, out)
    ok, out = run(("cd %s && make -s dist"):format(q(repo)))
    assert.is_false(ok)
    assert.matches("no tag v" .. v, out, 1, true)
    ok, out = run(("cd %s && git tag v%s && make -s dist"):format(q(repo), v))
    assert.is_true(ok, out)
    local dist = repo .. "/build/dist"
    local listing = capture(("tar -tzf %s/hcdl-%s.tar.gz"):format(q(dist), v))
    assert.matches("\nhcdl%-" .. v:gsub("%.", "%%.") .. "/Makefile\n", "\n" .. listing)
    local tree = work .. "/release-tree"
    ok, out = run(("cd %s && %s install hcdl-%s-1.src.rock"):format(q(dist), luarocks("lua5.4", tree), v))
    assert.is_true(ok, out)
    assert_outside_checkout(api_call("lua5.4", { LUA_PATH_5_4 = tree .. "/share/lua/5.4/?.lua;;",
      LUA_CPATH_5_4 = tree .. "/lib/lua/5.4/?.so;;" }), tree)
  end)
end)
