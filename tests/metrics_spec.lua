-- The --metrics-file (lua/hcdl/cli/metrics.lua): hcdl writes only files it
-- created, so the temporary file beside the metrics file is created
-- exclusively and never through a link (docs/architecture.md "File
-- safety"); then it is renamed over the metrics file.
local core = require "hcdl.core"
local metrics = require "hcdl.cli.metrics"
local shell = require "tests.support.shell"

local q, sh, read = shell.q, shell.ok, shell.read

describe("the metrics file", function()
  local dir
  before_each(function() dir = shell.mktemp_dir() end)
  after_each(function() if dir then sh("rm -rf " .. q(dir)) end end)

  local function run(success)
    return { kind = "fullsql", instance = "inst-1", now = 1700000000, success = success,
      counts = { new = 2, failed = success and 0 or 1 }, bytes = 10, seconds = 1.5, exit_code = success and 0 or 1 }
  end
  local function tmp_name(path) return ("%s.tmp-%d"):format(path, core.pid()) end
  local function mode_of(path) return tonumber(shell.capture("stat -c %a " .. q(path)):match("%d+"), 8) end
  local function umask() return tonumber(shell.capture("umask"):match("%d+"), 8) end

  it("is written whole, with mode 0666 less the umask, and no temporary file is left", function()
    local path, r = dir .. "/hcdl.prom", run(true)
    assert.is_true(metrics.write(path, r))
    assert.are.equal(metrics.render(r), read(path))
    assert.matches('hcdl_last_success_timestamp_seconds{kind="fullsql",instance="inst-1"} 1700000000', read(path), 1, true)
    local want = 0 -- 0666 (438) without the umask's bits
    for bit = 0, 8 do
      local b = 2 ^ bit
      if math.floor(438 / b) % 2 == 1 and math.floor(umask() / b) % 2 == 0 then want = want + b end
    end
    assert.are.equal(want, mode_of(path))
    assert.is_false(core.file_size(tmp_name(path)))
  end)

  it("leaves a file already at the temporary name alone, and says so", function()
    local path = dir .. "/hcdl.prom"
    assert(sh("printf previous > " .. q(path) .. " && printf theirs > " .. q(tmp_name(path))))
    local ok, err = metrics.write(path, run(true))
    assert.is_nil(ok)
    assert.are.equal("io", err.kind)
    assert.matches("cannot create", err.message, 1, true)
    assert.are.equal("theirs", read(tmp_name(path)))
    assert.are.equal("previous", read(path))
  end)

  it("never writes through a link at the temporary name", function()
    local path, victim = dir .. "/hcdl.prom", dir .. "/victim"
    assert(sh(("ln -s %s %s"):format(q(victim), q(tmp_name(path)))))
    local ok, err = metrics.write(path, run(false))
    assert.is_nil(ok)
    assert.are.equal("io", err.kind)
    assert.is_false(core.file_size(victim))
    assert.are.equal(victim, shell.capture("readlink " .. q(tmp_name(path))):match("[^\n]+"))
    assert.is_false(core.file_size(path))
  end)

  it("replaces a link at the metrics path itself, not its target", function()
    local path, target = dir .. "/hcdl.prom", dir .. "/target"
    assert(sh(("printf keep > %s && ln -s %s %s"):format(q(target), q(target), q(path))))
    local r = run(true)
    assert.is_true(metrics.write(path, r))
    assert.are.equal("keep", read(target))
    assert.are.equal(metrics.render(r), read(path))
    assert.is_true(sh("test ! -L " .. q(path)))
  end)

  it("carries the last success over a failed run", function()
    local path = dir .. "/hcdl.prom"
    assert.is_true(metrics.write(path, run(true)))
    local failed = run(false)
    failed.now = 1700000100
    assert.is_true(metrics.write(path, failed))
    assert.matches('hcdl_last_success_timestamp_seconds{kind="fullsql",instance="inst-1"} 1700000000', read(path), 1, true)
    assert.matches('hcdl_last_run_timestamp_seconds{kind="fullsql",instance="inst-1"} 1700000100', read(path), 1, true)
  end)
end)
