--- hcdl.cli.metrics: `--metrics-file PATH`, the Prometheus text format for
-- the node exporter's textfile collector, written atomically (a temporary
-- file in the same directory, then rename) so the collector never reads
-- half a file.
--
-- hcdl_last_success_timestamp_seconds is carried over from the previous
-- file when this run did not succeed, so an alert on its age fires when
-- runs keep failing.
local core = require "hcdl.core"

local metrics = {}

local FILE_STATUSES = { "new", "updated", "skipped", "failed", "removed" }

-- A label value as the text format wants it: \, " and newline escaped.
local function label(v)
  return (tostring(v):gsub('[\\"\n]', { ["\\"] = "\\\\", ['"'] = '\\"', ["\n"] = "\\n" }))
end

local function labels(kind, instance, extra)
  local s = ('kind="%s",instance="%s"'):format(label(kind), label(instance or ""))
  if extra then s = s .. "," .. extra end
  return "{" .. s .. "}"
end

local function number(n)
  if n == math.floor(n) and math.abs(n) < 2 ^ 53 then return ("%d"):format(n) end
  return ("%.3f"):format(n)
end

-- The previous file's last success for these labels, or nil.
local function previous_success(path, kind, instance)
  local f = io.open(path, "rb")
  if not f then return nil end
  local text = f:read("*a") or ""
  f:close()
  local want = "hcdl_last_success_timestamp_seconds" .. labels(kind, instance) .. " "
  for line in text:gmatch("[^\n]+") do
    if line:sub(1, #want) == want then return tonumber(line:sub(#want + 1)) end
  end
  return nil
end

--- The text of the metrics of one run.  run = { kind, instance, now,
-- success (bool), counts (by status), bytes, seconds, exit_code,
-- last_success (nil: none known) }.
function metrics.render(run)
  local l = labels(run.kind, run.instance)
  local out = {}
  local function metric(name, help, samples)
    out[#out + 1] = ("# HELP %s %s"):format(name, help)
    out[#out + 1] = ("# TYPE %s gauge"):format(name)
    for _, s in ipairs(samples) do out[#out + 1] = ("%s%s %s"):format(name, s[1], number(s[2])) end
  end
  metric("hcdl_last_run_timestamp_seconds", "When the last hcdl run ended (seconds since the epoch).",
    { { l, run.now } })
  if run.last_success then
    metric("hcdl_last_success_timestamp_seconds", "When the last hcdl run that succeeded ended.",
      { { l, run.last_success } })
  end
  local files = {}
  for i, s in ipairs(FILE_STATUSES) do
    files[i] = { labels(run.kind, run.instance, ('status="%s"'):format(s)), run.counts[s] or 0 }
  end
  metric("hcdl_files", "Files of the last run by status.", files)
  metric("hcdl_downloaded_bytes", "Bytes downloaded by the last run.", { { l, run.bytes or 0 } })
  metric("hcdl_run_duration_seconds", "How long the last run took.", { { l, run.seconds or 0 } })
  metric("hcdl_exit_code", "The exit status of the last run.", { { l, run.exit_code } })
  return table.concat(out, "\n") .. "\n"
end

local function io_error(path, why)
  return nil, core.error{ kind = "io", path = path, message = ("--metrics-file: cannot write %s: %s"):format(path, why) }
end

-- The directory and the name of path ("x" -> ".", "x"; "/x" -> "/", "x").
local function split(path)
  local dir, name = path:match("^(.*)/([^/]*)$")
  if not dir then return ".", path end
  return dir == "" and "/" or dir, name
end

-- Writes text to a new file `name` of the directory handle d: created
-- exclusively, links not followed (hcdl writes only files it created), with
-- mode 0666 less the umask (the collector runs as another user).
local function write_new(d, name, text)
  local f, err = d:open(name, { create = true, mode = 438, umask = true })
  if not f then return nil, err, false end
  local ok, werr = f:write(text, d:path(name))
  f:close()
  if not ok then return nil, werr, true end
  return true
end

--- Writes the metrics of run to path, atomically: true, or nil, err.  The
-- text goes to a temporary file beside path, created exclusively (an
-- existing file or link under that name is left alone: an io error), then
-- renamed over path.
function metrics.write(path, run)
  if run.success then
    run.last_success = run.now
  else
    run.last_success = previous_success(path, run.kind, run.instance)
  end
  local dirpath, name = split(path)
  if name == "" then return io_error(path, "not a file name") end
  local d, derr = core.dir(dirpath)
  if not d then return io_error(path, derr.message) end
  local tmp = ("%s.tmp-%d"):format(name, core.pid())
  local ok, err, created = write_new(d, tmp, metrics.render(run))
  local renamed, rerr = ok, nil
  if ok then renamed, rerr = os.rename(d:path(tmp), path) end
  if not renamed and (created or ok) then d:remove(tmp) end
  d:close()
  if not ok then return io_error(path, err.message) end
  if not renamed then return io_error(path, rerr) end
  return true
end

return metrics
