-- hcdl inside real nginx with the Lua module (Debian's libnginx-mod-http-lua,
-- LuaJIT): API calls run in a worker thread pool, so a slow API does not
-- stall other requests on the same worker.
local core = require "hcdl.core"
local emulator = require "tests.support.emulator"
local helpers = require "tests.support.helpers"

local MODULE = "/usr/lib/nginx/modules/ngx_http_lua_module.so"

local function sh(cmd)
  local r = os.execute(cmd)
  return r == true or r == 0
end

local function http_get(url, timeout)
  local s = assert(core.session{ timeout = timeout or 30 })
  local res, err = s:perform{ method = "GET", url = url }
  s:close()
  return res, err
end

describe("OpenResty (nginx + lua-nginx-module) #once", function()
  local emu, work, port, pid

  setup(function()
    assert(io.open(MODULE), "libnginx-mod-http-lua is not installed (scripts/install-deps installs it)")
    -- a clean environment: inside `make asan` or `make test-all` the outer
    -- make passes BUILD/LUA/flags down through MAKEFLAGS
    assert(sh(("%s make -s -C %s LUA=luajit BUILD=build/luajit >/dev/null"):format(helpers.CLEAN_ENV, helpers.root)),
      "cannot build for LuaJIT")
    emu = emulator.start()
    work = os.tmpname()
    os.remove(work)
    assert(sh("mkdir -p " .. work .. " && chmod 755 " .. work))
    local p = assert(io.popen(helpers.PY .. [[ -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])']]))
    port = tonumber(p:read("*a"))
    p:close()
    local conf = ([[
load_module /usr/lib/nginx/modules/ndk_http_module.so;
load_module %s;
user root;
worker_processes 1;
daemon off;
pid %s/nginx.pid;
error_log %s/error.log warn;
thread_pool hcdl threads=2;
events { worker_connections 64; }
http {
  access_log off;
  client_body_temp_path %s; proxy_temp_path %s; fastcgi_temp_path %s; uwsgi_temp_path %s; scgi_temp_path %s;
  lua_package_path "%s/lua/?.lua;/usr/share/lua/5.1/?.lua;;";
  lua_package_cpath "%s/build/luajit/?.so;/usr/lib/x86_64-linux-gnu/lua/5.1/?.so;;";
  server {
    listen 127.0.0.1:%d;
    location /ping { return 200 "pong"; }
    location /backup_nopool {
      content_by_lua_block {
        local cjson = require "cjson"
        local f = io.open("%s")
        local emu = cjson.decode(f:read("*a"))
        f:close()
        local hcdl = require "hcdl"
        -- a pool nginx.conf does not declare: the polled path takes over
        local c = assert(hcdl.new{ project_id = emu.project_id, ak = emu.ak, sk = emu.sk, thread_pool = "missing",
          endpoints = { rds = emu.endpoint, gaussdb = emu.endpoint, dcs = emu.endpoint }, retry_base = 0.05 })
        local r, err = c:show_backup_download_link{ backup_id = emu.seed.rds_backup_id }
        if not r then ngx.say("error ", tostring(err)) return end
        ngx.say("files ", #r.files, " via ", c:transport().name)
      }
    }
    location /backup {
      content_by_lua_block {
        local cjson = require "cjson"
        local f = io.open("%s")
        local emu = cjson.decode(f:read("*a"))
        f:close()
        local hcdl = require "hcdl"
        local c = assert(hcdl.new{ project_id = emu.project_id, ak = emu.ak, sk = emu.sk,
          endpoints = { rds = emu.endpoint, gaussdb = emu.endpoint, dcs = emu.endpoint }, retry_base = 0.05 })
        local r, err = c:show_backup_download_link{ backup_id = emu.seed.rds_backup_id }
        local t = c:transport()
        if not r then ngx.say("error ", tostring(err)) return end
        ngx.say("files ", #r.files, " via ", t.name)
      }
    }
  }
}
]]):format(MODULE, work, work, work, work, work, work, work, helpers.root, helpers.root, port, emu.cfgfile, emu.cfgfile)
    local f = assert(io.open(work .. "/nginx.conf", "w"))
    f:write(conf)
    f:close()
    local pp = assert(io.popen(("env -u LD_PRELOAD nginx -c %s/nginx.conf -p %s >%s/stdout.log 2>&1 & echo $!"):format(work, work, work)))
    pid = tonumber(pp:read("*a"))
    pp:close()
    local deadline = core.now() + 15
    local up = false
    repeat
      local res = http_get(("http://127.0.0.1:%d/ping"):format(port), 2)
      up = res and res.status == 200
      if not up then core.sleep(0.1) end
    until up or core.now() > deadline
    assert(up, "nginx did not start: " .. (helpers.read_file(work .. "/error.log") or ""))
  end)

  teardown(function()
    if pid then sh("kill " .. pid .. " 2>/dev/null") end
    core.sleep(0.3)
    if work then sh("rm -rf " .. work) end
    if emu then emu:stop() end
  end)

  before_each(function() emu:reset() end)

  it("calls the APIs from a request handler through the worker thread pool", function()
    local res = assert(http_get(("http://127.0.0.1:%d/backup"):format(port)))
    assert.are.equal(200, res.status)
    assert.matches("^files 2 via ngx", res.body)
  end)

  it("falls back to polling the engine when the thread pool is not in nginx.conf, still not blocking", function()
    emu:fault{ target = "show_backup_download_link", kind = "slow_first_byte", seconds = 1.0, count = 1 }
    local done = os.tmpname()
    sh(("env -u LD_PRELOAD curl -s http://127.0.0.1:%d/backup_nopool > %s &"):format(port, done))
    core.sleep(0.3)
    local t0 = core.now()
    local res = assert(http_get(("http://127.0.0.1:%d/ping"):format(port), 5))
    assert.are.equal("pong", res.body)
    assert.is_true(core.now() - t0 < 0.5, "the event loop was blocked")
    local deadline = core.now() + 10
    local out
    repeat
      core.sleep(0.1)
      out = helpers.read_file(done)
    until (out and out:find("files")) or core.now() > deadline
    os.remove(done)
    assert.matches("files 2 via ngx", out)
  end)

  it("retries with ngx.sleep and keeps serving other requests meanwhile", function()
    emu:fault{ target = "show_backup_download_link", kind = "slow_first_byte", seconds = 1.5, count = 1 }
    local done = os.tmpname()
    sh(("env -u LD_PRELOAD curl -s http://127.0.0.1:%d/backup > %s &"):format(port, done))
    core.sleep(0.3) -- the slow call is now under way in the thread pool
    local t0 = core.now()
    local res = assert(http_get(("http://127.0.0.1:%d/ping"):format(port), 5))
    assert.are.equal("pong", res.body)
    assert.is_true(core.now() - t0 < 0.5, "the event loop was blocked")
    local deadline = core.now() + 10
    local out
    repeat
      core.sleep(0.1)
      out = helpers.read_file(done)
    until (out and out:find("files")) or core.now() > deadline
    os.remove(done)
    assert.matches("files 2 via ngx", out)
  end)
end)
