-- The progress callback's last call reports the end of the run (done ==
-- total), even for files too fast for any interval to have reported.
local hcdl = require "hcdl"
local fixture = require "tests.support.fixture"

describe("download progress", function()
  local emu, dir
  local fx = fixture.emulator{ client = false, dir = "once" }
  setup(function() emu = fx:start(); dir = fx.dir end)
  teardown(function() fx:stop() end)

  it("ends with done == total for fast files and a long interval", function()
    local client = assert(hcdl.new(emu:config{ region = "cn-north-4" }))
    local files = assert(client:backup_files{ service = "dcs", instance_id = emu.seed.dcs_instance_id,
      backup_id = emu.seed.dcs_backup_id })
    local calls = {}
    local report = assert(client:download_all(files, dir, { progress_interval = 3600,
      progress = function(done, total, _, info) calls[#calls + 1] = { done, total, info } end }))
    assert.is_true(report.ok)
    assert.is_true(#calls >= 1)
    local last = calls[#calls]
    assert.are.equal(last[2], last[1])
    local sum = 0
    for _, r in ipairs(report.files) do sum = sum + assert(require("hcdl.core").file_size(r.path)) end
    assert.are.equal(sum, last[1])
    for _, f in ipairs(last[3].files) do assert.are.equal("done", f.state) end
    client:close()
  end)
end)
