-- The design documents live in the repository (docs/): comments and
-- documentation cite only them, never notes outside the checkout that a
-- reader of the code cannot open, and every page and section they cite
-- exists.  A citation reads docs/<page>.md, optionally followed by the
-- section's heading in double quotes.
local helpers = require "tests.support.helpers"
local shell = require "tests.support.shell"

local ROOT = helpers.root
local SCANNED = { "src", "lua", "bin", "tests", "bench", "scripts", "contrib", "examples", "tools", "docs" }
local TOP_FILES = { "README.md", "Makefile" }

-- Names of the design notes kept outside the repository (written in
-- pieces so that this file does not name them itself).
local OUTSIDE = {
  "design" .. "%.md", "api%-" .. "facts", "feature%-" .. "anchors", "shared/" .. "spec",
}

-- How comments are written, by kind of file: "lua" (--), "c" (/* */ and //),
-- "hash" (#), "text" (the whole file is prose), or nil (not scanned).
local function kind_of(path, text)
  if path:match("%.lua$") then return "lua" end
  if path:match("%.[ch]$") or path:match("%.js$") then return "c" end
  if path:match("%.md$") or path:match("%.1$") or path:match("%.txt$") then return "text" end
  if path:match("%.py$") or path:match("%.sh$") or path:match("Makefile$") or path:match("%.supp$")
    or path:match("%.service$") or path:match("%.timer$") or path:match("%-completion$") then
    return "hash"
  end
  local shebang = text:match("^#![^\n]*")
  if shebang then return shebang:find("lua", 1, true) and "lua" or "hash" end
  return nil
end

-- The comment text of each line: { { line = n, text = s } }.
local function comments(kind, text)
  local out, in_block, n = {}, false, 0
  for line in (text .. "\n"):gmatch("([^\n]*)\n") do
    n = n + 1
    local c
    if kind == "text" then
      c = line
    elseif kind == "lua" then
      c = line:match("%-%-(.*)$")
    elseif kind == "hash" then
      c = line:match("#(.*)$")
    elseif kind == "c" then
      if in_block then
        c = line
        if line:find("*/", 1, true) then in_block = false end
      else
        local from = line:find("/*", 1, true)
        if from then
          c = line:sub(from)
          in_block = not line:find("*/", from + 2, true)
        else
          c = line:match("//(.*)$")
        end
      end
    end
    if c then out[#out + 1] = { line = n, text = c } end
  end
  return out
end

-- The headings of a markdown text, as a set.
local function headings(text)
  local set = {}
  for line in (text .. "\n"):gmatch("([^\n]*)\n") do
    local h = line:match("^#+%s+(.-)%s*$")
    if h then set[h] = true end
  end
  return set
end

--- Every problem in files ({ { path =, text = } }), given the docs pages
-- ({ ["apis.md"] = text, ... }): a list of "path:line: what" strings.
local function problems(files, pages)
  local out = {}
  for _, f in ipairs(files) do
    local kind = kind_of(f.path, f.text)
    for _, c in ipairs(kind and comments(kind, f.text) or {}) do
      for _, name in ipairs(OUTSIDE) do
        if c.text:find(name) then
          out[#out + 1] = ("%s:%d: cites a document outside the repository: %s"):format(f.path, c.line, c.text)
        end
      end
      for page, section in c.text:gmatch('docs/([%w_%-]+%.md)`?%s*(%b"")') do
        local body = pages[page] -- a missing page is reported below
        if body and not headings(body)[section:sub(2, -2)] then
          out[#out + 1] = ("%s:%d: cites docs/%s %s, which has no such section"):format(f.path, c.line, page, section)
        end
      end
      for page in c.text:gmatch("docs/([%w_%-]+%.md)") do
        if not pages[page] then
          out[#out + 1] = ("%s:%d: cites docs/%s, which does not exist"):format(f.path, c.line, page)
        end
      end
    end
  end
  return out
end

local function repository_files()
  local dirs = {}
  for i, d in ipairs(SCANNED) do dirs[i] = shell.q(ROOT .. "/" .. d) end
  local list = shell.capture("find " .. table.concat(dirs, " ")
    .. " -type f -not -path '*/node_modules/*' -not -path '*/__pycache__/*' 2>/dev/null")
  local files = {}
  local function add(path)
    local text = shell.read(path)
    if text and not text:find("\0", 1, true) then
      files[#files + 1] = { path = path:sub(#ROOT + 2), text = text }
    end
  end
  for path in list:gmatch("[^\n]+") do add(path) end
  for _, name in ipairs(TOP_FILES) do add(ROOT .. "/" .. name) end
  return files
end

local function docs_pages()
  local pages = {}
  local list = shell.capture("ls " .. shell.q(ROOT .. "/docs"))
  for name in list:gmatch("[^\n]+") do
    if name:match("%.md$") then pages[name] = shell.read(ROOT .. "/docs/" .. name) end
  end
  return pages
end

describe("the design documents", function()
  local pages = docs_pages()

  it("are in docs/, with an index naming every page", function()
    for _, page in ipairs{ "README.md", "architecture.md", "apis.md", "credentials.md", "options.md",
                           "verification.md" } do
      assert.is_string(pages[page], "docs/" .. page .. " is missing")
    end
    for page in pairs(pages) do
      if page ~= "README.md" then
        assert.is_truthy(pages["README.md"]:find("(" .. page .. ")", 1, true), "docs/README.md does not link " .. page)
      end
    end
    assert.is_truthy(helpers.read_file(ROOT .. "/README.md"):find("docs/README.md", 1, true),
      "README.md does not point to docs/README.md")
  end)

  it("are what comments cite: no document outside the repository, no missing page or section", function()
    local files = repository_files()
    assert.is_true(#files > 100, "found only " .. #files .. " files to scan")
    assert.are.same({}, problems(files, pages))
  end)

  it("catches a citation that goes astray (the check can fail)", function()
    local outside = "see " .. "design" .. ".md"
    local files = {
      { path = "lua/a.lua", text = "local x = 1 -- " .. outside .. "\n" },
      { path = "src/b.c", text = "/*\n * docs/nowhere.md\n */\nint y;\n" },
      { path = "src/c.h", text = '// docs/apis.md "No such section"\n' },
      { path = "tests/d.py", text = "# " .. "shared/" .. "spec/x\n" },
      { path = "lua/ok.lua", text = 'local p = "/../' .. "shared/" .. 'spec" -- docs/apis.md "Signing"\n' },
    }
    local found = problems(files, pages)
    assert.are.equal(4, #found, table.concat(found, "\n"))
    assert.matches("^lua/a%.lua:1: cites a document outside", found[1])
    assert.matches("^src/b%.c:2: cites docs/nowhere%.md, which does not exist", found[2])
    assert.matches('^src/c%.h:1: cites docs/apis%.md "No such section", which has no such section', found[3])
    assert.matches("^tests/d%.py:1: cites a document outside", found[4])
  end)
end)
