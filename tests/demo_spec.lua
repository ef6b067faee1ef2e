-- `make demo`, the README's first command, three times in a row: it must
-- never fail on a pipe (a `head` closing one under `set -o pipefail` made
-- it exit 141 two times in five).
local helpers = require "tests.support.helpers"
local shell = require "tests.support.shell"

describe("make demo #once", function()
  it("passes three times in a row", function()
    local lua = os.getenv("HCDL_LUA") or "lua5.4"
    for i = 1, 3 do
      local ok, text = shell.run(("make -C %s --no-print-directory -s demo LUA=%s"):format(shell.q(helpers.root), lua))
      assert.is_true(ok, ("run %d:\n%s"):format(i, text))
      assert.matches("files", text, 1, true)
    end
  end)
end)
