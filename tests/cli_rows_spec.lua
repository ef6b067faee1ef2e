-- The command rows (lua/hcdl/cli/rows.lua) against what is made from them:
-- a row added shows up in the parser, the help, the command list and the
-- bash completion, and the completion offers exactly the options the
-- parser accepts, for every command.  In-process, plus bash for the
-- completion script; no emulator, no network.
local args = require "hcdl.cli.args"
local rows = require "hcdl.cli.rows"
local shell = require "tests.support.shell"
local helpers = require "tests.support.helpers"

local unpack = table.unpack or unpack
local q, capture, mktemp_dir, sh = shell.q, shell.capture, shell.mktemp_dir, shell.ok

-- The rows with one more command, before `help` (the real table untouched).
local function with_row(extra)
  local copy = {}
  for k, v in pairs(rows) do copy[k] = v end
  copy.commands = {}
  for i, r in ipairs(rows.commands) do copy.commands[i] = r end
  table.insert(copy.commands, #copy.commands, extra)
  return copy
end

local FAKE = { name = "frob", summary = "Frobnicate the widgets of an instance.", runner = "catalog",
  sections = { { title = "Options",
    { "--widget", "This widget.", arg = "ID" },
    { "--loud", "Say it loudly.", flag = true },
    { "--level", "How much: low or high.", arg = "L", choices = { "low", "high" } },
    { "--times", "How many times.", arg = "N", type = "whole_number" },
  } },
  rules = { { required = "--widget" } },
  columns = { { "ID", "id" } },
  call = function() return {} end }

local function words(s)
  local set = {}
  for w in s:gmatch("%S+") do set[w] = true end
  return set
end

local function sorted(set)
  local list = {}
  for k in pairs(set) do list[#list + 1] = k end
  table.sort(list)
  return list
end

describe("the command rows", function()
  local work

  setup(function() work = mktemp_dir() end)
  teardown(function() shell.remove(work) end)

  -- What the completion script made from the_rows offers for the words
  -- typed so far (the last one being completed).
  local function completer(the_rows)
    local file = work .. "/completion-" .. tostring(the_rows):gsub("%W", "")
    shell.write(file, args.completion(the_rows))
    return function(...)
      local typed = { "hcdl", ... }
      local quoted = {}
      for i, w in ipairs(typed) do quoted[i] = q(w) end
      return capture(("bash -c %s"):format(q(("source %s; COMP_WORDS=(%s); COMP_CWORD=%d; _hcdl; "
        .. "echo \"${COMPREPLY[*]}\""):format(q(file), table.concat(quoted, " "), #typed - 1))))
    end
  end

  describe("a row added", function()
    local fake = with_row(FAKE)

    it("is parsed, with its options, conversions, choices and rules", function()
      local a, row = args.parse({ "frob", "--widget", "w1", "--level", "high", "--times", "3", "--loud" }, fake)
      assert.is_table(a, row)
      assert.are.equal(FAKE, row)
      assert.are.equal("frob", a.command)
      assert.are.equal("w1", a.widget)
      assert.are.equal("high", a.level)
      assert.are.equal(3, a.times)
      assert.is_true(a.loud)
      local none, why = args.parse({ "frob" }, fake)
      assert.is_nil(none)
      assert.are.equal("--widget is required", why)
      none, why = args.parse({ "frob", "--widget", "w", "--level", "max" }, fake)
      assert.is_nil(none)
      assert.matches("--level", why, 1, true)
      none, why = args.parse({ "frob", "--widget", "w", "--times", "x" }, fake)
      assert.is_nil(none)
      assert.matches("--times: 'x' is not a whole number", why, 1, true)
      -- the real rows do not know it
      assert.is_nil((args.parse{ "frob", "--widget", "w" }))
    end)

    it("is in the help, and has help of its own", function()
      local p = args.parser{ rows = fake }
      local top = p:get_help()
      assert.matches("frob%s+Frobnicate the widgets of an instance%.", top)
      local a = assert(args.parse({ "help", "frob" }, fake))
      assert.matches("Usage: hcdl frob", a.help_text, 1, true)
      for _, text in ipairs{ "--widget ID", "This widget.", "--loud", "--level L", "--times N" } do
        assert.matches(text, a.help_text, 1, true)
      end
      assert.is_nil(args.parser():get_help():find("frob", 1, true))
    end)

    it("is in the command list", function()
      local names = args.command_names(fake)
      assert.are.equal("frob", names[#names - 1])
      local _, why = args.parse({}, fake)
      assert.matches(", frob, help)", why, 1, true)
      -- `help`'s choices are the command list too
      assert.is_table((args.parse({ "help", "frob" }, fake)))
      assert.is_nil((args.parse{ "help", "frob" }))
    end)

    it("is completed, with its options and their values", function()
      local complete = completer(fake)
      assert.matches("^frob%s*$", complete("fr"))
      assert.are.same({ "--level", "--loud" }, sorted(words(complete("frob", "--l"))))
      assert.are.same({ "high", "low" }, sorted(words(complete("frob", "--level", ""))))
      assert.is_nil(completer(rows)("fr"):find("frob", 1, true))
    end)
  end)

  -- Every command path, as argv words: { "fullsql" }, { "sync", "backup" }, ...
  local function paths(the_rows)
    local out = {}
    for _, row in ipairs(the_rows.commands) do
      out[#out + 1] = { row.name }
      for _, sub in ipairs(row.commands or {}) do out[#out + 1] = { row.name, sub.name } end
    end
    return out
  end

  -- The options argparse accepts on a command path: its own and those of
  -- the commands above it (argparse's own data: each option's aliases).
  local function accepted(the_rows, path)
    local p, by_name = args.parser{ rows = the_rows }
    local set = {}
    local parsers = { p }
    for i = 1, #path do parsers[#parsers + 1] = by_name[table.concat(path, " ", 1, i)] end
    for _, parser in ipairs(parsers) do
      for _, option in ipairs(parser._options) do
        for _, alias in ipairs(option._aliases) do set[alias] = true end
      end
    end
    return set
  end

  for _, case in ipairs{ { "the command's rows", rows }, { "the rows with one added", with_row(FAKE) } } do
    it("the completion offers exactly the options the parser accepts, for every command (" .. case[1] .. ")",
      function()
        local the_rows = case[2]
        local complete = completer(the_rows)
        local checked = 0
        for _, path in ipairs(paths(the_rows)) do
          local typed = { unpack(path) }
          typed[#typed + 1] = "-"
          local offered = words(complete(unpack(typed)))
          local want = accepted(the_rows, path)
          assert.are.same(sorted(want), sorted(offered), table.concat(path, " "))
          -- and each is one the parser takes there (not an unknown option;
          -- -h/--help would print and exit)
          local p = args.parser{ rows = the_rows }
          for option in pairs(offered) do
            if option ~= "-h" and option ~= "--help" then
              local argv = { unpack(path) }
              argv[#argv + 1] = option
              local _, err = p:pparse(argv)
              assert.is_falsy(type(err) == "string" and err:find("unknown option", 1, true),
                option .. ": " .. tostring(err))
            end
          end
          checked = checked + 1
        end
        assert.is_true(checked >= 14, "command paths checked: " .. checked)
      end)
  end

  -- The man page and README are written by hand; these check them against
  -- the rows: every option of every command is named, and a command's
  -- synopsis names only options that command takes.
  describe("the man page and the README", function()
    local man = helpers.read_file(helpers.root .. "/doc/hcdl.1"):gsub("\\%-", "-")
    local readme = helpers.read_file(helpers.root .. "/README.md")
    local shell_part = readme:sub(assert(readme:find("## From the shell", 1, true)),
      assert(readme:find("## A first script", 1, true)))

    -- The options a command path takes (with the global ones and --help).
    local function takes(path)
      local set = { ["--help"] = true }
      for o in pairs(accepted(rows, path)) do set[o] = true end
      return set
    end

    local function all_options()
      local set = {}
      for _, path in ipairs(paths(rows)) do
        for o in pairs(takes(path)) do set[o] = true end
      end
      return set
    end

    local function named(text, option)
      return text:find(option:gsub("%-", "%%-") .. "%f[^%w%-]") ~= nil
    end

    it("name every option of every command", function()
      local missing = {}
      for o in pairs(all_options()) do
        if o ~= "--help" and o:match("^%-%-") then
          if not named(man, o) then missing[#missing + 1] = "doc/hcdl.1: " .. o end
          if not named(shell_part, o) then missing[#missing + 1] = "README (From the shell): " .. o end
        end
      end
      table.sort(missing)
      assert.are.same({}, missing)
    end)

    -- The options a synopsis names that its command (any of its kinds,
    -- for sync) does not take.
    local function strangers(name, synopsis)
      local ok = {}
      for _, path in ipairs(paths(rows)) do
        if path[1] == name then for o in pairs(takes(path)) do ok[o] = true end end
      end
      assert.is_truthy(next(ok), "no command " .. name)
      local out = {}
      for o in synopsis:gmatch("%-%-%a[%w%-]*") do
        if not ok[o] then out[#out + 1] = name .. ": " .. o end
      end
      return out
    end

    it("give each command only the options it takes", function()
      local bad, seen = {}, {}
      for name, synopsis in man:gmatch("\n%.TP\n%.B (%a[%w%-]*)([^\n]*)") do
        seen["man " .. name] = true
        for _, s in ipairs(strangers(name, synopsis)) do bad[#bad + 1] = "doc/hcdl.1 " .. s end
      end
      for name, synopsis in shell_part:gmatch("\n| `(%a[%w%-]*)([^`]*)` |") do
        seen["README " .. name] = true
        for _, s in ipairs(strangers(name, synopsis)) do bad[#bad + 1] = "README " .. s end
      end
      assert.are.same({}, bad)
      -- (the check can fail)
      assert.are.same({ "backup: --node" }, strangers("backup", " --backup-id ID [--node ID]"))
      for _, name in ipairs(args.command_names(rows, "help")) do
        assert.is_true(seen["man " .. name], "doc/hcdl.1 has no synopsis of " .. name)
        assert.is_true(seen["README " .. name], "README's command table has no row for " .. name)
      end
    end)
  end)
end)
