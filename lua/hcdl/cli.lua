--- hcdl.cli: the `hcdl` command (bin/hcdl), over the library only.
--
--   hcdl [--region R] [--project-id ID] COMMAND [OPTIONS]
--
-- Without --out it lists (a table, --json or --links); with --out DIR it
-- downloads with client:download_all.  cli.main(argv) returns the exit
-- status, as design.md fixes it:
--   0 all done; 1 some files failed; 2 usage or input error; 3 auth error;
--   4 any other failure (API, network, I/O); 130 interrupted.
-- Every error is one line on stderr: tostring(err), which has no secrets.
local hcdl = require "hcdl"
local core = require "hcdl.core"
local args = require "hcdl.cli.args"
local commands = require "hcdl.cli.commands"
local output = require "hcdl.cli.output"
local progress = require "hcdl.cli.progress"

local unpack = table.unpack or unpack

local cli = {}

cli.EXIT = { ok = 0, some_failed = 1, usage = 2, auth = 3, failure = 4, interrupted = 130 }

--- The exit status for an hcdl error.
function cli.exit_status(err)
  local kind = type(err) == "table" and err.kind or nil
  if kind == "input" then return cli.EXIT.usage end
  if kind == "auth" then return cli.EXIT.auth end
  return cli.EXIT.failure
end

local function say(line)
  io.stderr:write("hcdl: ", line, "\n")
end

local function fail(err)
  io.stderr:write(tostring(err), "\n") -- "hcdl <kind> error: ..."
  return cli.exit_status(err)
end

local function usage(why)
  say(why .. " (see 'hcdl --help')")
  return cli.EXIT.usage
end

local function version_line()
  local lua = rawget(_G, "jit") and jit.version or _VERSION
  return ("hcdl %s (%s, %s, checks: crc %s, inflate %s)"):format(hcdl.version, lua,
    (core.curl_version():match("^%S+")), core.features().crc, core.features().inflate)
end

local function list(cmd, a, entries)
  if a.json then return output.json(io.stdout, entries) end
  if a.links then return output.links(io.stdout, entries) end
  local headers, rows = {}, {}
  for i, col in ipairs(cmd.columns) do headers[i] = col[1] end
  for r, entry in ipairs(entries) do
    rows[r] = {}
    for i, col in ipairs(cmd.columns) do rows[r][i] = col[2](entry) end
  end
  output.table(io.stdout, headers, rows)
  if #entries == 0 and not a.quiet then say("no files") end
end

local function download_options(a)
  return { concurrency = a.concurrency, connections = a.connections }
end

local function summary(report, seconds)
  local bytes = 0
  for _, r in ipairs(report.files) do
    if r.ok and not r.skipped then bytes = bytes + (r.bytes or 0) end
  end
  return ("%d files: %d downloaded (%s), %d already complete, %d failed, in %.1f s"):format(
    #report.files, report.done, output.bytes(bytes), report.skipped, #report.failed, seconds)
end

-- What a download run reports: each failed file's error on stderr, then
-- on stdout the JSON report or the table (not with --quiet).
local function report_files(a, entries, report)
  local extras, rows = {}, {}
  for i, r in ipairs(report.files) do
    local status = (not r.ok and "failed") or (r.skipped and "skipped") or "downloaded"
    extras[i] = { path = r.path, status = status, error = (not r.ok and r.err) and tostring(r.err) or nil }
    local size = r.bytes and output.bytes(r.bytes) or output.size(entries[i])
    rows[i] = { output.describe(entries[i]).name or "?", status, size, r.path or "-" }
    if not r.ok then io.stderr:write(tostring(r.err), "\n") end
  end
  if a.json then
    output.json(io.stdout, entries, extras)
  elseif not a.quiet then
    output.table(io.stdout, { "NAME", "STATUS", "SIZE", "PATH" }, rows)
  end
end

local function download(client, a, entries, state)
  local t, terr = client:transport()
  if not t then return fail(terr) end
  local width = not (a.quiet or a.no_progress) and progress.terminal_width() or nil
  local display = progress.new{ stream = io.stderr, width = width, now = t.now }
  state.display = display
  local opts = download_options(a)
  -- Always a callback, even with nothing to draw: Ctrl-C reaches Lua code
  -- (and so this command) at the next call into Lua.
  opts.progress = function(done, total, rate, info) display.update(done, total, rate, info) end
  local started = t.now()
  local report, err = client:download_all(entries, a.out, opts)
  display.clear()
  if not report then return fail(err) end
  report_files(a, entries, report)
  if not a.quiet then say(summary(report, t.now() - started)) end
  return report.ok and cli.EXIT.ok or cli.EXIT.some_failed
end

local function run(argv, state)
  -- `hcdl verify` checks local files: its own module, no client
  if argv[1] == "verify" then return require("hcdl.cli.verify").main({ select(2, unpack(argv)) }) end
  local a, why = args.parse(argv)
  if not a then return usage(why) end
  if a.help_text or a.version then
    print(a.help_text or version_line())
    return cli.EXIT.ok
  end
  if a.out and not core.is_dir(a.out) then
    return usage(("--out: %s is not a directory"):format(a.out))
  end
  local client, err = hcdl.new{ region = a.region, project_id = a.project_id }
  if not client then return fail(err) end
  state.client = client
  if a.out then
    -- Download options are checked by the library; an empty batch lets it
    -- do so before any request (runlog's listing collects logs: a side
    -- effect not to cause for a typo).
    local _, oerr = client:download_all({}, a.out, download_options(a))
    if oerr then
      io.stderr:write(tostring(oerr), "\n")
      return cli.EXIT.usage
    end
  end
  local cmd = commands[a.command]
  local entries, lerr = cmd.list(client, a)
  if not entries then return fail(lerr) end
  if not a.out then
    list(cmd, a, entries)
    return cli.EXIT.ok
  end
  return download(client, a, entries, state)
end

-- The standalone interpreter turns Ctrl-C into this error at the next Lua
-- instruction (lua.c, luajit.c).
local function is_interrupt(e)
  return type(e) == "string" and e:find("interrupted!$") ~= nil
end

--- Runs the command line argv (a list of strings): the exit status.
function cli.main(argv)
  local state = {}
  local interrupted = {}
  local ok, result = xpcall(function() return run(argv or {}, state) end, function(e)
    if is_interrupt(e) then return interrupted end
    return { message = tostring(e), traceback = debug.traceback(tostring(e), 2) }
  end)
  if state.client then pcall(state.client.close, state.client) end
  if ok then
    io.stdout:flush()
    return result
  end
  if state.display then state.display.clear() end
  if result == interrupted then
    say("interrupted; partial downloads are kept as .part files: run the same command again to resume")
    return cli.EXIT.interrupted
  end
  say("internal error: " .. result.message)
  if os.getenv("HCDL_DEBUG") then io.stderr:write(result.traceback, "\n") end
  return cli.EXIT.failure
end

return cli
