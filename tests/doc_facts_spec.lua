-- Facts the documentation states about the code, checked against the code:
-- the mismatches found when docs/ was written (docs/architecture.md), each
-- kept from coming back.
local hcdl = require "hcdl"
local args = require "hcdl.cli.args"
local emulator = require "tests.support.emulator"
local helpers = require "tests.support.helpers"
local shell = require "tests.support.shell"

local ROOT = helpers.root

local function file(rel)
  local f = assert(io.open(ROOT .. "/" .. rel, "rb"))
  local s = f:read("*a")
  f:close()
  return s
end

-- Comment text without C's " * " line starts, white space collapsed.
local function prose(s)
  return (s:gsub("\n%s*%*", " "):gsub("%s+", " "))
end

-- The numbers of a list such as "8, 5, 16 and 100" as one string "8,5,16,100".
local function numbers(s)
  local out = {}
  for n in s:gmatch("%d+") do out[#out + 1] = n end
  return table.concat(out, ",")
end

describe("the documented facts", function()
  it("multipart part sizes: src/etag_mp.h and README.md give the order src/etag_mp.c tries", function()
    local code = numbers(assert(file("src/etag_mp.c"):match("usual%[%]%s*=%s*(%b{})")))
    assert.are.equal("8,5,16,15,32,64,100", code) -- the order the tests of verify_spec rely on
    local header = prose(file("src/etag_mp.h"))
    assert.are.equal(code, numbers(assert(header:match("in this order: ([%d, ]+ MiB)"))))
    local readme = prose(file("README.md"))
    assert.are.equal(code, numbers(assert(readme:match("hcdl tries, in this order, ([%d, and]+ MiB)"))))
  end)

  it("every verified outcome the code gives is in README.md's and docs/verification.md's tables", function()
    local order = assert(file("lua/hcdl/verify.lua"):match("local ORDER = (%b{})"))
    local names = {}
    for name in order:gmatch('%["([%w%-]+)"%]') do names[#names + 1] = name end
    for name in order:gmatch("[{,]%s*([%a][%w]*)%s*=") do names[#names + 1] = name end
    assert.is_true(#names >= 8, "the outcomes of lua/hcdl/verify.lua: " .. table.concat(names, " "))
    local readme, doc = file("README.md"), file("docs/verification.md")
    for _, name in ipairs(names) do
      local row = "\n| `" .. name .. (name == "etag-multipart" and ":" or "`")
      assert.is_truthy(readme:find(row, 1, true), name .. " is not a row of README.md's table")
      assert.is_truthy(doc:find(row, 1, true), name .. " is not a row of docs/verification.md's table")
    end
    assert.is_truthy(file("src/formats.c"):find('"rdb-no-checksum"', 1, true))
    assert.is_nil(doc:find("not among the names", 1, true))
  end)

  describe("--deadline", function()
    it("is documented as one limit for the whole run: help, README.md, man page", function()
      local _, a = pcall(args.parse, { "help", "backup" })
      local help = prose(assert(type(a) == "table" and a.help_text, "hcdl help backup"))
      assert.matches("--deadline S%s+Give up the files not yet done S seconds after the downloads start "
        .. "%(one limit for the whole run%)", help)
      assert.matches("`--deadline S` for the whole run", prose(file("README.md")), 1, true)
      assert.matches("one limit for the whole run", prose(file("doc/hcdl.1")), 1, true)
    end)

    it("limits the whole call, not each file: files that each take less fail together", function()
      local emu = emulator.start()
      local ok, e = pcall(function()
        local client = assert(hcdl.new(emu:config{ retry_base = 0.05 }))
        local dir = shell.mktemp_dir()
        local entries = {}
        for i = 1, 3 do
          local o = emu:object{ name = ("late%d.bin"):format(i), size = 1000, ttl = 3600 }
          entries[i] = { name = o.name or ("late%d.bin"):format(i), url = o.url }
        end
        -- each file's first byte comes after 0.8 s: under the 1.5 s deadline
        -- alone, not three in a row
        emu:fault{ target = "store", kind = "slow_first_byte", seconds = 0.8, count = 3 }
        local report = client:download_all(entries, dir, { concurrency = 1, deadline = 1.5, retries = 0 })
        shell.ok("rm -rf " .. shell.q(dir))
        assert.is_table(report)
        local failed = 0
        for _, r in ipairs(report.files) do
          if not r.ok then
            failed = failed + 1
            assert.are.equal("timeout", r.err.kind, tostring(r.err))
          end
        end
        assert.is_true(failed >= 1, "every file was given its own 1.5 s")
        assert.is_true(report.files[1].ok, tostring(report.files[1].err))
      end)
      emu:stop()
      assert(ok, e)
    end)
  end)
end)
