-- `hcdl sync KIND` and the third wave's command (issue 22), run as a user
-- does: the installed command as a subprocess against the emulator.
local cjson = require "cjson"
local core = require "hcdl.core"
local emulator = require "tests.support.emulator"
local helpers = require "tests.support.helpers"
local shell = require "tests.support.shell"
local command = require "tests.support.command"

local q, sh, capture, read = shell.q, shell.ok, shell.capture, shell.read
local unpack = table.unpack or unpack

local lines = helpers.lines

describe("hcdl sync and the third wave's command", function()
  local emu, work, hcdl, out

  setup(function()
    emu = emulator.start()
    work = shell.mktemp_dir()
    hcdl = command.install(emu, work)
  end)
  teardown(function()
    if emu then emu:stop() end
    shell.remove(work)
  end)
  before_each(function()
    emu:reset()
    emu:set{ errorlog_creating = 0 }
    out = work .. "/mirror/a/b"
    assert(sh("rm -rf " .. q(work .. "/mirror")))
  end)

  local function kinds()
    local s = emu.seed
    return {
      { "fullsql", "--instance", s.gaussdb_instance_id, "--since", "2023-07-24", "--tz", "+08:00",
        "--match", "*_SQLAudit_1" },
      { "backup", "--instance", s.rds_instance_id },
      { "dcs-backup", "--instance", s.dcs_instance_id },
      { "runlog", "--instance", s.dcs_instance_id },
      { "errorlog", "--instance", s.pg_instance_id },
    }
  end

  local function sync(kind_argv, ...)
    local argv = { "sync", unpack(kind_argv) }
    for _, a in ipairs{ "--out", out, ... } do argv[#argv + 1] = a end
    return hcdl:run(argv)
  end

  it("mirrors every kind into a new --out (mode 0700), then fetches nothing; the same JSON fields", function()
    for _, k in ipairs(kinds()) do
      assert(sh("rm -rf " .. q(work .. "/mirror")))
      local code, stdout, err = sync(k, "--json")
      assert.are.equal(0, code, k[1] .. ": " .. err)
      assert.are.equal("700", capture("stat -c %a " .. q(work .. "/mirror")):match("%d+"))
      local doc = cjson.decode(stdout)
      assert.is_true(#doc.files > 0, k[1])
      for _, f in ipairs(doc.files) do
        assert.is_string(f.file_name, k[1])
        assert.is_true(f.size_bytes == cjson.null or f.size_bytes == math.floor(f.size_bytes), k[1])
        assert.is_true(f.updated_at == cjson.null or f.updated_at:match("Z$") ~= nil, k[1])
        assert.are.equal("new", f.status, k[1])
        assert.is_number(f.bytes)
        assert.is_table(f.verified)
        assert.are.equal(f.bytes, core.file_size(f.path))
      end
      for _, field in ipairs{ "new", "updated", "skipped", "failed", "removed", "bytes", "seconds", "exit_code" } do
        assert.is_number(doc.summary[field], k[1] .. " summary." .. field)
      end
      code, stdout, err = sync(k, "--json")
      assert.are.equal(0, code, k[1] .. ": " .. err)
      doc = cjson.decode(stdout)
      assert.are.equal(0, doc.summary.new, k[1])
      -- (today's run logs grow between two runs: fetched again as updated)
      if k[1] ~= "runlog" then assert.are.equal(0, doc.summary.bytes, k[1]) end
    end
  end)

  it("sync backup: the newest full backup in <end time>_<id>; --keep removes only hcdl's directories", function()
    local k = kinds()[2]
    local code, stdout, err = sync(k, "--json")
    assert.are.equal(0, code, err)
    local doc = cjson.decode(stdout)
    assert.are.equal("auto", doc.backup.type)
    assert.are.equal(emu.seed.rds_backup_id, doc.backup.id)
    local dirs = lines(capture("ls " .. q(out)))
    assert.are.same({ "20230724T023500Z_" .. emu.seed.rds_backup_id }, dirs)
    -- an older directory hcdl did not make, and one file of the user's
    assert(sh(("mkdir -p %s/20200101T000000Z_mine && echo keep >%s/20200101T000000Z_mine/x && echo u >%s/notes")
      :format(q(out), q(out), q(out))))
    code, stdout, err = sync({ "backup", "--instance", emu.seed.rds_instance_id, "--type", "incremental" },
      "--keep", "1", "--json")
    assert.are.equal(0, code, err)
    assert.are.equal("incremental", cjson.decode(stdout).backup.type)
    assert.are.equal("keep\n", read(out .. "/20200101T000000Z_mine/x"))
    assert.are.equal("u\n", read(out .. "/notes"))
  end)

  it("--dry-run writes nothing and says what it would fetch", function()
    local code, stdout, err = sync(kinds()[2], "--dry-run", "--json")
    assert.are.equal(0, code, err)
    for _, f in ipairs(cjson.decode(stdout).files) do assert.are.equal("would-fetch", f.status) end
    assert.is_false(core.is_dir(work .. "/mirror"))
  end)

  it("--max-rate reaches the library (8M is taken, a rate below 1 KiB/s is refused naming it, exit 2)", function()
    local code, _, err = sync(kinds()[2], "--max-rate", "8M")
    assert.are.equal(0, code, err)
    code, _, err = sync(kinds()[2], "--max-rate", "10", "--force")
    assert.are.equal(2, code, err)
    assert.matches("--max-rate", err, 1, true)
  end)

  it("exit 3 when every file failed on a store 403, one line and the files not started", function()
    emu:fault{ target = "store", kind = "status", status = 403, count = cjson.null }
    local code, _, err = sync(kinds()[3], "--concurrency", "1")
    assert.are.equal(3, code, err)
    local l = lines(err)
    assert.is_true(#l <= 3, err)
    assert.matches("^hcdl auth error", l[1])
  end)

  it("exit 1 when one file is good and one 404; exit 4 when nothing succeeded", function()
    emu:fault{ target = "store", kind = "status", status = 404, skip_first = 1 }
    local code, _, err = sync(kinds()[2], "--concurrency", "1")
    assert.are.equal(1, code, err)
    assert(sh("rm -rf " .. q(work .. "/mirror")))
    emu:fault{ target = "store", kind = "status", status = 404, count = cjson.null }
    code, _, err = sync(kinds()[2], "--concurrency", "1")
    assert.are.equal(4, code, err)
    assert.are.equal(2, #lines(err), err) -- one line for the cause, then the summary
  end)

  it("exit 4 on a full disk (a small tmpfs)", function()
    local mnt = work .. "/tiny"
    assert(sh("mkdir -p " .. q(mnt)))
    if not sh(("mount -t tmpfs -o size=1m tmpfs %s 2>/dev/null"):format(q(mnt))) then
      pending("mount is not permitted here (needs root and CAP_SYS_ADMIN)")
      return
    end
    local code, _, err = hcdl:run{ "sync", "dcs-backup", "--instance", emu.seed.dcs_instance_id, "--out", mnt .. "/m" }
    sh("umount " .. q(mnt))
    assert.are.equal(4, code, err)
  end)

  it("two runs at once: 0 and 75, one line naming the holder", function()
    emu:fault{ target = "store", kind = "throttle", rate = 2 * 1024 * 1024 }
    local first = hcdl:start({ "sync", "backup", "--instance", emu.seed.rds_instance_id, "--out", out }, "first")
    local deadline = core.now() + 20
    while not core.is_dir(out) and core.now() < deadline do core.sleep(0.05) end
    core.sleep(0.3)
    local code, _, err = hcdl:run{ "sync", "backup", "--instance", emu.seed.rds_instance_id, "--out", out }
    while not first.done() and core.now() < deadline do core.sleep(0.05) end
    assert.are.equal(0, first.done(), first.stderr())
    assert.are.equal(75, code, err)
    assert.are.equal(1, #lines(err), err)
  end)

  it("--metrics-file: Prometheus text promtool accepts; last success kept after a failure", function()
    assert(sh("command -v promtool >/dev/null"), "promtool is needed (scripts/install-deps: prometheus)")
    local m = work .. "/metrics.prom"
    local code, _, err = sync(kinds()[2], "--metrics-file", m)
    assert.are.equal(0, code, err)
    local text = read(m)
    assert(sh("promtool check metrics <" .. q(m)), text)
    local success = text:match('hcdl_last_success_timestamp_seconds{kind="backup",instance="[^"]+"} (%d+)')
    assert.is_not_nil(success, text)
    assert.matches('hcdl_files{kind="backup",instance="[^"]+",status="new"} 2', text)
    assert(sh("rm -rf " .. q(work .. "/mirror")))
    emu:fault{ target = "store", kind = "status", status = 404, count = cjson.null }
    code = sync(kinds()[2], "--metrics-file", m)
    assert.are.equal(4, code)
    text = read(m)
    assert(sh("promtool check metrics <" .. q(m)), text)
    assert.matches("hcdl_last_success_timestamp_seconds{[^}]*} " .. success, text)
    assert.matches("hcdl_exit_code{[^}]*} 4", text)
  end)

  it("backup --latest lists the newest full backup, named in the header and the JSON", function()
    local code, stdout, err = hcdl:run{ "backup", "--instance", emu.seed.rds_instance_id, "--latest" }
    assert.are.equal(0, code, err)
    assert.matches("^backup " .. emu.seed.rds_backup_id .. " %(auto, ", stdout)
    code, stdout = hcdl:run{ "backup", "--instance", emu.seed.rds_instance_id, "--latest", "--type", "incremental",
      "--json" }
    assert.are.equal(0, code)
    assert.are.equal("incremental", cjson.decode(stdout).backup.type)
  end)

  it("instances and backups: id, name, status; --name GLOB; --type", function()
    for _, service in ipairs{ "rds", "dcs", "gaussdb" } do
      local code, stdout, err = hcdl:run{ "instances", service }
      assert.are.equal(0, code, service .. ": " .. err)
      assert.matches("^ID%s+NAME%s+STATUS\n", stdout)
      assert.is_true(#lines(stdout) > 1, service)
    end
    local code, stdout = hcdl:run{ "instances", "rds", "--json" }
    assert.are.equal(0, code)
    local first = cjson.decode(stdout).files[1]
    code, stdout = hcdl:run{ "instances", "rds", "--name", first.name, "--json" }
    assert.are.equal(0, code)
    assert.are.equal(first.id, cjson.decode(stdout).files[1].id)
    code, stdout = hcdl:run{ "backups", "rds", "--instance", emu.seed.rds_instance_id, "--type", "full", "--json" }
    assert.are.equal(0, code)
    for _, b in ipairs(cjson.decode(stdout).files) do
      assert.is_true(b.type == "auto" or b.type == "manual", b.type)
    end
    code, stdout = hcdl:run{ "backups", "dcs", "--instance", emu.seed.dcs_instance_id }
    assert.are.equal(0, code)
    assert.matches("^ID%s+TYPE%s+STATUS%s+BEGIN%s+END%s+SIZE\n", stdout)
  end)

  it("times people type; errors name the option typed", function()
    local id, range = emu.seed.gaussdb_instance_id, emu.seed.gaussdb_time_range
    local _, expected = hcdl:run{ "fullsql", "--instance", id, "--start", range[1], "--end", range[2], "--links" }
    for _, form in ipairs{ { "2023-07-24T00:00:00+08:00", "2023-07-25T00:00:00+08:00" },
                           { "2023-07-23T16:00:00Z", "2023-07-24T16:00:00Z" },
                           { "2023-07-24", "2023-07-25", "--tz", "+08:00" } } do
      local code, stdout, err = hcdl:run{ "fullsql", "--instance", id, "--start", form[1], "--end", form[2],
        "--links", form[3], form[4] }
      assert.are.equal(0, code, err)
      -- the same files (the emulator's newest file of a node may appear
      -- between two listings: it grows while listed)
      local want, got = lines(expected), lines(stdout)
      assert.is_true(math.abs(#want - #got) <= 1 and #want > 100)
      for i = 1, math.min(#want, #got) - 1 do
        assert.are.equal(want[i]:match("^[^?]+"), got[i]:match("^[^?]+"))
      end
    end
    emu:reset()
    local code, _, err = hcdl:run{ "fullsql", "--instance", id, "--start", "yesterday-ish" }
    assert.are.equal(2, code)
    assert.matches("--start", err, 1, true)
    assert.are.equal(0, #emu:requests())
  end)

  it("--out is created for downloads; --out - streams one file", function()
    local code, _, err = hcdl:run{ "backup", "--backup-id", emu.seed.rds_backup_id, "--out", out, "--quiet" }
    assert.are.equal(0, code, err)
    assert.are.equal("700", capture("stat -c %a " .. q(out)):match("%d+"))
    local name = lines(capture("ls " .. q(out)))[1]
    code = hcdl:run{ "errorlog", "--instance", emu.seed.pg_instance_id, "--out", "-" }
    assert.are.equal(2, code) -- two files: not a single stream
    local dest = work .. "/streamed"
    local status = capture(("(%s) >%s 2>/dev/null; echo $?"):format(hcdl:line{ "dcs-backup", "--instance",
      emu.seed.dcs_instance_id, "--backup-id", emu.seed.dcs_backup_id, "--out", "-" }, q(dest)))
    assert.are.equal("2", status:match("%d+"))
    assert.is_string(name)
  end)

  it("a mistyped region gets a suggestion", function()
    local c = capture(("cd / && %s %s --region cn-nroth-4 instances rds 2>&1"):format(hcdl:environment(), q(hcdl.bin)))
    assert.matches("did you mean cn-north-4", c, 1, true)
  end)

  it("shows what it waits for on a terminal, and Ctrl-C ends the wait within half a second", function()
    emu:set{ errorlog_creating = 1000 }
    local socket = "hcdl-sync-spec-" .. tostring(core.pid())
    local tmux = ("tmux -L %s -f /dev/null"):format(q(socket))
    local cmd = hcdl:line{ "sync", "errorlog", "--instance", emu.seed.pg_instance_id, "--out", out }
      .. "; echo exit=$?; sleep 30"
    assert(sh(("%s new-session -d -x 160 -y 20 %s"):format(tmux, q(cmd))))
    local screen, deadline = "", core.now() + 20
    while not screen:find("waiting for", 1, true) and core.now() < deadline do
      core.sleep(0.2)
      screen = capture(tmux .. " capture-pane -p 2>/dev/null")
    end
    assert(sh(tmux .. " send-keys C-c"))
    local sent = core.now()
    local final = screen
    while not final:find("exit=%d") and core.now() < sent + 5 do
      core.sleep(0.05)
      final = capture(tmux .. " capture-pane -p 2>/dev/null")
    end
    local took = core.now() - sent
    sh(tmux .. " kill-server 2>/dev/null")
    assert.matches("waiting for the error logs of PostgreSQL instance", screen, 1, true)
    assert.matches("exit=130", final, 1, true)
    assert.is_true(took < 0.8, ("Ctrl-C took %.2f s"):format(took))
    assert.matches("interrupted while waiting for the error logs", final, 1, true)
    assert.is_nil(final:find(".part", 1, true))
  end)

  it("the systemd units pass systemd-analyze verify", function()
    if not sh("command -v systemd-analyze >/dev/null") then
      pending("systemd-analyze is not installed")
      return
    end
    local dir = work .. "/units"
    assert(sh(("mkdir -p %s && cp %s/contrib/systemd/hcdl-sync@.service %s/contrib/systemd/hcdl-sync@.timer %s/")
      :format(q(dir), q(helpers.root), q(helpers.root), q(dir))))
    -- an instance of the template; ExecStart's hcdl must exist for verify
    local ok, text = shell.run(("cd %s && sed -i 's|/usr/local/bin/hcdl|%s|' hcdl-sync@.service && "
      .. "cp hcdl-sync@.service hcdl-sync@backup.service && cp hcdl-sync@.timer hcdl-sync@backup.timer && "
      .. "SYSTEMD_LOG_LEVEL=err systemd-analyze verify --man=no ./hcdl-sync@backup.service ./hcdl-sync@backup.timer")
      :format(q(dir), hcdl.bin))
    assert.is_true(ok, text)
  end)

  it("installs the man page; the bash completion offers values for --region, --type and --days", function()
    assert.is_truthy(read(hcdl.prefix .. "/share/man/man1/hcdl.1"):find(".SH EXIT STATUS", 1, true))
    local file = hcdl.prefix .. "/share/bash-completion/completions/hcdl"
    local function complete(...)
      local words = { "hcdl", ... }
      local quoted = {}
      for i, w in ipairs(words) do quoted[i] = q(w) end
      return capture(("bash -c %s"):format(q(("source %s; COMP_WORDS=(%s); COMP_CWORD=%d; _hcdl; echo \"${COMPREPLY[*]}\"")
        :format(q(file), table.concat(quoted, " "), #words - 1))))
    end
    assert.matches("cn-north-4", complete("--region", "cn-no"), 1, true)
    assert.matches("^incremental%s*$", complete("backup", "--type", "inc"))
    assert.matches("0 1 3 7", complete("runlog", "--days", ""), 1, true)
  end)
end)
