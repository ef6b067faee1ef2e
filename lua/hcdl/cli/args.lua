--- hcdl.cli.args: the command line of `hcdl`, as design.md ("The `hcdl`
-- command") fixes it, parsed with argparse (Debian's lua-argparse).
--
-- The parser only knows shapes (which options exist, which take numbers);
-- what a value may be (id formats, ranges) is checked by the library, before
-- any request, so each rule lives in one place.
local argparse = require "argparse"

local args = {}

local unpack = table.unpack or unpack

-- The default link lifetime asked of DCS (list_backup_file_links needs one):
-- long enough for a large shard on a slow line; an expired link is refreshed
-- anyway.
args.DCS_EXPIRATION = 3600

-- argparse converters: the value, or nil and why (argparse prints it).
local function whole_number(option)
  return function(s)
    local n = tonumber(s)
    if n and n == math.floor(n) then return math.floor(n) end
    return nil, ("%s: '%s' is not a whole number"):format(option, s)
  end
end

local function seconds(option)
  return function(s)
    local n = tonumber(s)
    if n and n == n then return n end
    return nil, ("%s: '%s' is not a number of seconds"):format(option, s)
  end
end

-- Options every command shares: output form and downloading.
local function output_options(cmd)
  local json = cmd:flag("--json", 'One JSON object {"files": [...]}: each entry\'s service fields plus "link" '
    .. '(and "path", "status" after a download).')
  local links = cmd:flag("--links", "Only the links, one a line (for xargs).")
  cmd:mutex(json, links)
  cmd:group("Output (default: a table for people)", json, links)
  cmd:group("Download",
    cmd:option("--out", "Download into this directory: resumes .part files, verifies size and MD5, "
      .. "renames only complete files, skips files already there."):argname("DIR"),
    cmd:option("--connections", "Parallel ranges per large file."):argname("N")
      :convert(whole_number "--connections"),
    cmd:option("--concurrency", "Files transferred at once."):argname("N")
      :convert(whole_number "--concurrency"),
    cmd:flag("--no-progress", "No progress display (it is shown only when stderr is a terminal)."),
    cmd:flag("--quiet", "Nothing but errors: no progress, no summary, no table after a download."))
end

--- The argparse parser for `hcdl`.
function args.parser()
  local p = argparse("hcdl", "Temporary download links from Huawei Cloud and Open Telekom Cloud "
    .. "database services, and the downloads behind them.")
    :require_command(false)
    :help_max_width(79)
    :command_target("command")
    :epilog("Credentials, project id and endpoints come from hcdl's chain: HUAWEICLOUD_SDK_AK/_SK "
      .. "(or CLOUD_SDK_AK/_SK), HUAWEICLOUD_SDK_PROJECT_ID, HUAWEICLOUD_SDK_REGION_<SERVICE>_<REGION>, "
      .. "the profile ~/.huaweicloud/credentials.\n"
      .. "Exit status: 0 all done; 1 some files failed; 2 usage or input error; 3 auth error; "
      .. "4 any other failure (API, network, I/O); 130 interrupted (.part files kept).")
  p:option("--region", "Region, e.g. cn-north-4, ap-southeast-1, eu-de."):argname("R")
  p:option("--project-id", "Project id (default: HUAWEICLOUD_SDK_PROJECT_ID or the profile)."):argname("ID")
  p:flag("--version", "Print the version and exit.")

  -- Each command: its own options first, then output and download ones.
  local by_name = {}
  local function command(name, description, options)
    local cmd = p:command(name, description)
    by_name[name] = cmd
    local own = {}
    for _, o in ipairs(options) do
      local opt = o.flag and cmd:flag(o[1], o[2]) or cmd:option(o[1], o[2]):argname(o.arg)
      if o.convert then opt:convert(o.convert(o[1])) end
      own[#own + 1] = opt
    end
    cmd:group("Options", unpack(own))
    output_options(cmd)
    return cmd
  end

  command("fullsql", "TaurusDB full-SQL (audit log) files of a time range.", {
    { "--instance", "TaurusDB instance id.", arg = "ID" },
    { "--start", "Start time: 2023-07-24T00:00:00+0800 or seconds since the epoch.", arg = "TIME" },
    { "--end", "End time, the same forms.", arg = "TIME" },
    { "--node", "Only this node.", arg = "ID" },
  })
  command("backup", "RDS backup files.", {
    { "--backup-id", "This backup.", arg = "ID" },
    { "--instance", "RDS instance id (with --latest).", arg = "ID" },
    { "--latest", "The newest finished backup of --instance.", flag = true },
    { "--type", "With --latest: only backups of this type (auto, manual, fragment, incremental).", arg = "T" },
  })
  command("dcs-backup", "DCS (Redis) backup files, one per shard.", {
    { "--instance", "DCS instance id.", arg = "ID" },
    { "--backup-id", "This backup.", arg = "ID" },
    { "--latest", "The newest finished backup.", flag = true },
    { "--expiration", ("Link lifetime in seconds, 300-86400 (default %d)."):format(args.DCS_EXPIRATION),
      arg = "S", convert = whole_number },
  })
  command("runlog", "DCS (Redis) run-log files: collects them, then lists or downloads.", {
    { "--instance", "DCS instance id.", arg = "ID" },
    { "--days", "0 (today), 1, 3 or 7 days (default 0).", arg = "0|1|3|7", convert = whole_number },
    { "--replication", "Only this replication (node).", arg = "ID" },
  })
  command("errorlog", "RDS for PostgreSQL error-log files (waits until they are prepared).", {
    { "--instance", "RDS for PostgreSQL instance id.", arg = "ID" },
    { "--timeout", "Seconds to wait for the links (default 300).", arg = "S", convert = seconds },
  })

  -- not argparse's add_help_command: it exits 1 on an unknown name
  local names = { "fullsql", "backup", "dcs-backup", "runlog", "errorlog" }
  p:command("help", "Show help for a command."):argument("name", "The command."):args("?"):choices(names)
  return p, by_name
end

local function need(a, option, field)
  if a[field] == nil then return ("%s is required"):format(option) end
end

-- Per command: which combinations are allowed (argparse knows single
-- options; these are the design's "(A | B C)" shapes).
local SHAPES = {
  fullsql = function(a)
    return need(a, "--instance", "instance") or need(a, "--start", "start") or need(a, "--end", "end")
  end,
  backup = function(a)
    if a.backup_id and a.latest then return "give either --backup-id or --latest, not both" end
    if a.backup_id then
      if a.instance then return "--instance goes with --latest, not with --backup-id" end
      if a.type then return "--type goes with --latest" end
      return nil
    end
    if not a.latest then return "give --backup-id ID, or --instance ID --latest" end
    return need(a, "--instance", "instance")
  end,
  ["dcs-backup"] = function(a)
    if a.backup_id and a.latest then return "give either --backup-id or --latest, not both" end
    if not a.backup_id and not a.latest then return "give --backup-id ID or --latest" end
    return need(a, "--instance", "instance")
  end,
  runlog = function(a)
    return need(a, "--instance", "instance")
  end,
  errorlog = function(a)
    return need(a, "--instance", "instance")
  end,
}

--- Parses argv: the options table, or nil and a usage message.  For
-- `help [COMMAND]`, a.help_text is what to print.
function args.parse(argv)
  local p, commands = args.parser()
  local ok, a = p:pparse(argv)
  if not ok then return nil, a end
  if a.command == "help" then
    a.help_text = a.name and commands[a.name]:get_help() or p:get_help()
    return a
  end
  if a.version then return a end
  if not a.command then return nil, "a command is required (fullsql, backup, dcs-backup, runlog, errorlog, help)" end
  local why = SHAPES[a.command](a)
  if why then return nil, why end
  if a.links and a.out then return nil, "--links lists links; it does not go with --out" end
  return a
end

return args
