--- hcdl.cli: the `hcdl` command (bin/hcdl), over the library only.
--
--   hcdl [--region R] [--project-id ID] COMMAND [OPTIONS]
--
-- Without --out a listing command lists (a table, --json or --links); with
-- --out DIR it downloads with client:download_all (--out - streams one
-- file to stdout); `hcdl sync KIND` mirrors (hcdl.cli.sync); `instances`
-- and `backups` list what the companion calls know (hcdl.cli.catalog).
-- cli.main(argv) returns the exit status (hcdl.cli.outcome):
--   0 all done; 1 some files failed, at least one succeeded; 2 usage or
--   input; 3 auth (also when every failure was one); 4 any other failure
--   when nothing succeeded; 75 another run holds --out; 130 interrupted.
-- Every error is one line on stderr: tostring(err), which has no secrets.
local hcdl = require "hcdl"
local core = require "hcdl.core"
local args = require "hcdl.cli.args"
local columns = require "hcdl.cli.columns"
local output = require "hcdl.cli.output"
local outcome = require "hcdl.cli.outcome"
local progress = require "hcdl.cli.progress"
local report = require "hcdl.cli.report"
local waits = require "hcdl.cli.waits"
local dirs = require "hcdl.cli.dirs"
local listings = require "hcdl.cli.listings"

local unpack = table.unpack or unpack

local cli = {}

cli.EXIT = outcome.EXIT

--- The exit status for an hcdl error.
cli.exit_status = outcome.exit_for_error

-- Every line the command writes on stderr passes text.shown (through
-- output.visible): no secret, no link query, one line, no terminal
-- commands, bounded, whatever a service put into it.
local function say(line)
  io.stderr:write("hcdl: ", output.visible(line, output.ERROR_LINE_MAX), "\n")
end

local function fail(err)
  io.stderr:write(output.visible(tostring(err), output.ERROR_LINE_MAX), "\n") -- "hcdl <kind> error: ..."
  return cli.exit_status(err)
end

local function usage(why)
  say(why .. " (see 'hcdl --help')")
  return cli.EXIT.usage
end

local function version_line()
  local lua = rawget(_G, "jit") and jit.version or _VERSION
  local f = core.features()
  return ("hcdl %s (%s, %s, checks: crc %s, inflate %s, multipart md5 %s)"):format(hcdl.version,
    lua, (core.curl_version():match("^%S+")), f.crc, f.inflate, f.multipart_md5)
end

-- The download options of the command line, as the library names them.
local function download_options(a)
  return { concurrency = a.concurrency, connections = a.connections, max_rate = a.max_rate,
    deadline = a.deadline, retries = a.retries, verify = a.verify }
end

-- The progress display and the callback that feeds it.  Always a
-- callback, even with nothing to draw: Ctrl-C reaches Lua code (and so
-- this command) at the next call into Lua.
local function with_progress(a, state, opts)
  local display = progress.new{ stream = io.stderr, width = state.width, now = core.now }
  state.display = display
  opts.progress = function(done, total, rate, info)
    if done and done > 0 then state.received = true end
    display.update(done, total, rate, info)
  end
  return opts
end

local function list(row, a, entries, meta)
  if a.json then
    local files = {}
    for i, e in ipairs(entries) do files[i] = output.file_object(e, { link = output.describe(e).link }) end
    output.report(io.stdout, files, { listed = #entries, files = #entries, exit_code = 0 },
      meta and meta.backup and { backup = meta.backup } or nil)
    return
  end
  if a.links then return output.links(io.stdout, entries) end
  if meta and meta.backup then io.stdout:write(report.backup_line(meta.backup), "\n") end
  columns.write(io.stdout, row.columns, entries)
  if #entries == 0 and not a.quiet then say("no files") end
end

-- --out -: the one file, streamed to stdout (the library's sinks).
local function stream(client, a, entries, state)
  if #entries ~= 1 then
    return usage(("--out - streams a single file; this lists %d (use --out DIR)"):format(#entries))
  end
  state.phase = "streaming"
  local r, err = client:download(entries[1], io.stdout, download_options(a))
  io.stdout:flush()
  if not r then return fail(err) end
  return cli.EXIT.ok
end

local function download(client, a, entries, meta, state)
  if a.out == "-" then return stream(client, a, entries, state) end
  local opts = with_progress(a, state, download_options(a))
  state.phase = "downloading"
  local started = core.now()
  local result, err = client:download_all(entries, a.out, opts)
  state.display.clear()
  if not result then return fail(err) end
  local files = outcome.from_download(entries, result, function(e) return output.describe(e).name end)
  return report.finish{ a = a, files = files, seconds = core.now() - started, meta = meta,
    kind = a.command, instance = a.instance or a.backup_id }
end

local function run_sync(row, client, a, state)
  local opts = with_progress(a, state, download_options(a))
  state.phase = "syncing"
  local started = core.now()
  local result, err = require("hcdl.cli.sync").run(row, client, a, opts, state.waiter)
  state.display.clear()
  state.waiter.clear()
  if not result then
    local code = fail(err)
    report.failed_metrics(a, a.kind, a.instance, core.now() - started, code)
    return code
  end
  return report.finish{ a = a, files = result.files or {}, seconds = core.now() - started,
    meta = { backup = result.backup }, kind = a.kind, instance = a.instance, library_report = result,
    label = "sync " .. a.kind }
end

local function run_listing(row, client, a, state)
  if a.out and a.out ~= "-" then
    local made, merr = dirs.make(a.out)
    if not made then return fail(merr) end
    -- Download options are checked by the library; an empty batch lets it
    -- do so before any request (runlog's listing collects logs: a side
    -- effect not to cause for a typo).
    local _, oerr = client:download_all({}, a.out, download_options(a))
    if oerr then
      io.stderr:write(output.visible(tostring(oerr), output.ERROR_LINE_MAX), "\n")
      return cli.EXIT.usage
    end
  end
  if row.awaits then state.waiter.awaiting(row.awaits:format(a.instance)) end
  state.phase = "listing"
  local entries, meta = row.call(client, a)
  state.waiter.awaiting(nil)
  if not entries then return fail(meta) end
  if not a.out then
    local ok, lerr = list(row, a, entries, meta)
    if ok == nil and lerr then return fail(lerr) end -- --links refused a link the service gave
    return cli.EXIT.ok
  end
  return download(client, a, entries, meta, state)
end

local function new_client(a, state)
  local client, err = hcdl.new{ region = a.region, project_id = a.project_id, sleep = state.waiter.sleep,
    retries = a.retries }
  if not client and type(err) == "table" and err.field == "region" then
    local guess = listings.suggest_region(a.region)
    if guess then
      say(("unknown region '%s'; did you mean %s? (or give endpoints: see 'man hcdl')"):format(
        output.visible(a.region, 60), guess))
      return nil, cli.EXIT.usage
    end
  end
  if not client then return nil, fail(err) end
  return client
end

local function run(argv, state)
  -- `hcdl verify` checks local files: its own module, no client
  if argv[1] == "verify" then return require("hcdl.cli.verify").main({ select(2, unpack(argv)) }) end
  local a, row = args.parse(argv)
  if not a then return usage(row) end
  if a.help_text or a.version then
    print(a.help_text or version_line())
    return cli.EXIT.ok
  end
  state.width = not (a.quiet or a.no_progress or a.json) and progress.terminal_width() or nil
  state.waiter = waits.new{ stream = io.stderr, terminal = state.width ~= nil and not a.quiet }
  local client, code = new_client(a, state)
  if not client then return code end
  state.client = client
  if row.runner == "sync" then return run_sync(row, client, a, state) end
  if row.runner == "catalog" then return listings.run(row, client, a, fail) end
  return run_listing(row, client, a, state)
end

-- The standalone interpreter turns Ctrl-C into this error at the next Lua
-- instruction (lua.c, luajit.c).
local function is_interrupt(e)
  return type(e) == "string" and e:find("interrupted!$") ~= nil
end

-- What is true after Ctrl-C, by what the run was doing.
local function interrupted_line(state)
  if state.waiter and state.waiter.what then
    return ("interrupted while waiting for %s; nothing was downloaded"):format(state.waiter.what)
  end
  if state.phase == "downloading" or state.phase == "syncing" then
    if state.received then
      return "interrupted; partial downloads are kept as .part files: run the same command again to resume"
    end
    return "interrupted before any file data arrived; nothing was written under a final name"
  end
  if state.phase == "streaming" then return "interrupted; the file on stdout is incomplete" end
  return "interrupted; nothing was downloaded"
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
  if state.waiter then state.waiter.clear() end
  if result == interrupted then
    say(interrupted_line(state))
    return cli.EXIT.interrupted
  end
  say("internal error: " .. result.message) -- say makes it visible
  if os.getenv("HCDL_DEBUG") then
    -- a traceback quotes the error, which may hold what a service sent
    for l in result.traceback:gmatch("[^\n]+") do io.stderr:write(output.visible(l, output.ERROR_LINE_MAX), "\n") end
  end
  return cli.EXIT.failure
end

return cli
