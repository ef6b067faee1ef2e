--- hcdl.cli.report: how a run that fetched files ends, the same for the
-- download commands and `hcdl sync`: the errors (one line per cause) on
-- stderr, the table or the JSON on stdout, the summary line, the metrics
-- file, and the exit status.
local output = require "hcdl.cli.output"
local outcome = require "hcdl.cli.outcome"
local metrics = require "hcdl.cli.metrics"

local report = {}

local function say(line)
  io.stderr:write("hcdl: ", output.visible(line, output.ERROR_LINE_MAX), "\n")
end

local function size_of(f)
  if type(f.bytes) == "number" and (f.status == "new" or f.status == "updated") then return output.bytes(f.bytes) end
  if type(f.size) == "number" then return output.bytes(f.size) end
  return f.entry ~= nil and output.size(f.entry) or "-"
end

-- What was checked of a file ("size,md5,xbstream"), as the README's
-- "What was verified" names it; "-" when nothing (a failed file).
local function verified_of(f)
  if type(f.verified) ~= "table" or #f.verified == 0 then return "-" end
  return table.concat(f.verified, ",")
end

--- "backup 0123...br01 (auto, 2023-07-24T02:30:00Z .. 2023-07-24T02:35:00Z)"
function report.backup_line(b)
  return ("backup %s (%s, %s .. %s)"):format(output.visible(b.id, 80), output.visible(b.type or "?", 40),
    output.visible(b.begin_time or "?", 40), output.visible(b.end_time or "?", 40))
end

local function summary_line(c, seconds, label)
  local parts = {}
  for _, s in ipairs(outcome.STATUSES) do
    if c[s] > 0 or s == "new" or s == "skipped" or s == "failed" then parts[#parts + 1] = ("%d %s"):format(c[s], s) end
  end
  return ("%s%d files: %s (%s downloaded) in %.1f s"):format(label and (label .. ": ") or "", c.new + c.updated
    + c.skipped + c.failed + c.removed + c["would-fetch"] + c["would-remove"], table.concat(parts, ", "),
    output.bytes(c.bytes), seconds)
end

local function json_files(files)
  local list = {}
  for i, f in ipairs(files) do
    local extra = { status = f.status, path = f.path or output.null, bytes = f.bytes or output.null,
      verified = type(f.verified) == "table" and f.verified or {},
      error = f.err ~= nil and output.visible(tostring(f.err), output.ERROR_LINE_MAX) or nil,
      link = f.entry ~= nil and output.describe(f.entry).link or nil }
    list[i] = output.file_object(f.entry, extra)
    if f.entry == nil and f.name then list[i].file_name = f.name end
  end
  return list
end

--- Ends a run: run = { a (options), files, seconds, meta = { backup },
-- kind, instance, library_report }.  Returns the exit status.
function report.finish(run)
  local a, files = run.a, run.files
  local code = outcome.exit_for_files(files)
  for _, line in ipairs(outcome.error_lines(files, output.visible)) do io.stderr:write(line, "\n") end
  local backup = run.meta and run.meta.backup
  if a.json then
    output.report(io.stdout, json_files(files), outcome.summary(files, run.seconds, code, run.library_report),
      backup and { backup = backup } or nil)
  elseif not a.quiet and a.out ~= "-" then
    if backup then io.stdout:write(report.backup_line(backup), "\n") end
    local rows = {}
    for i, f in ipairs(files) do
      -- output.table cuts and escapes
      rows[i] = { f.name or "?", f.status, size_of(f), verified_of(f), f.path or "-" }
    end
    output.table(io.stdout, { "NAME", "STATUS", "SIZE", "VERIFIED", "PATH" }, rows)
  end
  local c = outcome.counts(files)
  if run.library_report and type(run.library_report.bytes) == "number" then c.bytes = run.library_report.bytes end
  if not a.quiet then say(summary_line(c, run.seconds, run.label)) end
  if a.metrics_file then
    local ok, err = metrics.write(a.metrics_file, { kind = run.kind, instance = run.instance, now = os.time(),
      success = code == 0, counts = c, bytes = c.bytes, seconds = run.seconds, exit_code = code })
    if not ok then
      io.stderr:write(output.visible(tostring(err), output.ERROR_LINE_MAX), "\n")
      if code == 0 then code = outcome.EXIT.failure end
    end
  end
  return code
end

--- The metrics of a run that ended before its files (an error, busy).
function report.failed_metrics(a, kind, instance, seconds, code)
  if not a.metrics_file then return end
  local ok, err = metrics.write(a.metrics_file, { kind = kind, instance = instance, now = os.time(),
    success = false, counts = {}, bytes = 0, seconds = seconds, exit_code = code })
  if not ok then io.stderr:write(output.visible(tostring(err), output.ERROR_LINE_MAX), "\n") end
end

return report
