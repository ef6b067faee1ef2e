--- hcdl.cli.rows: the command line of `hcdl`, one row per command.  The
-- parser, the help, the command list and the bash completion are made
-- from these rows (hcdl.cli.args, tools/make-completion), and the command
-- runs a row's call and prints its columns (hcdl.cli), so each fact about
-- a command is written here once.
--
-- A row:
--   name, summary       the command and its one-line help
--   arguments           { { name, help, choices = {...} | "commands", args = "?" } }
--   sections            help groups, in order: { title = "Options" | nil
--                       (argparse's "Options"/"Other options"), mutex = { "--a",
--                       "--b" }, rules = {...}, <option>..., <section>... };
--                       a section inside a section joins its group, so shared
--                       groups (TRANSFER, LIST_OUTPUT, ...) are written once
--   option              { "--name", help, arg = "METAVAR" | flag = true,
--                       type = a hcdl.cli.convert name, choices = {...},
--                       complete = "regions" (values for the completion only) }
--   rules               checked in order after parsing, the first broken one
--                       is the usage error (see hcdl.cli.args.check):
--                       { required = "--x" [, when = COND] }, { exclusive =
--                       { "--x", "--y" } }, { one_of = { ... }, why = "..." },
--                       { refuse = { COND, ... }, why = "..." }; COND is "--x"
--                       (given), "--x=v" or "name!=v" (an option or argument)
--   columns             the table people see: { HEADER, field, as = a
--                       hcdl.cli.columns format }
--   runner, call        how hcdl.cli runs it ("list", "sync", "catalog",
--                       "help") and the library call: call(client, a, ...)
--   awaits              what a waiting line says the command waits for
--   commands, target    a command with commands of its own (sync KIND)
--
-- The parser only knows shapes (which options exist, which take numbers);
-- what a value may be (id formats, ranges) is checked by the library, before
-- any request, so each rule lives in one place.
local commands = require "hcdl.cli.commands"
local sync = require "hcdl.cli.sync"
local catalog = require "hcdl.cli.catalog"

local rows = {}

-- RDS backup types: the service's own, and the two hcdl adds (full = auto
-- and manual, the default; all = every type).
rows.RDS_TYPES = { "full", "auto", "manual", "incremental", "fragment", "all" }

rows.PROGRAM = { name = "hcdl", summary = "Temporary download links from Huawei Cloud and Open Telekom Cloud "
  .. "database services, and the downloads behind them.",
  epilog = "Credentials, project id and endpoints come from hcdl's chain: HUAWEICLOUD_SDK_AK/_SK "
  .. "(or CLOUD_SDK_AK/_SK), HUAWEICLOUD_SDK_PROJECT_ID, HUAWEICLOUD_SDK_REGION_<SERVICE>_<REGION>, "
  .. "the profile ~/.huaweicloud/credentials.\n"
  .. "Exit status: 0 all done (nothing to do included); 1 some files failed, at least one succeeded; "
  .. "2 usage or input error (nothing sent); 3 authentication (also when every failure was one); "
  .. "4 any other failure when nothing succeeded; 75 another run holds --out; 130 interrupted.\n"
  .. "See hcdl(1).",
  sections = { {
    -- a region with its own endpoints may have any name: the known ones
    -- are offered by the completion, not enforced
    { "--region", "Region, e.g. cn-north-4, ap-southeast-1, eu-de.", arg = "R", complete = "regions" },
    { "--project-id", "Project id (default: HUAWEICLOUD_SDK_PROJECT_ID or the profile).", arg = "ID" },
    { "--version", "Print the version and exit.", flag = true },
  } },
}

-- Download options shared by downloads and sync.
local TRANSFER = {
  { "--connections", "Parallel ranges per large file.", arg = "N", type = "whole_number" },
  { "--concurrency", "Files transferred at once.", arg = "N", type = "whole_number" },
  { "--max-rate", "At most this many bytes per second for the whole run (10M, 512K).", arg = "RATE", type = "rate" },
  { "--deadline", "Give up the files not yet done S seconds after the downloads start (one limit for the whole run).", arg = "S", type = "seconds" },
  { "--retries", "Retries of a failed request or transfer.", arg = "N", type = "whole_number" },
  { "--verify", "strict: fail a file that could only be checked by its size.", arg = "strict", choices = { "strict" } },
  { "--no-progress", "No progress display (it is shown only when stderr is a terminal).", flag = true },
  { "--quiet", "Nothing but errors: no progress, no summary, no table after a download.", flag = true },
}

-- The listing commands' output forms and downloading.
local LIST_OUTPUT = { title = "Output (default: a table for people)", mutex = { "--json", "--links" },
  { "--json", 'One JSON object {"files": [...], "summary": {...}}: each entry\'s service fields plus file_name, '
    .. 'size_bytes, updated_at and "link" (or "path", "status", "bytes", "verified" after a download).', flag = true },
  { "--links", "Only the links, one a line (for xargs).", flag = true },
  rules = {
    { refuse = { "--links", "--out" }, why = "--links lists links; it does not go with --out" },
    { refuse = { "--out=-", "--json" }, why = "--out - writes the file to stdout; --json does not go with it" },
  },
}
local LIST_DOWNLOAD = { title = "Download",
  { "--out", "Download into this directory (created, mode 0700; '-' streams a single file to stdout): resumes "
    .. ".part files, verifies, renames only complete files, skips files already there.", arg = "DIR" },
  TRANSFER,
}

-- sync's --out is in no group of its own (argparse: "Other options").
local SYNC_OUT = {
  { "--out", "The mirror directory (created, mode 0700); its records and position live in it.", arg = "DIR" },
  rules = {
    { required = "--out" },
    { refuse = { "--out=-" }, why = "sync keeps files in a directory: --out - (stdout) is for a single download" },
  },
}
local SYNC = { title = "Sync",
  { "--dry-run", "Say what would be fetched, replaced and removed; touch nothing.", flag = true },
  { "--force", "Fetch again what is already there.", flag = true },
  { "--match", "Only files whose name matches this glob.", arg = "GLOB" },
  { "--wait", "Wait this long for another run holding --out (default 0), then exit 75.", arg = "S", type = "seconds" },
  { "--metrics-file", "Write Prometheus metrics here (node exporter textfile collector).", arg = "PATH" },
  { "--json", 'One JSON object {"files": [...], "summary": {...}}.', flag = true },
}
local SYNC_DOWNLOAD = { title = "Download", TRANSFER }

local TZ = { "--tz", "The offset of times without one and of bare dates (+08:00, -0500, Z; default UTC).",
  arg = "OFFSET" }
local TIME_FORMS = "2023-07-24T00:00:00+08:00 (or +0800, Z), 2023-07-24, 24h, 90m, 7d ago from now, now"
local NODE = { "--node", "Only this node.", arg = "ID" }
local REPLICATION = { "--replication", "Only this replication (node).", arg = "ID" }
local DAYS = { "--days", "0 (today), 1, 3 or 7 days (default 0).", arg = "0|1|3|7", choices = { "0", "1", "3", "7" },
  type = "whole_number" }
local TIMEOUT = { "--timeout", "Seconds to wait for the links (default 300).", arg = "S", type = "seconds" }
local KEEP = { "--keep", "Keep the newest N backup directories hcdl made; remove older ones after this one "
  .. "is complete.", arg = "N", type = "whole_number" }
local MAX_AGE = { "--max-age", "Remove what hcdl fetched that is older than AGE (30d, 12h), after the run's "
  .. "files are complete.", arg = "AGE", type = "age" }
local function instance(help) return { "--instance", help, arg = "ID" } end
local NEED_INSTANCE = { required = "--instance" }

local RUNLOG_AWAITS = "the run logs of DCS instance %s to be collected"
local ERRORLOG_AWAITS = "the error logs of PostgreSQL instance %s to be prepared"

-- A listing command: its own options, then the output and download groups.
local function listing(row, own)
  row.runner = "list"
  own.title = "Options"
  row.sections = { own, LIST_OUTPUT, LIST_DOWNLOAD }
  return row
end

-- A kind of `hcdl sync`: its own options, then the sync and download groups.
local function mirror(row, own)
  row.runner = "sync"
  own.title = "Options"
  row.rules = { NEED_INSTANCE }
  row.sections = { own, SYNC_OUT, SYNC, SYNC_DOWNLOAD }
  return row
end

rows.commands = {
  listing({ name = "fullsql", summary = "TaurusDB full-SQL (audit log) files of a time range.",
    rules = { NEED_INSTANCE, { required = "--start" } },
    columns = { { "NAME", as = "entry_name" }, { "SIZE", as = "entry_size" }, { "UPDATED", "updated_time" } },
    call = commands.fullsql }, {
    instance "TaurusDB instance id.",
    { "--start", "Start time: " .. TIME_FORMS .. ".", arg = "TIME" },
    { "--end", "End time, the same forms (default: now).", arg = "TIME" },
    TZ, NODE,
  }),
  listing({ name = "backup", summary = "RDS backup files.",
    rules = {
      { exclusive = { "--backup-id", "--latest" } },
      { refuse = { "--backup-id", "--instance" }, why = "--instance goes with --latest, not with --backup-id" },
      { refuse = { "--backup-id", "--type" }, why = "--type goes with --latest" },
      { one_of = { "--backup-id", "--latest" }, why = "give --backup-id ID, or --instance ID --latest" },
      { required = "--instance", when = "--latest" },
    },
    columns = { { "NAME", as = "entry_name" }, { "SIZE", as = "entry_size" }, { "DATABASE", "database_name" } },
    call = commands.backup }, {
    { "--backup-id", "This backup.", arg = "ID" },
    instance "RDS instance id (with --latest).",
    { "--latest", "The newest finished full backup (types auto and manual) of --instance.", flag = true },
    { "--type", "With --latest: full (default), incremental, all, auto, manual or fragment.", arg = "T",
      choices = rows.RDS_TYPES },
  }),
  listing({ name = "dcs-backup", summary = "DCS (Redis) backup files, one per shard.",
    rules = {
      { exclusive = { "--backup-id", "--latest" } },
      { one_of = { "--backup-id", "--latest" }, why = "give --backup-id ID or --latest" },
      NEED_INSTANCE,
    },
    columns = { { "NAME", as = "entry_name" } },
    call = commands["dcs-backup"] }, {
    instance "DCS instance id.",
    { "--backup-id", "This backup.", arg = "ID" },
    { "--latest", "The newest finished backup.", flag = true },
    { "--expiration", ("Link lifetime in seconds, 300-86400 (default %d)."):format(commands.DCS_EXPIRATION),
      arg = "S", type = "whole_number" },
  }),
  listing({ name = "runlog", summary = "DCS (Redis) run-log files: collects them, then lists or downloads.",
    rules = { NEED_INSTANCE }, awaits = RUNLOG_AWAITS,
    columns = { { "NAME", as = "entry_name" }, { "GROUP", "group_name" }, { "NODE IP", "replication_ip" },
                { "TIME", "time" } },
    call = commands.runlog }, {
    instance "DCS instance id.", DAYS, REPLICATION,
  }),
  listing({ name = "errorlog", summary = "RDS for PostgreSQL error-log files (waits until they are prepared).",
    rules = { NEED_INSTANCE }, awaits = ERRORLOG_AWAITS,
    columns = { { "NAME", as = "entry_name" }, { "SIZE", as = "entry_size" } },
    call = commands.errorlog }, {
    instance "RDS for PostgreSQL instance id.", TIMEOUT,
  }),
  { name = "sync", summary = "Mirror files into --out, fetching only what is new or changed (cron, systemd).",
    target = "kind", commands = {
    mirror({ name = "fullsql", summary = "Mirror TaurusDB full-SQL files: new and grown ones, from the saved position.",
      call = sync.fullsql }, {
      instance "TaurusDB instance id.",
      { "--since", "First run only: start here (" .. TIME_FORMS .. "; default 24h).", arg = "WHEN" },
      TZ, NODE, MAX_AGE,
    }),
    mirror({ name = "backup", summary = "Mirror the newest RDS backup into <out>/<end time UTC>_<id>/.",
      call = sync.backup }, {
      instance "RDS instance id.",
      { "--type", "full (auto and manual; the default), incremental, all, auto or manual.", arg = "T",
        choices = rows.RDS_TYPES },
      KEEP, MAX_AGE,
    }),
    mirror({ name = "dcs-backup", summary = "Mirror the newest DCS backup into <out>/<end time UTC>_<id>/.",
      call = sync["dcs-backup"] }, {
      instance "DCS instance id.", KEEP, MAX_AGE,
    }),
    mirror({ name = "runlog", summary = "Mirror DCS run logs (collects them first).",
      awaits = RUNLOG_AWAITS, call = sync.runlog }, {
      instance "DCS instance id.", REPLICATION, DAYS, MAX_AGE,
    }),
    mirror({ name = "errorlog", summary = "Mirror RDS for PostgreSQL error logs (waits until they are prepared).",
      awaits = ERRORLOG_AWAITS, call = sync.errorlog }, {
      instance "RDS for PostgreSQL instance id.", TIMEOUT, MAX_AGE,
    }),
  } },
  { name = "instances", summary = "Instances of a service: id, name, status.", runner = "catalog",
    arguments = { { "service", "rds, dcs or gaussdb.", choices = { "rds", "dcs", "gaussdb" } } },
    sections = { {
      { "--name", "Only names matching this glob.", arg = "GLOB" },
      { "--json", 'One JSON object {"files": [...], "summary": {...}} (each an instance).', flag = true },
    } },
    columns = { { "ID", "id" }, { "NAME", "name" }, { "STATUS", "status" } },
    call = function(client, a) return catalog.instances(client, a.service, a.name) end },
  { name = "backups", summary = "Backups of an instance: id, type, status, begin and end, size.", runner = "catalog",
    arguments = { { "service", "rds or dcs.", choices = { "rds", "dcs" } } },
    sections = { {
      instance "Instance id.",
      { "--type", "RDS: only this type (full, auto, manual, incremental, fragment, all).", arg = "T",
        choices = rows.RDS_TYPES },
      { "--json", 'One JSON object {"files": [...], "summary": {...}} (each a backup).', flag = true },
    } },
    rules = { { refuse = { "--type", "service!=rds" }, why = "--type is for rds backups" }, NEED_INSTANCE },
    -- --json gives null for what a record lacks
    columns = { { "ID", "id" }, { "TYPE", "type" }, { "STATUS", "status" }, { "BEGIN", "begin_time", json_null = true },
                { "END", "end_time", json_null = true }, { "SIZE", "size_bytes", as = "bytes", json_null = true } },
    call = function(client, a) return catalog.backups(client, a.service, a.instance, a.type) end },
  -- not argparse's add_help_command: it exits 1 on an unknown name
  { name = "help", summary = "Show help for a command.", runner = "help",
    arguments = { { "name", "The command.", args = "?", choices = "commands" } } },
}

return rows
