--- hcdl.cli.args: the command line of `hcdl` (users' reference: README.md,
-- "From the shell"; its place: docs/architecture.md "The command"), parsed
-- with argparse (Debian's lua-argparse).
--
-- The parser only knows shapes (which options exist, which take numbers);
-- what a value may be (id formats, ranges) is checked by the library, before
-- any request, so each rule lives in one place.
local argparse = require "argparse"
local regions = require "hcdl.regions"

local args = {}

local unpack = table.unpack or unpack

-- The default link lifetime asked of DCS (list_backup_file_links needs one):
-- long enough for a large shard on a slow line; an expired link is refreshed
-- anyway.
args.DCS_EXPIRATION = 3600

args.LIST_COMMANDS = { "fullsql", "backup", "dcs-backup", "runlog", "errorlog" }
args.SYNC_KINDS = { "fullsql", "backup", "dcs-backup", "runlog", "errorlog" }

-- RDS backup types: the service's own, and the two hcdl adds (full = auto
-- and manual, the default; all = every type).
args.RDS_TYPES = { "full", "auto", "manual", "incremental", "fragment", "all" }

-- argparse converters: the value, or nil and why (argparse prints it).
local function whole_number(option)
  return function(s)
    local n = tonumber(s)
    if n and n == math.floor(n) and n >= 0 then return math.floor(n) end
    return nil, ("%s: '%s' is not a whole number"):format(option, s)
  end
end

local function seconds(option)
  return function(s)
    local n = tonumber(s)
    if n and n == n and n >= 0 then return n end
    return nil, ("%s: '%s' is not a number of seconds"):format(option, s)
  end
end

local SUFFIX = { [""] = 1, k = 1024, K = 1024, m = 1048576, M = 1048576, g = 1073741824, G = 1073741824 }

-- "10M", "512K", "1000" -> bytes per second.
local function rate(option)
  return function(s)
    local n, unit = tostring(s):match("^(%d+%.?%d*)([kKmMgG]?)i?B?/?s?$")
    local v = n and math.floor(tonumber(n) * SUFFIX[unit])
    if v and v >= 1024 then return v end -- the library's floor (README: max_rate)
    return nil, ("%s: '%s' is not a rate of at least 1K bytes per second (such as 10M, 512K or 1000000)")
      :format(option, s)
  end
end

-- "30d", "12h", "3600" -> seconds (a bare number is seconds).
local function age(option)
  return function(s)
    if tostring(s):match("^%d+$") then return tonumber(s) end
    local d = require("hcdl.cli.when").duration(s)
    if d then return d end
    return nil, ("%s: '%s' is not an age such as 30d, 12h or 90m"):format(option, s)
  end
end

args.convert = { whole_number = whole_number, seconds = seconds, rate = rate, age = age }

-- Download options shared by downloads and sync.
local function transfer_options(cmd)
  return {
    cmd:option("--connections", "Parallel ranges per large file."):argname("N")
      :convert(whole_number "--connections"),
    cmd:option("--concurrency", "Files transferred at once."):argname("N")
      :convert(whole_number "--concurrency"),
    cmd:option("--max-rate", "At most this many bytes per second for the whole run (10M, 512K)."):argname("RATE")
      :convert(rate "--max-rate"),
    cmd:option("--deadline", "Give up a file after this many seconds."):argname("S")
      :convert(seconds "--deadline"),
    cmd:option("--retries", "Retries of a failed request or transfer."):argname("N")
      :convert(whole_number "--retries"),
    cmd:option("--verify", "strict: fail a file that could only be checked by its size."):argname("strict")
      :choices{ "strict" },
    cmd:flag("--no-progress", "No progress display (it is shown only when stderr is a terminal)."),
    cmd:flag("--quiet", "Nothing but errors: no progress, no summary, no table after a download."),
  }
end

-- Options of the listing commands: output form and downloading.
local function output_options(cmd)
  local json = cmd:flag("--json", 'One JSON object {"files": [...], "summary": {...}}: each entry\'s service '
    .. 'fields plus file_name, size_bytes, updated_at and "link" (or "path", "status", "bytes", "verified" '
    .. 'after a download).')
  local links = cmd:flag("--links", "Only the links, one a line (for xargs).")
  cmd:mutex(json, links)
  cmd:group("Output (default: a table for people)", json, links)
  cmd:group("Download",
    cmd:option("--out", "Download into this directory (created, mode 0700; '-' streams a single file to "
      .. "stdout): resumes .part files, verifies, renames only complete files, skips files already there.")
      :argname("DIR"),
    unpack(transfer_options(cmd)))
end

local function add_options(cmd, options)
  local own = {}
  for _, o in ipairs(options) do
    local opt = o.flag and cmd:flag(o[1], o[2]) or cmd:option(o[1], o[2]):argname(o.arg)
    if o.choices then opt:choices(o.choices) end
    if o.convert then opt:convert(o.convert(o[1])) end
    own[#own + 1] = opt
  end
  cmd:group("Options", unpack(own))
end

local TZ = { "--tz", "The offset of times without one and of bare dates (+08:00, -0500, Z; default UTC).",
  arg = "OFFSET" }
local TIME_FORMS = "2023-07-24T00:00:00+08:00 (or +0800, Z), 2023-07-24, 24h, 90m, 7d ago from now, now"

local LIST_OPTIONS = {
  fullsql = { "TaurusDB full-SQL (audit log) files of a time range.", {
    { "--instance", "TaurusDB instance id.", arg = "ID" },
    { "--start", "Start time: " .. TIME_FORMS .. ".", arg = "TIME" },
    { "--end", "End time, the same forms (default: now).", arg = "TIME" },
    TZ,
    { "--node", "Only this node.", arg = "ID" },
  } },
  backup = { "RDS backup files.", {
    { "--backup-id", "This backup.", arg = "ID" },
    { "--instance", "RDS instance id (with --latest).", arg = "ID" },
    { "--latest", "The newest finished full backup (types auto and manual) of --instance.", flag = true },
    { "--type", "With --latest: full (default), incremental, all, auto, manual or fragment.", arg = "T",
      choices = args.RDS_TYPES },
  } },
  ["dcs-backup"] = { "DCS (Redis) backup files, one per shard.", {
    { "--instance", "DCS instance id.", arg = "ID" },
    { "--backup-id", "This backup.", arg = "ID" },
    { "--latest", "The newest finished backup.", flag = true },
    { "--expiration", ("Link lifetime in seconds, 300-86400 (default %d)."):format(args.DCS_EXPIRATION),
      arg = "S", convert = whole_number },
  } },
  runlog = { "DCS (Redis) run-log files: collects them, then lists or downloads.", {
    { "--instance", "DCS instance id.", arg = "ID" },
    { "--days", "0 (today), 1, 3 or 7 days (default 0).", arg = "0|1|3|7", choices = { "0", "1", "3", "7" },
      convert = whole_number },
    { "--replication", "Only this replication (node).", arg = "ID" },
  } },
  errorlog = { "RDS for PostgreSQL error-log files (waits until they are prepared).", {
    { "--instance", "RDS for PostgreSQL instance id.", arg = "ID" },
    { "--timeout", "Seconds to wait for the links (default 300).", arg = "S", convert = seconds },
  } },
}

local KEEP = { "--keep", "Keep the newest N backup directories hcdl made; remove older ones after this one "
  .. "is complete.", arg = "N", convert = whole_number }
local MAX_AGE = { "--max-age", "Remove what hcdl fetched that is older than AGE (30d, 12h), after the run's "
  .. "files are complete.", arg = "AGE", convert = age }

local SYNC_OPTIONS = {
  fullsql = { "Mirror TaurusDB full-SQL files: new and grown ones, from the saved position.", {
    { "--instance", "TaurusDB instance id.", arg = "ID" },
    { "--since", "First run only: start here (" .. TIME_FORMS .. "; default 24h).", arg = "WHEN" },
    TZ,
    { "--node", "Only this node.", arg = "ID" },
    MAX_AGE,
  } },
  backup = { "Mirror the newest RDS backup into <out>/<end time UTC>_<id>/.", {
    { "--instance", "RDS instance id.", arg = "ID" },
    { "--type", "full (auto and manual; the default), incremental, all, auto or manual.", arg = "T",
      choices = args.RDS_TYPES },
    KEEP, MAX_AGE,
  } },
  ["dcs-backup"] = { "Mirror the newest DCS backup into <out>/<end time UTC>_<id>/.", {
    { "--instance", "DCS instance id.", arg = "ID" },
    KEEP, MAX_AGE,
  } },
  runlog = { "Mirror DCS run logs (collects them first).", {
    { "--instance", "DCS instance id.", arg = "ID" },
    { "--replication", "Only this replication (node).", arg = "ID" },
    { "--days", "0 (today), 1, 3 or 7 days (default 0).", arg = "0|1|3|7", choices = { "0", "1", "3", "7" },
      convert = whole_number },
    MAX_AGE,
  } },
  errorlog = { "Mirror RDS for PostgreSQL error logs (waits until they are prepared).", {
    { "--instance", "RDS for PostgreSQL instance id.", arg = "ID" },
    { "--timeout", "Seconds to wait for the links (default 300).", arg = "S", convert = seconds },
    MAX_AGE,
  } },
}

local function sync_options(cmd)
  cmd:option("--out", "The mirror directory (created, mode 0700); its records and position live in it.")
    :argname("DIR")
  cmd:group("Sync",
    cmd:flag("--dry-run", "Say what would be fetched, replaced and removed; touch nothing."),
    cmd:flag("--force", "Fetch again what is already there."),
    cmd:option("--match", "Only files whose name matches this glob."):argname("GLOB"),
    cmd:option("--wait", "Wait this long for another run holding --out (default 0), then exit 75.")
      :argname("S"):convert(seconds "--wait"),
    cmd:option("--metrics-file", "Write Prometheus metrics here (node exporter textfile collector).")
      :argname("PATH"),
    cmd:flag("--json", 'One JSON object {"files": [...], "summary": {...}}.'))
  cmd:group("Download", unpack(transfer_options(cmd)))
end

local EPILOG = "Credentials, project id and endpoints come from hcdl's chain: HUAWEICLOUD_SDK_AK/_SK "
  .. "(or CLOUD_SDK_AK/_SK), HUAWEICLOUD_SDK_PROJECT_ID, HUAWEICLOUD_SDK_REGION_<SERVICE>_<REGION>, "
  .. "the profile ~/.huaweicloud/credentials.\n"
  .. "Exit status: 0 all done (nothing to do included); 1 some files failed, at least one succeeded; "
  .. "2 usage or input error (nothing sent); 3 authentication (also when every failure was one); "
  .. "4 any other failure when nothing succeeded; 75 another run holds --out; 130 interrupted.\n"
  .. "See hcdl(1)."

--- The argparse parser for `hcdl`.  opts.completion: offer the known
-- regions as --region's values (for the generated bash completion only:
-- a region with its own endpoints may have any name).
function args.parser(opts)
  local p = argparse("hcdl", "Temporary download links from Huawei Cloud and Open Telekom Cloud "
    .. "database services, and the downloads behind them.")
    :require_command(false)
    :help_max_width(79)
    :command_target("command")
    :epilog(EPILOG)
  local region = p:option("--region", "Region, e.g. cn-north-4, ap-southeast-1, eu-de."):argname("R")
  if opts and opts.completion then region:choices(regions.known()) end
  p:option("--project-id", "Project id (default: HUAWEICLOUD_SDK_PROJECT_ID or the profile)."):argname("ID")
  p:flag("--version", "Print the version and exit.")

  local by_name = {}
  for _, name in ipairs(args.LIST_COMMANDS) do
    local cmd = p:command(name, LIST_OPTIONS[name][1])
    by_name[name] = cmd
    add_options(cmd, LIST_OPTIONS[name][2])
    output_options(cmd)
  end

  local sync = p:command("sync", "Mirror files into --out, fetching only what is new or changed (cron, systemd).")
    :command_target("kind")
  by_name.sync = sync
  for _, kind in ipairs(args.SYNC_KINDS) do
    local cmd = sync:command(kind, SYNC_OPTIONS[kind][1])
    by_name["sync " .. kind] = cmd
    add_options(cmd, SYNC_OPTIONS[kind][2])
    sync_options(cmd)
  end

  local instances = p:command("instances", "Instances of a service: id, name, status.")
  instances:argument("service", "rds, dcs or gaussdb."):choices{ "rds", "dcs", "gaussdb" }
  instances:option("--name", "Only names matching this glob."):argname("GLOB")
  instances:flag("--json", 'One JSON object {"files": [...], "summary": {...}} (each an instance).')
  by_name.instances = instances

  local backups = p:command("backups", "Backups of an instance: id, type, status, begin and end, size.")
  backups:argument("service", "rds or dcs."):choices{ "rds", "dcs" }
  backups:option("--instance", "Instance id."):argname("ID")
  backups:option("--type", "RDS: only this type (full, auto, manual, incremental, fragment, all)."):argname("T")
    :choices(args.RDS_TYPES)
  backups:flag("--json", 'One JSON object {"files": [...], "summary": {...}} (each a backup).')
  by_name.backups = backups

  -- not argparse's add_help_command: it exits 1 on an unknown name
  local names = { "fullsql", "backup", "dcs-backup", "runlog", "errorlog", "sync", "instances", "backups" }
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
    return need(a, "--instance", "instance") or need(a, "--start", "start")
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
  sync = function(a)
    return need(a, "--instance", "instance") or need(a, "--out", "out")
      or (a.out == "-" and "sync keeps files in a directory: --out - (stdout) is for a single download") or nil
  end,
  instances = function() return nil end,
  backups = function(a)
    if a.type and a.service ~= "rds" then return "--type is for rds backups" end
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
  if not a.command then
    return nil, "a command is required (fullsql, backup, dcs-backup, runlog, errorlog, sync, instances, backups, help)"
  end
  local why = SHAPES[a.command](a)
  if why then return nil, why end
  if a.links and a.out then return nil, "--links lists links; it does not go with --out" end
  if a.out == "-" and a.json then return nil, "--out - writes the file to stdout; --json does not go with it" end
  return a
end

return args
