-- The `hcdl` command as a user runs it: `make install` into a private
-- prefix, then the installed command as a subprocess, from another
-- directory, with a clean environment (credentials and endpoints in the
-- HUAWEICLOUD_SDK_* variables), against the emulator.  Also the progress
-- display in a real terminal (tmux), Ctrl-C, and the bash completion.
local cjson = require "cjson"
local core = require "hcdl.core"
local hcdl = require "hcdl"
local emulator = require "tests.support.emulator"
local helpers = require "tests.support.helpers"
local shell = require "tests.support.shell"
local command = require "tests.support.command"
local process = require "tests.support.process"

local LUA = helpers.LUA
local unpack = table.unpack or unpack
local REGION = "cn-north-4"
local q, sh, capture, read, mktemp_dir = shell.q, shell.ok, shell.capture, shell.read, shell.mktemp_dir

local expected_md5s = helpers.expected_md5s

local lines = helpers.lines

describe("the hcdl command", function()
  local emu, work, prefix, hcdl_bin, out_dir

  -- The installed command with the environment a user's shell (or cron)
  -- would have: credentials and endpoints (all on one) from the SDK
  -- variables, nothing of this checkout.
  local installed
  local function command_line(argv, env) return installed:line(argv, env) end
  local function run(argv, env) return installed:run(argv, env) end

  local function with_region(...) return { "--region", REGION, ... } end

  local function no_secrets(...)
    for _, text in ipairs{ ... } do
      assert.is_nil(text:find(emu.sk, 1, true), "the SK appeared in the output")
      -- a link's query values are shown as <redacted> (docs/architecture.md "Redaction")
      assert.is_nil(text:find("Signature=[^<]"), "a link signature appeared in the output")
    end
  end

  setup(function()
    emu = emulator.start()
    work = mktemp_dir()
    installed = command.install({ ak = emu.ak, sk = emu.sk, project_id = emu.project_id, endpoint = emu.endpoint },
      work, { region = false })
    prefix, hcdl_bin = installed.prefix, installed.bin
  end)
  teardown(function()
    if emu then emu:stop() end
    shell.remove(work)
  end)
  before_each(function()
    emu:reset()
    emu:set{ errorlog_creating = 0 }
    out_dir = work .. "/out"
    assert(sh(("rm -rf %s && mkdir -p %s"):format(q(out_dir), q(out_dir))))
  end)

  describe("installed by make install", function()
    it("runs with the interpreter hcdl.core was built for", function()
      local first = read(hcdl_bin):match("^#!(%S+)")
      assert.are.equal(capture("command -v " .. LUA):gsub("%s+$", ""), first)
      local code, out = run{ "--version" }
      assert.are.equal(0, code)
      assert.matches("^hcdl " .. hcdl.version:gsub("%.", "%%.") .. " %(", out)
    end)

    it("shows help for the command and for each command", function()
      for _, argv in ipairs{ { "--help" }, { "help" } } do
        local code, out = run(argv)
        assert.are.equal(0, code)
        for _, c in ipairs{ "fullsql", "backup", "dcs-backup", "runlog", "errorlog", "help" } do
          assert.matches(c, out, 1, true)
        end
      end
      for _, c in ipairs{ "fullsql", "backup", "dcs-backup", "runlog", "errorlog" } do
        for _, argv in ipairs{ { c, "--help" }, { "help", c } } do
          local code, out = run(argv)
          assert.are.equal(0, code, c)
          assert.matches("Usage: hcdl " .. c, out, 1, true)
          assert.matches("--out DIR", out, 1, true)
        end
      end
    end)

    it("installs the bash completion, which completes commands and options", function()
      local file = prefix .. "/share/bash-completion/completions/hcdl"
      assert.are.equal(read(helpers.root .. "/contrib/hcdl.bash-completion"), read(file))
      local function complete(...)
        local words = { "hcdl", ... }
        local quoted = {}
        for i, w in ipairs(words) do quoted[i] = q(w) end
        return capture(("bash -c %s"):format(q(("source %s; COMP_WORDS=(%s); COMP_CWORD=%d; _hcdl; echo \"${COMPREPLY[*]}\"")
          :format(q(file), table.concat(quoted, " "), #words - 1))))
      end
      assert.matches("^backup backups%s*$", complete("ba"))
      assert.matches("--backup-id", complete("backup", "--ba"), 1, true)
      assert.matches("--concurrency", complete("fullsql", "--con"), 1, true)
    end)

    it("make uninstall removes everything make install put there", function()
      local other = work .. "/other-prefix"
      assert(sh(("make -C %s --no-print-directory -s install LUA=%s PREFIX=%s >/dev/null 2>&1"):format(
        q(helpers.root), LUA, q(other))))
      assert(sh(("test -x %s/bin/hcdl"):format(q(other))))
      assert(sh(("make -C %s --no-print-directory -s uninstall LUA=%s PREFIX=%s >/dev/null 2>&1"):format(
        q(helpers.root), LUA, q(other))))
      assert.are.equal("", capture(("find %s -type f"):format(q(other))))
    end)
  end)

  describe("the progress display", function()
    -- The library's per-file progress (info.files) is drawn the same way in
    -- the terminal test below once the library reports it; here the
    -- display gets that shape directly, on a file standing in for stderr.
    it("draws a line per active file and one for all, and clears them", function()
      local progress = require "hcdl.cli.progress"
      local path = work .. "/display"
      local stream = assert(io.open(path, "wb"))
      local t = 0
      local display = progress.new{ stream = stream, width = 100, now = function() return t end }
      local name = ("x"):rep(150) .. "_SQLAudit_7"
      local function info(done_a, done_b)
        return { files = {
          { name = "a.qp", done = done_a, total = 4 * 1048576, state = "active" },
          { name = name, done = done_b, total = 2 * 1048576, state = "active" },
          { name = "c.qp", done = 1048576, total = 1048576, state = "done" },
          { name = "d.qp", done = 0, total = 1048576, state = "queued" },
        } }
      end
      display.update(0, 8 * 1048576, 0, info(0, 0))
      t = 2
      display.update(3 * 1048576, 8 * 1048576, 1048576, info(1048576, 1048576))
      display.clear()
      stream:close()
      local drawn = read(path)
      local frames = {}
      for f in drawn:gmatch("\r([^\r]*)") do frames[#frames + 1] = f end
      assert.are.equal(3, #frames, drawn)
      -- each redraw goes back to the first of the lines drawn before
      local second = frames[2]:match("^\27%[2A(.*)\27%[J$")
      assert.is_not_nil(second, frames[2])
      local rows = lines((second:gsub("\27%[K", "")))
      assert.are.equal(3, #rows)
      assert.matches("^  a%.qp  1%.0 MiB / 4%.0 MiB   25%%  512%.0 KiB/s  ETA 0:06$", rows[1])
      assert.matches("x%.%.%.x+_SQLAudit_7  1%.0 MiB / 2%.0 MiB   50%%  512%.0 KiB/s  ETA 0:02$", rows[2])
      assert.is_true(#rows[2] < 100)
      assert.matches("^all  1/4 files  3%.0 MiB / 8%.0 MiB   37%%  1%.5 MiB/s  ETA 0:03$", rows[3])
      assert.are.equal("\27[2A\27[J", frames[3]) -- cleared at the end
    end)

    it("draws nothing without a terminal", function()
      local progress = require "hcdl.cli.progress"
      local path = work .. "/no-display"
      local stream = assert(io.open(path, "wb"))
      local display = progress.new{ stream = stream, width = nil, now = function() return 0 end }
      display.update(1, 2, 1, nil)
      display.clear()
      stream:close()
      assert.are.equal("", read(path))
    end)
  end)

  describe("the completion file", function()
    it("is the one generated from the command line definition", function()
      -- (the tool loads hcdl.core: under `make asan` it needs the preload)
      local generated = process.capture(("%s %s/tools/make-completion"):format(LUA, q(helpers.root)))
      assert.are.equal(read(helpers.root .. "/contrib/hcdl.bash-completion"), generated,
        "contrib/hcdl.bash-completion is stale: run make completion")
    end)
  end)

  describe("from a checkout", function()
    it("bin/hcdl runs the built module with the checkout's Lua files", function()
      local out = capture(("cd / && env -i PATH=/usr/bin:/bin HCDL_LUA=%s %s/bin/hcdl --version 2>&1"):format(
        LUA, q(helpers.root)))
      assert.matches("^hcdl " .. hcdl.version:gsub("%.", "%%.") .. " %(", out)
    end)

    it("says what to build when no module is built for the Lua asked", function()
      local status = capture(("cd / && env -i PATH=/usr/bin:/bin HCDL_LUA=lua9.9 %s/bin/hcdl --version >/dev/null 2>%s; echo $?")
        :format(q(helpers.root), q(work .. "/err")))
      assert.are.equal("4", status:match("%d+"))
      assert.matches("run 'make'", read(work .. "/err"), 1, true)
    end)
  end)

  describe("lists", function()
    local range

    before_each(function() range = emu.seed.gaussdb_time_range end)

    local function fullsql(...)
      return run(with_region("fullsql", "--instance", emu.seed.gaussdb_instance_id,
        "--start", range[1], "--end", range[2], ...))
    end

    it("full-SQL files as a table, JSON and links, across every page", function()
      local n = emu.seed.gaussdb_file_count
      local code, out, err = fullsql()
      assert.are.equal(0, code, err)
      local rows = lines(out)
      assert.matches("^NAME%s+SIZE%s+UPDATED$", rows[1])
      assert.are.equal(n + 1, #rows)
      assert.matches("_SQLAudit_%d+%s+~[%d.]+ KiB%s+2023%-07%-24T", rows[2])
      no_secrets(out, err)

      code, out, err = fullsql("--json")
      assert.are.equal(0, code, err)
      local doc = cjson.decode(out)
      assert.are.equal(n, #doc.files)
      for _, f in ipairs(doc.files) do
        assert.is_string(f.name)
        assert.are.equal(f.download_link, f.link)
        assert.is_number(f.size)
      end
      no_secrets(err)

      code, out = fullsql("--links")
      assert.are.equal(0, code)
      local links = lines(out)
      assert.are.equal(n, #links)
      -- the same files in the same order (another run: the signatures differ)
      for i, l in ipairs(links) do assert.are.equal(doc.files[i].link:match("^[^?]+"), l:match("^[^?]+")) end
    end)

    it("every command in every output form: the same files", function()
      local cases = {
        { "fullsql", "--instance", emu.seed.gaussdb_instance_id, "--start", range[1], "--end", range[2] },
        { "backup", "--backup-id", emu.seed.rds_backup_id },
        { "dcs-backup", "--instance", emu.seed.dcs_instance_id, "--backup-id", emu.seed.dcs_backup_id },
        { "runlog", "--instance", emu.seed.dcs_instance_id, "--days", "7" },
        { "errorlog", "--instance", emu.seed.pg_instance_id },
      }
      for _, argv in ipairs(cases) do
        local argv_json, argv_links = { unpack(argv) }, { unpack(argv) }
        argv_json[#argv_json + 1] = "--json"
        argv_links[#argv_links + 1] = "--links"
        local code, table_out, err = run(with_region(unpack(argv)))
        assert.are.equal(0, code, argv[1] .. ": " .. err)
        local code_j, json_out = run(with_region(unpack(argv_json)))
        local code_l, links_out = run(with_region(unpack(argv_links)))
        assert.are.equal(0, code_j, argv[1])
        assert.are.equal(0, code_l, argv[1])
        local files, links = cjson.decode(json_out).files, lines(links_out)
        assert.is_true(#files > 0, argv[1])
        assert.are.equal(#files, #lines(table_out) - 1, argv[1])
        assert.are.equal(#files, #links, argv[1])
        for i, f in ipairs(files) do
          local name = f.name or f.file_name
          assert.matches(name, table_out, 1, true)
          assert.matches("^https?://", f.link)
          assert.matches(name, links[i], 1, true)
        end
        no_secrets(table_out, err)
      end
    end)

    it("one node's full-SQL files", function()
      local code, out = fullsql("--node", emu.seed.gaussdb_node_id, "--links")
      assert.are.equal(0, code)
      local links = lines(out)
      assert.is_true(#links > 0 and #links < emu.seed.gaussdb_file_count)
      for _, l in ipairs(links) do assert.matches(emu.seed.gaussdb_node_id, l, 1, true) end
    end)

    it("RDS backup files", function()
      local code, out, err = run(with_region("backup", "--backup-id", emu.seed.rds_backup_id))
      assert.are.equal(0, code, err)
      local rows = lines(out)
      assert.matches("^NAME%s+SIZE%s+DATABASE$", rows[1])
      assert.are.equal(3, #rows)
      assert.matches("_db_orders%.qp%s+~684%.0 KiB%s+db_orders\n", out)
      no_secrets(out, err)
      code, out = run(with_region("backup", "--backup-id", emu.seed.rds_backup_id, "--json"))
      assert.are.equal(0, code)
      local doc = cjson.decode(out)
      assert.are.equal(2, #doc.files)
      assert.are.equal("db_orders", doc.files[2].database_name)
      assert.matches("^http://.*Signature=", doc.files[1].link)
    end)

    it("DCS backup files with the link lifetime asked", function()
      local argv = with_region("dcs-backup", "--instance", emu.seed.dcs_instance_id,
        "--backup-id", emu.seed.dcs_backup_id, "--expiration", "900", "--links")
      local before = os.time()
      local code, out, err = run(argv)
      assert.are.equal(0, code, err)
      local links = lines(out)
      assert.are.equal(3, #links)
      local expires = tonumber(links[1]:match("Expires=(%d+)"))
      assert.is_true(math.abs(expires - (before + 900)) <= 5, "Expires=" .. tostring(expires))
      code, out = run(with_region("dcs-backup", "--instance", emu.seed.dcs_instance_id,
        "--backup-id", emu.seed.dcs_backup_id))
      assert.are.equal(0, code)
      assert.matches("^NAME\n", out)
      assert.are.equal(4, #lines(out))
      no_secrets(out)
    end)

    it("DCS run logs of the last days", function()
      local code, out, err = run(with_region("runlog", "--instance", emu.seed.dcs_instance_id, "--days", "1"))
      assert.are.equal(0, code, err)
      local rows = lines(out)
      -- a cluster instance: the logs of every replica, two days each
      local replicas = #emu.seed.dcs_replication_ids
      assert.matches("^NAME%s+GROUP%s+NODE IP%s+TIME$", rows[1])
      assert.are.equal(1 + 2 * replicas, #rows)
      assert.matches("^redis_[%d.]+_%d+%-%d+%-%d+%.log", rows[2])
      no_secrets(out, err)
      code, out = run(with_region("runlog", "--instance", emu.seed.dcs_instance_id, "--json"))
      assert.are.equal(0, code)
      local doc = cjson.decode(out)
      assert.are.equal(replicas, #doc.files)
      assert.matches("^http://.*Signature=", doc.files[1].link)
      assert.is_string(doc.files[1].file_name)
    end)

    it("PostgreSQL error logs, once prepared", function()
      emu:set{ errorlog_creating = 1 }
      local code, out, err = run(with_region("errorlog", "--instance", emu.seed.pg_instance_id, "--timeout", "60"))
      assert.are.equal(0, code, err)
      local rows = lines(out)
      assert.matches("^NAME%s+SIZE$", rows[1])
      assert.are.equal(3, #rows)
      assert.matches("^postgresql%-.*%.log%s+[%d.]+ [KM]iB$", rows[2])
      code, out = run(with_region("errorlog", "--instance", emu.seed.pg_instance_id, "--links"))
      assert.are.equal(0, code)
      assert.are.equal(2, #lines(out))
    end)

    describe("the newest backup (--latest)", function()
      local function helpers_present()
        local client = assert(hcdl.new(emu:config{ region = REGION }))
        return client.latest_backup ~= nil and client.backup_files ~= nil
      end

      it("lists the RDS and DCS files of the newest finished backup", function()
        if not helpers_present() then
          pending("client:latest_backup is not in this library yet: --latest is checked once it lands")
          return
        end
        local rds_instance = assert(emu.seed.rds_instance_id, "the emulator's seed names no RDS instance")
        local code, out, err = run(with_region("backup", "--instance", rds_instance, "--latest", "--json"))
        assert.are.equal(0, code, err)
        assert.is_true(#cjson.decode(out).files > 0)
        code, out, err = run(with_region("dcs-backup", "--instance", emu.seed.dcs_instance_id, "--latest", "--links"))
        assert.are.equal(0, code, err)
        assert.is_true(#lines(out) > 0)
      end)

      it("says it needs the companion helpers when the library lacks them", function()
        if helpers_present() then
          pending("the library has client:latest_backup: the test above covers --latest")
          return
        end
        local code, _, err = run(with_region("dcs-backup", "--instance", emu.seed.dcs_instance_id, "--latest"))
        assert.are.equal(2, code)
        assert.matches("--latest", err, 1, true)
        assert.matches("--backup-id", err, 1, true)
      end)
    end)
  end)

  describe("downloads", function()
    local function backup(...)
      return run(with_region("backup", "--backup-id", emu.seed.rds_backup_id, "--out", out_dir, ...))
    end

    local function rds_files()
      local client = assert(hcdl.new(emu:config{ region = REGION }))
      return assert(client:show_backup_download_link{ backup_id = emu.seed.rds_backup_id }).files
    end

    local function assert_byte_exact(files)
      local sizes = {}
      for i, f in ipairs(files) do
        local path = out_dir .. "/" .. f.name
        sizes[i] = { f.name, assert(core.file_size(path), path .. " is missing") }
      end
      local want = expected_md5s(sizes)
      for i, f in ipairs(files) do
        local path = out_dir .. "/" .. f.name
        assert.are.equal(want[i], core.md5_file(path), f.name)
        assert.is_false(core.file_size(path .. ".part"))
      end
    end

    it("downloads byte-exact, then skips what is complete; stderr has only the summary when not a terminal", function()
      -- slow enough that a terminal would have seen the display redrawn
      emu:fault{ target = "store", kind = "throttle", rate = 4 * 1024 * 1024 }
      local code, out, err = backup()
      assert.are.equal(0, code, err)
      assert_byte_exact(rds_files())
      local rows = lines(out)
      assert.matches("^NAME%s+STATUS%s+SIZE%s+VERIFIED%s+PATH$", rows[1])
      assert.matches("%snew%s+5%.0 MiB%s+size,md5%S*%s+" .. out_dir:gsub("%p", "%%%0") .. "/", rows[2])
      assert.are.same({ "hcdl: 2 files: 2 new, 0 skipped, 0 failed (5.7 MiB downloaded) in %S+ s" },
        { (err:gsub("in [%d.]+ s", "in %%S+ s"):gsub("\n$", "")) })
      assert.is_nil(err:find("[\r\27]"))
      no_secrets(out, err)

      code, out, err = backup("--json")
      assert.are.equal(0, code, err)
      local doc = cjson.decode(out)
      for _, f in ipairs(doc.files) do
        assert.are.equal("skipped", f.status)
        assert.are.equal(out_dir .. "/" .. f.name, f.path)
        assert.is_string(f.link)
      end
      assert.matches("2 files: 0 new, 2 skipped, 0 failed (0 B downloaded)", err, 1, true)
    end)

    it("--quiet prints nothing on success, --json still the report", function()
      local code, out, err = backup("--quiet")
      assert.are.equal(0, code)
      assert.are.equal("", out)
      assert.are.equal("", err)
      assert(sh("rm -f " .. q(out_dir) .. "/*"))
      code, out, err = backup("--quiet", "--json", "--concurrency", "1")
      assert.are.equal(0, code)
      assert.are.equal("", err)
      for _, f in ipairs(cjson.decode(out).files) do assert.are.equal("new", f.status) end
      assert_byte_exact(rds_files())
    end)

    it("every command downloads its files", function()
      local range = emu.seed.gaussdb_time_range
      local cases = {
        -- the first three hours of one node: a few pages' worth of small files
        { "fullsql", "--instance", emu.seed.gaussdb_instance_id, "--start", range[1],
          "--end", (range[1]:gsub("T00:", "T03:")), "--node", emu.seed.gaussdb_node_id, "--concurrency", "8" },
        { "dcs-backup", "--instance", emu.seed.dcs_instance_id, "--backup-id", emu.seed.dcs_backup_id },
        { "runlog", "--instance", emu.seed.dcs_instance_id, "--days", "3" },
        { "errorlog", "--instance", emu.seed.pg_instance_id },
      }
      for _, argv in ipairs(cases) do
        assert(sh(("rm -rf %s && mkdir -p %s"):format(q(out_dir), q(out_dir))))
        argv[#argv + 1] = "--out"
        argv[#argv + 1] = out_dir
        argv[#argv + 1] = "--json"
        local code, out, err = run(with_region(unpack(argv)))
        assert.are.equal(0, code, argv[1] .. ": " .. err)
        local doc = cjson.decode(out)
        assert.is_true(#doc.files > 0, argv[1])
        local sizes = {}
        for i, f in ipairs(doc.files) do
          assert.are.equal("new", f.status, argv[1])
          sizes[i] = { f.path:match("[^/]+$"), assert(core.file_size(f.path), f.path) }
        end
        local want = expected_md5s(sizes)
        for i, f in ipairs(doc.files) do
          assert.are.equal(want[i], core.md5_file(f.path), f.path)
        end
      end
    end)

    it("exits 1 when some files failed, naming them, and completes the others", function()
      -- the second object request gets a 404: not retried, that file fails
      emu:fault{ target = "store", kind = "status", status = 404, skip_first = 1 }
      local code, out, err = backup("--concurrency", "1")
      assert.are.equal(1, code, err)
      local doc_rows = lines(out)
      assert.matches("%snew%s", doc_rows[2])
      assert.matches("%sfailed%s", doc_rows[3])
      local err_lines = lines(err)
      assert.are.equal(2, #err_lines)
      assert.matches("^hcdl http error %(HTTP 404%).*_db_orders%.qp", err_lines[1])
      assert.matches("1 new, 0 skipped, 1 failed", err_lines[2], 1, true)
      no_secrets(out, err)
    end)

    it("stops on Ctrl-C with exit 130, keeps the .part, and the next run resumes byte-exact", function()
      emu:fault{ target = "store", kind = "throttle", rate = 512 * 1024 }
      local files = rds_files()
      local big = files[1].name
      local part = out_dir .. "/" .. big .. ".part"
      local rc_file, pid_file = work .. "/rc", work .. "/pid"
      os.remove(rc_file)
      -- the command in the background, its own pid and exit status on files
      assert(sh(("(%s >%s 2>%s </dev/null & echo $! >%s; wait $!; echo $? >%s) &"):format(
        command_line(with_region("backup", "--backup-id", emu.seed.rds_backup_id, "--out", out_dir)),
        q(work .. "/stdout"), q(work .. "/stderr"), q(pid_file), q(rc_file))))
      local deadline = core.now() + 30
      while (core.file_size(part) or 0) < 256 * 1024 and core.now() < deadline do core.sleep(0.05) end
      assert.is_true((core.file_size(part) or 0) >= 256 * 1024, "the download did not start")
      local pid = assert(tonumber(read(pid_file)))
      assert(sh("kill -INT " .. pid))
      while not read(rc_file) and core.now() < deadline do core.sleep(0.05) end
      assert.are.equal("130", (read(rc_file) or ""):match("%d+"), read(work .. "/stderr"))
      local err = read(work .. "/stderr")
      assert.matches("^hcdl: interrupted; partial downloads are kept as %.part files", err)
      assert.are.equal(1, #lines(err))
      local kept = core.file_size(part)
      assert.is_true(kept > 0 and kept < 5 * 1048576, "kept " .. tostring(kept))
      assert.is_false(core.file_size(out_dir .. "/" .. big))

      emu:reset()
      local code, _, err2 = run(with_region("backup", "--backup-id", emu.seed.rds_backup_id, "--out", out_dir))
      assert.are.equal(0, code, err2)
      assert_byte_exact(files)
      local resumed = false
      for _, r in ipairs(emu:requests("store")) do
        local from = r.range and tonumber(r.range:match("^bytes=(%d+)%-"))
        if r.path:find(big, 1, true) and from and from > 0 then resumed = true end
      end
      assert.is_true(resumed, "the second run did not ask for the rest with Range")
    end)

    it("shows per-file and overall progress redrawn in a terminal", function()
      assert(sh("command -v tmux >/dev/null"), "tmux is needed (scripts/install-deps installs it)")
      emu:fault{ target = "store", kind = "throttle", rate = 1024 * 1024 }
      local socket = "hcdl-cli-spec-" .. tostring(core.pid()) .. "-" .. tostring(os.time())
      local tmux = ("tmux -L %s -f /dev/null"):format(q(socket))
      local cmd = command_line(with_region("backup", "--backup-id", emu.seed.rds_backup_id, "--out", out_dir))
        .. " >/dev/null; echo exit=$?; sleep 30"
      assert(sh(("%s new-session -d -x 160 -y 20 %s"):format(tmux, q(cmd))))
      local screen, seen = "", nil
      local deadline = core.now() + 20
      while not seen and core.now() < deadline do
        core.sleep(0.2)
        screen = capture(tmux .. " capture-pane -p 2>/dev/null")
        -- "all  0/2 files  1.2 MiB / 5.7 MiB   21%  1.0 MiB/s  ETA 0:04"
        seen = screen:match("all%s+[^\n]-[%d.]+ %a?i?B / [%d.]+ %a?i?B%s+%d+%%%s+[%d.]+ %a?i?B/s%s+ETA %d+:%d%d")
      end
      local final = screen
      while not final:find("exit=%d") and core.now() < deadline do
        core.sleep(0.2)
        final = capture(tmux .. " capture-pane -p 2>/dev/null")
      end
      sh(tmux .. " kill-server 2>/dev/null")
      assert.is_not_nil(seen, "no progress line on the terminal:\n" .. screen)
      assert.matches("exit=0", final, 1, true)
      -- the display is gone, the summary stays
      assert.is_nil(final:find("ETA", 1, true), final)
      assert.matches("hcdl: 2 files: 2 new", final, 1, true)
      no_secrets(screen, final)
    end)
  end)

  describe("exit status", function()
    it("2 for usage errors, each said on one line", function()
      for _, argv in ipairs{
        {},
        { "frobnicate" },
        { "help", "frobnicate" },
        { "backup" },
        { "backup", "--backup-id", "x", "--latest" },
        { "backup", "--backup-id", "x", "--out", "/nonexistent-dir" },
        { "backup", "--backup-id", "x", "--links", "--json" },
        { "backup", "--backup-id", "x", "--links", "--out", "/tmp" },
        { "runlog", "--instance", "x", "--days", "two" },
        { "fullsql", "--instance", "x" },
      } do
        local code, out, err = run(argv)
        assert.are.equal(2, code, table.concat(argv, " ") .. ": " .. err)
        assert.are.equal("", out)
        assert.are.equal(1, #lines(err), err)
      end
    end)

    it("2 for input errors the library finds before any request", function()
      local code, _, err = run(with_region("errorlog", "--instance", "not/an-id"))
      assert.are.equal(2, code, err)
      assert.matches("^hcdl input error: instance_id", err)
      code, _, err = run(with_region("backup", "--backup-id", emu.seed.rds_backup_id, "--out", out_dir,
        "--concurrency", "1000"))
      assert.are.equal(2, code, err)
      assert.matches("concurrency", err, 1, true)
      assert.are.equal(0, #emu:requests())
    end)

    it("2 without a region (and no endpoints); 3 when no provider of the chain finds credentials", function()
      local code, _, err = run{ "backup", "--backup-id", emu.seed.rds_backup_id }
      assert.are.equal(2, code, err)
      assert.matches("region", err, 1, true)
      -- nothing in the config, the environment or the profile: the chain
      -- goes on to ECS metadata and pod identity, and reports each
      code, _, err = run(with_region("backup", "--backup-id", emu.seed.rds_backup_id),
        { HUAWEICLOUD_SDK_AK = false, HUAWEICLOUD_SDK_SK = false })
      assert.are.equal(3, code, err)
      assert.matches("no credentials found", err, 1, true)
      assert.matches("ECS metadata", err, 1, true)
    end)

    it("3 for an auth error, without the secret key in the message", function()
      local wrong = "Wr0ngSecretKeyWr0ngSecretKeyWr0ngSecret1"
      local code, out, err = run(with_region("backup", "--backup-id", emu.seed.rds_backup_id),
        { HUAWEICLOUD_SDK_SK = wrong })
      assert.are.equal(3, code, err)
      assert.matches("^hcdl auth error %(HTTP 401%) APIGW%.0301", err)
      assert.are.equal(1, #lines(err))
      assert.is_nil((out .. err):find(wrong, 1, true))
    end)

    it("4 for API, network and other failures", function()
      local code, _, err = run(with_region("backup", "--backup-id", "0123456789abcdef0123456789abcdefbr01"))
      assert.are.equal(4, code, err)
      assert.matches("^hcdl api error %(HTTP 404%) DBS%.201010", err)
      local closed = "http://127.0.0.1:9"
      code, _, err = run(with_region("backup", "--backup-id", emu.seed.rds_backup_id),
        { HUAWEICLOUD_SDK_REGION_RDS_CN_NORTH_4 = closed })
      assert.are.equal(4, code, err)
      assert.matches("^hcdl network error", err)
      assert.are.equal(1, #lines(err))
    end)
  end)
end)
