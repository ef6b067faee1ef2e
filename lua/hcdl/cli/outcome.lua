--- hcdl.cli.outcome: what a run of `hcdl` ends with: the exit status by
-- cause, one line per distinct error cause on stderr, the summary line and
-- the JSON summary.
--
-- Files are the library's sync report files (hcdl.sync), or a download
-- report turned into that shape (outcome.from_download):
--   { name, status = "new"|"updated"|"skipped"|"failed"|"removed"|
--     "would-fetch"|"would-remove", path, bytes, verified, err, entry }
local outcome = {}

outcome.EXIT = { ok = 0, some_failed = 1, usage = 2, auth = 3, failure = 4, busy = 75, interrupted = 130 }

outcome.STATUSES = { "new", "updated", "skipped", "failed", "removed", "would-fetch", "would-remove" }

local SUCCESS = { new = true, updated = true, skipped = true, removed = true,
                  ["would-fetch"] = true, ["would-remove"] = true }

--- The exit status for an error that ended a run before its files.
function outcome.exit_for_error(err)
  local kind = type(err) == "table" and err.kind or nil
  if kind == "input" then return outcome.EXIT.usage end
  if kind == "auth" then return outcome.EXIT.auth end
  if type(err) == "table" and err.busy then return outcome.EXIT.busy end
  return outcome.EXIT.failure
end

local function auth_caused(err)
  return type(err) == "table" and (err.kind == "auth" or err.not_started == true)
end

--- The exit status of a run whose files are `files`: 0 none failed;
-- 3 every failure was an auth failure (or a file not started after one);
-- 4 nothing succeeded; 1 otherwise.
function outcome.exit_for_files(files)
  local failed, succeeded, all_auth = 0, 0, true
  for _, f in ipairs(files) do
    if f.status == "failed" then
      failed = failed + 1
      if not auth_caused(f.err) then all_auth = false end
    elseif SUCCESS[f.status] then
      succeeded = succeeded + 1
    end
  end
  if failed == 0 then return outcome.EXIT.ok end
  if all_auth then return outcome.EXIT.auth end
  if succeeded == 0 then return outcome.EXIT.failure end
  return outcome.EXIT.some_failed
end

-- Errors of one cause share kind, HTTP status and service code; their
-- messages differ only by the file they name.
local function cause_of(err)
  if type(err) ~= "table" then return tostring(err) end
  return table.concat({ tostring(err.kind), tostring(err.status), tostring(err.code),
    tostring(err.errno or err.os_error or "") }, "|")
end

local MAX_LINE = 400

--- The error lines of a run: one per distinct cause (the first file's
-- error, then how many more files had it), and "N files not started".
-- visible(s, max) makes a string one printable line (hcdl.cli.output).
function outcome.error_lines(files, visible)
  local order, groups, not_started = {}, {}, 0
  for _, f in ipairs(files) do
    if f.status == "failed" then
      if type(f.err) == "table" and f.err.not_started then
        not_started = not_started + 1
      else
        local key = cause_of(f.err)
        if not groups[key] then
          groups[key] = { err = f.err, count = 0 }
          order[#order + 1] = key
        end
        groups[key].count = groups[key].count + 1
      end
    end
  end
  local lines = {}
  for _, key in ipairs(order) do
    local g = groups[key]
    local line = visible(tostring(g.err), MAX_LINE)
    if g.count > 1 then line = line .. (" (and %d more files with this error)"):format(g.count - 1) end
    lines[#lines + 1] = line
  end
  if not_started > 0 then
    lines[#lines + 1] = ("hcdl: %d file%s not started"):format(not_started, not_started == 1 and "" or "s")
  end
  return lines
end

--- Counts by status, and the bytes downloaded.
function outcome.counts(files)
  local c = { bytes = 0 }
  for _, s in ipairs(outcome.STATUSES) do c[s] = 0 end
  for _, f in ipairs(files) do
    c[f.status] = (c[f.status] or 0) + 1
    if (f.status == "new" or f.status == "updated") and type(f.bytes) == "number" then
      c.bytes = c.bytes + f.bytes
    end
  end
  return c
end

--- The JSON summary: counts by status, bytes, seconds, exit_code.
function outcome.summary(files, seconds, exit_code, report)
  local s = outcome.counts(files)
  if report and type(report.bytes) == "number" then s.bytes = report.bytes end
  s.files = #files
  s.seconds = math.floor(seconds * 1000 + 0.5) / 1000
  s.exit_code = exit_code
  return s
end

--- A download_all report (hcdl.client) as files of the sync shape.
function outcome.from_download(entries, report, name_of)
  local files = {}
  for i, r in ipairs(report.files) do
    local status = (not r.ok and "failed") or (r.skipped and "skipped") or "new"
    files[i] = { name = r.name or name_of(entries[i]), status = status, path = r.path, bytes = r.bytes,
      size = r.size, verified = r.verified, err = not r.ok and r.err or nil, entry = entries[i] }
  end
  return files
end

return outcome
