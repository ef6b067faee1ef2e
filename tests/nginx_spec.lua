-- hcdl in real nginx (Debian's nginx + libnginx-mod-http-lua, one worker)
-- with the nginx.conf of README.md's "OpenResty" section as written
-- (issue 10; docs/architecture.md "Hosts with an event loop").  The spec
-- installs hcdl with `make install LUA=luajit PREFIX=<temp>`, substitutes
-- only that prefix for /usr/local and the port for 8080, and adds its own test locations
-- (tests/support/nginx_host.lua) and one init_by_lua_block.  While a slow
-- API call, a polling wait, a throttled download or a download_all runs in
-- one request (or an ngx.timer), a trivial request on the same worker must
-- be answered well under 100 ms.
local core = require "hcdl.core"
local cjson = require "cjson"
local emulator = require "tests.support.emulator"
local helpers = require "tests.support.helpers"
local process = require "tests.support.process"
local shell = require "tests.support.shell"

local MODULE = "/usr/lib/nginx/modules/ngx_http_lua_module.so"
local CLEAN = helpers.CLEAN_ENV
  .. " -u LUA_PATH -u LUA_CPATH"

local q, sh, read, write = shell.q, shell.ok, shell.read, shell.write
local alive, free_port = process.alive, process.free_port

-- The nginx.conf block of README.md, between its markers, without the fence.
local function readme_conf()
  local readme = helpers.read_file(helpers.root .. "/README.md")
  local block = readme:match("<!%-%- nginx.conf begin %-%->%s*```nginx\n(.-)```%s*<!%-%- nginx.conf end %-%->")
  assert(block, "README.md has no nginx.conf block between <!-- nginx.conf begin --> and <!-- nginx.conf end -->")
  return block
end

local function plain_replace(s, old, new)
  local out, n, i = {}, 0, 1
  while true do
    local a, b = s:find(old, i, true)
    if not a then break end
    out[#out + 1] = s:sub(i, a - 1) .. new
    i, n = b + 1, n + 1
  end
  out[#out + 1] = s:sub(i)
  return table.concat(out), n
end

local TEST_LOCATIONS = [[

    # --- added by tests/nginx_spec.lua ---
    location = /ping { return 200 "pong"; }
    location = /t/run {
      content_by_lua_block { ngx.say(require("hcdl_nginx_host").run(ngx.var.arg_what, ngx.var.arg_tag, ngx.var.arg_client)) }
    }
    location = /t/timer {
      content_by_lua_block { require("hcdl_nginx_host").in_timer(ngx.var.arg_what, ngx.var.arg_tag) ngx.say("started") }
    }
    location = /t/result {
      content_by_lua_block { ngx.say(ngx.shared.hcdl_test:get(ngx.var.arg_tag) or "pending") }
    }
    location = /t/init {
      content_by_lua_block { ngx.say(require("hcdl_nginx_host").init_result()) }
    }
    location = /t/log {
      content_by_lua_block { ngx.say("logged") }
      log_by_lua_block { require("hcdl_nginx_host").in_log(ngx.var.arg_tag) }
    }
    # --- end of the test locations ---
]]

describe("nginx (one worker, the README's nginx.conf) #once", function()
  local emu, work, prefix, port, pid, session, plan, install_ok

  local function url(path) return ("http://127.0.0.1:%d%s"):format(port, path) end

  local function get(path, timeout)
    local res, err = session:perform{ method = "GET", url = url(path), timeout = timeout or 30 }
    assert.is_table(res, tostring(err))
    return res
  end

  setup(function()
    assert(io.open(MODULE), "libnginx-mod-http-lua is not installed (scripts/install-deps installs it)")
    work = shell.fresh_path()
    prefix = work .. "/prefix"
    -- the worker runs as nobody: its download destinations are open to all
    local files = work .. "/files"
    assert(sh(("mkdir -p %s/req-download_all %s/timer-download_all && chmod 755 %s && chmod -R 777 %s")
      :format(q(files), q(files), q(work), q(files))))
    install_ok = sh(("%s make -s -C %s install LUA=luajit PREFIX=%s >%s 2>&1")
      :format(CLEAN, q(helpers.root), q(prefix), q(work .. "/install.log")))
    assert(install_ok, "make install LUA=luajit failed: " .. tostring(read(work .. "/install.log")))
    assert(sh(("cp %s %s && chmod -R a+rX %s"):format(q(helpers.root .. "/tests/support/nginx_host.lua"),
      q(prefix .. "/share/lua/5.1/hcdl_nginx_host.lua"), q(prefix))))

    emu = emulator.start()
    local one = emu:object{ name = "ngx-one.bin", size = 2 * 1024 * 1024, ttl = 3600 }
    local batch = {}
    for i = 1, 4 do
      local o = emu:object{ name = ("ngx-all%d.bin"):format(i), size = 1024 * 1024, ttl = 3600 }
      batch[i] = { name = o.name, download_link = o.url }
    end
    plan = { endpoint = emu.endpoint, ak = emu.ak, sk = emu.sk, project_id = emu.project_id, seed = emu.seed,
      download = one.url, batch = batch, dir = work .. "/files" }
    write(work .. "/plan.json", cjson.encode(plan))
    sh("chmod 644 " .. q(work .. "/plan.json"))

    port = free_port()
    local conf, n = plain_replace(readme_conf(), "/usr/local", prefix)
    assert(n >= 2, "the README's nginx.conf does not use the /usr/local install paths")
    conf, n = plain_replace(conf, "listen 8080;", ("listen 127.0.0.1:%d;"):format(port))
    assert(n == 1, "the README's nginx.conf has no single `listen 8080;`")
    local listen = ("listen 127.0.0.1:%d;"):format(port)
    conf = plain_replace(conf, listen, listen .. TEST_LOCATIONS)
    conf, n = plain_replace(conf, "http {", ("http {\n  lua_shared_dict hcdl_test 1m;\n"
      .. "  init_by_lua_block { require(\"hcdl_nginx_host\").configure(%q) }\n"):format(work .. "/plan.json"))
    assert(n == 1, "the README's nginx.conf has no single `http {`")
    write(work .. "/nginx.conf", conf)

    -- the README's own location reads credentials and the RDS endpoint
    -- through hcdl's chain (env), pointed at the emulator
    local globals = ("daemon off; pid %s/nginx.pid; error_log %s/error.log warn;"
      .. " env HUAWEICLOUD_SDK_REGION_RDS_CN_NORTH_4=%s;"):format(work, work, emu.endpoint)
    pid = process.spawn(("%s HUAWEICLOUD_SDK_AK=%s HUAWEICLOUD_SDK_SK=%s HUAWEICLOUD_SDK_PROJECT_ID=%s"
      .. " nginx -p %s -c %s -g %s >%s/stdout.log 2>&1")
      :format(CLEAN, q(emu.ak), q(emu.sk), q(emu.project_id), q(work), q(work .. "/nginx.conf"), q(globals), q(work)))
    session = assert(core.session{ timeout = 30 })
    local up = process.wait_for(function()
      local res = session:perform{ method = "GET", url = url("/ping"), timeout = 2 }
      return res and res.status == 200
    end, 15, 0.1)
    assert(up, "nginx did not start: " .. tostring(read(work .. "/error.log")) .. tostring(read(work .. "/stdout.log")))
  end)

  teardown(function()
    if session then session:close() end
    if pid then process.stop(pid, 5) end
    if emu then emu:stop() end
    shell.remove(work)
  end)

  -- The emulator state each case needs for its ~2 s wait.
  local function arrange(what)
    emu:reset()
    if what == "slow_api" then
      emu:fault{ target = "show_backup_download_link", kind = "slow_first_byte", seconds = 2, count = 1 }
    elseif what == "poll" then
      emu:set{ errorlog_creating = 3 }
    else
      emu:fault{ target = "store", kind = "throttle", rate = 1024 * 1024, count = cjson.null }
    end
  end

  -- Sequential trivial requests for `seconds`: the worst latency and count.
  local function trivial_latency(seconds)
    local worst, n, stop = 0, 0, core.now() + seconds
    while core.now() < stop or n < 5 do
      local t0 = core.now()
      local res = get("/ping", 10)
      local dt = core.now() - t0
      assert.are.equal("pong", res.body)
      if dt > worst then worst = dt end
      n = n + 1
      core.sleep(0.05)
    end
    return worst, n
  end

  local function assert_case_ok(result, what)
    assert.is_string(result)
    local took = tonumber(result:match("^ok %S+ ([%d.]+)"))
    assert.is_truthy(took, what .. ": " .. result)
    assert.is_true(took >= 1.5, ("%s took only %.2f s: not the intended ~2 s wait"):format(what, took))
  end

  local function assert_fast(worst, n, what)
    -- the figures, for people reading CI's log
    io.stderr:write(("\n[nginx] %s: worst trivial request %.1f ms of %d\n"):format(what, worst * 1000, n))
    assert.is_true(worst < 0.1, ("a trivial request waited %.0f ms during %s"):format(worst * 1000, what))
  end

  -- A case in a request handler: started by a background curl.
  local function in_request(what, tag, client)
    arrange(what)
    local out = work .. "/" .. tag .. ".out"
    local cpid = process.spawn(("%s curl -s -m 60 -o %s %s >/dev/null 2>&1"):format(CLEAN, q(out),
      q(url(("/t/run?what=%s&tag=%s&client=%s"):format(what, tag, client or "new")))))
    core.sleep(0.4) -- the case is now under way
    local worst, n = trivial_latency(1.2)
    process.wait_for(function() return not alive(cpid) end, 40)
    return worst, n, (read(out) or ""):gsub("\n$", "")
  end

  local function in_timer(what, tag)
    arrange(what)
    assert.are.equal("started\n", get(("/t/timer?what=%s&tag=%s"):format(what, tag)).body)
    core.sleep(0.4)
    local worst, n = trivial_latency(1.2)
    local deadline, result = core.now() + 40, "pending"
    repeat
      result = get("/t/result?tag=" .. tag).body:gsub("\n$", "")
      if result == "pending" then core.sleep(0.1) end
    until result ~= "pending" or core.now() > deadline
    return worst, n, result
  end

  it("the README's location works as written", function()
    emu:reset()
    local res = get("/rds-backup-links?backup_id=" .. emu.seed.rds_backup_id)
    assert.are.equal(200, res.status, res.body)
    local lines = 0
    for line in res.body:gmatch("[^\n]+") do
      assert.matches("^%S+ https?://", line)
      lines = lines + 1
    end
    assert.are.equal(2, lines)
  end)

  for _, what in ipairs{ "slow_api", "poll", "download", "download_all" } do
    it(what .. " in a request handler does not block the worker", function()
      local worst, n, result = in_request(what, "req-" .. what)
      assert_case_ok(result, what)
      assert_fast(worst, n, what)
    end)

    it(what .. " in an ngx.timer does not block the worker", function()
      local worst, n, result = in_timer(what, "timer-" .. what)
      assert_case_ok(result, what)
      assert_fast(worst, n, what .. " (timer)")
    end)
  end

  it("a client created (and used) in init_by_lua does not block later requests", function()
    assert.matches("^ok 2", get("/t/init").body)
    local worst, n, result = in_request("slow_api", "init-slow_api", "init")
    assert_case_ok(result, "slow_api with the init client")
    assert_fast(worst, n, "slow_api with the init client")
  end)

  it("a call in log_by_lua returns nil, err naming the phase and does not raise", function()
    emu:reset()
    assert.are.equal("logged\n", get("/t/log?tag=log").body)
    local deadline, result = core.now() + 10, "pending"
    repeat
      core.sleep(0.1)
      result = get("/t/result?tag=log").body:gsub("\n$", "")
    until result ~= "pending" or core.now() > deadline
    assert.matches("^error ", result, result)
    assert.matches("log", result:sub(7))
  end)
end)
