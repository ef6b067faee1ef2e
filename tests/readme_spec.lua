-- The README's API reference against the descriptors (core.apis()): the
-- table must be exactly what tests/support/apidoc.lua generates, and every
-- method, iterator and collector must appear in an example.
local core = require "hcdl.core"
local helpers = require "tests.support.helpers"
local apidoc = require "tests.support.apidoc"

local readme = helpers.read_file(helpers.root .. "/README.md")
local apis = core.apis()

local function lines_between(text, first, last)
  local i = assert(text:find(first, 1, true), "README lacks " .. first)
  local j = assert(text:find(last, i, true), "README lacks " .. last)
  local out = {}
  for line in text:sub(i + #first, j - 1):gmatch("[^\n]+") do out[#out + 1] = line end
  return out
end

-- The Lua code blocks of the README, concatenated.
local function lua_blocks(text)
  local blocks = {}
  for block in text:gmatch("```lua\n(.-)```") do blocks[#blocks + 1] = block end
  return table.concat(blocks, "\n")
end

describe("README", function()
  it("documents every API, in the generator's order, once", function()
    local listed, seen = {}, {}
    for _, name in ipairs(apidoc.ORDER) do
      assert.is_nil(seen[name], name .. " twice")
      seen[name] = true
      assert.is_table(apis[name], name .. " is not an API")
    end
    for name in pairs(apis) do
      if not seen[name] then listed[#listed + 1] = name end
    end
    assert.are.same({}, listed)
  end)

  it("has the API table exactly as the descriptors say", function()
    local want = {}
    for _, l in ipairs(apidoc.HEADER) do want[#want + 1] = l end
    for _, l in ipairs(apidoc.rows(apis, apidoc.ORDER)) do want[#want + 1] = l end
    assert.are.same(want, lines_between(readme, apidoc.BEGIN, apidoc.END))
  end)

  it("shows every method, iterator and collector in an example", function()
    local code = lua_blocks(readme)
    local missing = {}
    local function need(name)
      if not code:find("client:" .. name .. "{", 1, true) then missing[#missing + 1] = name end
    end
    for name, d in pairs(apis) do
      need(name)
      if d.paging then
        need(d.paging.iterator)
        need(d.paging.collect)
      end
    end
    for _, helper in ipairs{ "latest_backup", "backup_files", "redislog_links", "wait_errorlog_links" } do
      need(helper)
    end
    table.sort(missing)
    assert.are.same({}, missing)
  end)

  it("catches a table that drifts (the check can fail)", function()
    local drifted = {}
    for k, v in pairs(apis.list_backups) do drifted[k] = v end
    drifted.answer = { list = "backups", id = "backup_id" }
    local copy = {}
    for k, v in pairs(apis) do copy[k] = v end
    copy.list_backups = drifted
    assert.are_not.same(apidoc.rows(apis, apidoc.ORDER), apidoc.rows(copy, apidoc.ORDER))
  end)
end)
