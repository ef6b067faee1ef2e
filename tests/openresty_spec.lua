-- hcdl inside real nginx with the Lua module (Debian's libnginx-mod-http-lua,
-- LuaJIT): API calls run in a worker thread pool, so a slow API does not
-- stall other requests on the same worker.
local core = require "hcdl.core"
local emulator = require "tests.support.emulator"
local helpers = require "tests.support.helpers"

local MODULE = "/usr/lib/nginx/modules/ngx_http_lua_module.so"

local process = require "tests.support.process"
local shell = require "tests.support.shell"

local sh = shell.ok

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
    work = shell.mktemp_dir()
    assert(sh("chmod 755 " .. shell.q(work)))
    port = process.free_port()
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
    shell.write(work .. "/nginx.conf", conf)
    pid = process.spawn(("env -u LD_PRELOAD nginx -c %s/nginx.conf -p %s >%s/stdout.log 2>&1"):format(work, work, work))
    local up = process.wait_for(function()
      local res = http_get(("http://127.0.0.1:%d/ping"):format(port), 2)
      return res and res.status == 200
    end, 15, 0.1)
    assert(up, "nginx did not start: " .. (helpers.read_file(work .. "/error.log") or ""))
  end)

  teardown(function()
    if pid then process.stop(pid, 5) end
    shell.remove(work)
    if emu then emu:stop() end
  end)

  before_each(function() emu:reset() end)

  it("calls the APIs from a request handler through the worker thread pool", function()
    local res = assert(http_get(("http://127.0.0.1:%d/backup"):format(port)))
    assert.are.equal(200, res.status)
    assert.matches("^files 2 via ngx", res.body)
  end)

  -- A slow API call in one request (by a background curl) while /ping is
  -- answered at once; then the slow call's own answer.
  for _, case in ipairs{
    { "falls back to polling the engine when the thread pool is not in nginx.conf, still not blocking",
      path = "/backup_nopool", seconds = 1.0 },
    { "retries with ngx.sleep and keeps serving other requests meanwhile", path = "/backup", seconds = 1.5 },
  } do
    it(case[1], function()
      emu:fault{ target = "show_backup_download_link", kind = "slow_first_byte", seconds = case.seconds, count = 1 }
      local done = os.tmpname()
      sh(("env -u LD_PRELOAD curl -s http://127.0.0.1:%d%s > %s &"):format(port, case.path, done))
      core.sleep(0.3) -- the slow call is now under way
      local t0 = core.now()
      local res = assert(http_get(("http://127.0.0.1:%d/ping"):format(port), 5))
      assert.are.equal("pong", res.body)
      assert.is_true(core.now() - t0 < 0.5, "the event loop was blocked")
      local out = process.wait_for(function()
        local text = shell.read(done)
        return text and text:find("files") and text
      end, 10, 0.1)
      os.remove(done)
      assert.matches("files 2 via ngx", out)
    end)
  end
end)
