-- The rockspec and `make install` ship every source file.
local helpers = require "tests.support.helpers"

local function ls(pattern)
  local p = assert(io.popen("cd " .. helpers.root .. " && ls " .. pattern .. " 2>/dev/null"))
  local out = {}
  for line in p:lines() do out[#out + 1] = line end
  p:close()
  return out
end

describe("packaging", function()
  local spec = {}
  setup(function()
    local chunk = assert((loadstring or load)(helpers.read_file(helpers.root .. "/hcdl-scm-1.rockspec")))
    if setfenv then setfenv(chunk, spec) else
      chunk = assert(load(helpers.read_file(helpers.root .. "/hcdl-scm-1.rockspec"), "rockspec", "t", spec))
    end
    chunk()
  end)

  it("builds hcdl.core from every C file in src/", function()
    local listed = {}
    for _, s in ipairs(spec.build.modules["hcdl.core"].sources) do listed[s] = true end
    for _, f in ipairs(ls("src/*.c")) do assert.is_true(listed[f] == true, f .. " is missing from the rockspec") end
  end)

  it("installs every Lua module", function()
    for _, f in ipairs(ls("lua/hcdl/*.lua lua/hcdl/*/*.lua")) do
      local name = "hcdl." .. f:match("lua/hcdl/(.-)%.lua$"):gsub("/", ".")
      assert.are.equal(f, spec.build.modules[name], name .. " is missing from the rockspec")
    end
    assert.are.equal("lua/hcdl.lua", spec.build.modules.hcdl)
  end)
end)
