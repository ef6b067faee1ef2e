--- hcdl.cli.args: the argparse parser (Debian's lua-argparse) of `hcdl`,
-- made from the rows of hcdl.cli.rows, and the rules a row gives checked
-- after parsing.  Every function takes the rows to use (default: the
-- command's own), so a test can add one.
local argparse = require "argparse"
local regions = require "hcdl.regions"
local convert = require "hcdl.cli.convert"

local args = {}

local unpack = table.unpack or unpack

local function default_rows(r) return r or require "hcdl.cli.rows" end

-- Values only the completion offers (opts.completion).
local COMPLETE = { regions = function() return regions.known() end }

--- The options of a section (nested sections joined), in order.
function args.options_of(section, into)
  into = into or {}
  for _, item in ipairs(section) do
    if type(item[1]) == "string" then into[#into + 1] = item else args.options_of(item, into) end
  end
  return into
end

--- The names of a command's top-level commands, in order.
function args.command_names(rows, except)
  local names = {}
  for _, row in ipairs(default_rows(rows).commands) do
    if row.name ~= except then names[#names + 1] = row.name end
  end
  return names
end

local function add_option(cmd, o, opts)
  local opt = o.flag and cmd:flag(o[1], o[2]) or cmd:option(o[1], o[2]):argname(o.arg)
  if o.choices then opt:choices(o.choices) end
  if o.type then opt:convert(convert[o.type](o[1])) end
  if o.complete and opts.completion then opt:choices(COMPLETE[o.complete]()) end
  return opt
end

-- A section's options on cmd, as one help group when it has a title.
local function add_section(cmd, section, opts)
  local made, by_name = {}, {}
  for _, o in ipairs(args.options_of(section)) do
    made[#made + 1] = add_option(cmd, o, opts)
    by_name[o[1]] = made[#made]
  end
  if section.mutex then
    local mutex = {}
    for i, name in ipairs(section.mutex) do mutex[i] = by_name[name] end
    cmd:mutex(unpack(mutex))
  end
  if section.title then cmd:group(section.title, unpack(made)) end
end

local function add_arguments(cmd, row, rows)
  for _, a in ipairs(row.arguments or {}) do
    local arg = cmd:argument(a[1], a[2])
    if a.args then arg:args(a.args) end
    local choices = a.choices == "commands" and args.command_names(rows, row.name) or a.choices
    if choices then arg:choices(choices) end
  end
end

-- A row as a command of parent; by_name gets it ("sync fullsql" for a
-- command of a command).
local function add_command(parent, row, prefix, by_name, rows, opts)
  local cmd = parent:command(row.name, row.summary)
  local full = prefix .. row.name
  by_name[full] = cmd
  add_arguments(cmd, row, rows)
  for _, section in ipairs(row.sections or {}) do add_section(cmd, section, opts) end
  if row.commands then
    cmd:command_target(row.target)
    for _, sub in ipairs(row.commands) do add_command(cmd, sub, full .. " ", by_name, rows, opts) end
  end
end

--- The argparse parser for `hcdl` and its commands by name.  opts.rows:
-- the rows (default hcdl.cli.rows); opts.completion: add the values only
-- the completion offers (the known regions for --region).
function args.parser(opts)
  opts = opts or {}
  local rows = default_rows(opts.rows)
  local program = rows.PROGRAM
  local p = argparse(program.name, program.summary)
    :require_command(false)
    :help_max_width(79)
    :command_target("command")
    :epilog(program.epilog)
  for _, section in ipairs(program.sections) do add_section(p, section, opts) end
  local by_name = {}
  for _, row in ipairs(rows.commands) do add_command(p, row, "", by_name, rows, opts) end
  return p, by_name
end

--- The row of a parsed command line (sync's kind for `sync KIND`).
function args.row_of(a, rows)
  for _, row in ipairs(default_rows(rows).commands) do
    if row.name == a.command then
      if not row.commands then return row end
      for _, sub in ipairs(row.commands) do
        if sub.name == a[row.target] then return sub end
      end
    end
  end
end

local function field(name) return (name:gsub("^%-%-", ""):gsub("%-", "_")) end

-- "--x" (given), "--x=v", "name!=v".
local function holds(a, cond)
  local name, op, value = cond:match("^([%w_-]+)(!?=)(.*)$")
  if not name then
    local v = a[field(cond)]
    return v ~= nil and v ~= false
  end
  if op == "=" then return a[field(name)] == value end
  return a[field(name)] ~= value
end

local function broken(rule, a)
  if rule.required then
    if (not rule.when or holds(a, rule.when)) and a[field(rule.required)] == nil then
      return ("%s is required"):format(rule.required)
    end
  elseif rule.exclusive then
    if holds(a, rule.exclusive[1]) and holds(a, rule.exclusive[2]) then
      return rule.why or ("give either %s or %s, not both"):format(rule.exclusive[1], rule.exclusive[2])
    end
  elseif rule.one_of then
    for _, o in ipairs(rule.one_of) do if holds(a, o) then return nil end end
    return rule.why
  elseif rule.refuse then
    for _, cond in ipairs(rule.refuse) do if not holds(a, cond) then return nil end end
    return rule.why
  end
end

-- The rules of a section and of the sections in it, in order.
local function rules_of(section, into)
  for _, rule in ipairs(section.rules or {}) do into[#into + 1] = rule end
  for _, item in ipairs(section) do
    if type(item[1]) ~= "string" then rules_of(item, into) end
  end
  return into
end

--- The first rule of row (its own, then its sections') that a breaks: the
-- usage message, or nil.
function args.check(row, a)
  local all = rules_of({ rules = row.rules }, {})
  for _, section in ipairs(row.sections or {}) do rules_of(section, all) end
  for _, rule in ipairs(all) do
    local why = broken(rule, a)
    if why then return why end
  end
end

--- Parses argv: the options table and the command's row, or nil and a
-- usage message.  For `help [COMMAND]`, a.help_text is what to print.
function args.parse(argv, rows)
  local p, commands = args.parser{ rows = rows }
  local ok, a = p:pparse(argv)
  if not ok then return nil, a end
  if a.command == "help" then
    a.help_text = a.name and commands[a.name]:get_help() or p:get_help()
    return a
  end
  if a.version then return a end
  if not a.command then
    return nil, ("a command is required (%s)"):format(table.concat(args.command_names(rows), ", "))
  end
  local row = args.row_of(a, rows)
  local why = args.check(row, a)
  if why then return nil, why end
  return a, row
end

--- The bash completion of the command (tools/make-completion).
function args.completion(rows)
  return args.parser{ rows = rows, completion = true }:get_bash_complete()
end

return args
