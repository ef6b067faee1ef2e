--- hcdl.cli.progress: the progress display of `hcdl --out` on stderr:
-- one line per active file and one for all of them (bytes, rate, ETA),
-- redrawn in place.  Only on a terminal: cron mail must stay clean, so
-- when stderr is a file or a pipe nothing of it is ever written.
--
-- It is fed by the library's download progress callback,
-- progress(done_bytes, total_bytes, rate, info), where info (when the
-- library gives it) = { files = { [i] = { name, done, total, state } } }.
local output = require "hcdl.cli.output"
local text = require "hcdl.text"

local progress = {}

local MAX_FILE_LINES = 4
local WINDOW = 3 -- seconds of samples a rate is measured over

--- The terminal on stderr: its width in columns, or nil when stderr is
-- not a terminal.  Asked once, of the shell (Lua has no isatty).
function progress.terminal_width()
  local p = io.popen('if [ -t 2 ]; then stty size <&2 2>/dev/null || echo "24 80"; fi')
  if not p then return nil end
  local answer = p:read("*a") or ""
  p:close()
  local cols = tonumber(answer:match("^%s*%d+%s+(%d+)"))
  if not cols then return nil end
  return cols > 20 and cols or 80
end

-- A rate over the last WINDOW seconds of (time, bytes) samples.
local function meter()
  local samples = {}
  return function(t, bytes)
    samples[#samples + 1] = { t, bytes }
    while #samples > 2 and t - samples[1][1] > WINDOW do table.remove(samples, 1) end
    local first = samples[1]
    if t - first[1] < 0.2 then return nil end
    return (bytes - first[2]) / (t - first[1])
  end
end

local function clock(seconds)
  if not seconds or seconds ~= seconds or seconds < 0 or seconds > 99 * 3600 then return "-:--" end
  seconds = math.floor(seconds + 0.5)
  local h, m, s = math.floor(seconds / 3600), math.floor(seconds / 60) % 60, seconds % 60
  if h > 0 then return ("%d:%02d:%02d"):format(h, m, s) end
  return ("%d:%02d"):format(m, s)
end

--- "12.0 MiB / 40.0 MiB  30%  1.5 MiB/s  ETA 0:19"
function progress.figures(done, total, rate)
  local pct = (total and total > 0) and ("%3d%%"):format(math.min(100, math.floor(done * 100 / total))) or "  ?%"
  local eta = (rate and rate > 0 and total and total >= done) and (total - done) / rate or nil
  return ("%s / %s  %s  %s/s  ETA %s"):format(output.bytes(done), total and output.bytes(total) or "?",
    pct, output.bytes(rate or 0), clock(eta))
end

-- At most n bytes of s, keeping both ends (file names differ at the end).
local function shorten(s, n)
  if #s <= n then return s end
  if n < 5 then return s:sub(1, math.max(n, 0)) end
  local head = math.floor((n - 3) / 2)
  return s:sub(1, head) .. "..." .. s:sub(#s - (n - 3 - head) + 1)
end

--- A display: display:update(done, total, rate, info) (the callback's
-- arguments), display:clear() before anything else is written to stderr.
-- opts: { stream, width (nil: no terminal, draw nothing), now, count }
function progress.new(opts)
  local self = { drawn = 0 }
  if not opts.width then
    function self.update() end
    function self.clear() end
    return self
  end
  local stream, width, now = opts.stream, opts.width, opts.now
  local all_meter, file_meters = meter(), {}

  local function draw(lines)
    local up = self.drawn > 1 and ("\27[%dA"):format(self.drawn - 1) or ""
    -- a line as wide as the terminal would wrap and break the redraw
    for i, l in ipairs(lines) do lines[i] = shorten(l, width - 1) .. "\27[K" end
    stream:write("\r", up, table.concat(lines, "\n"), "\27[J")
    stream:flush()
    self.drawn = #lines
  end

  function self.update(done, total, rate, info)
    local t = now()
    local lines = {}
    local files = type(info) == "table" and type(info.files) == "table" and info.files or nil
    local finished, active = 0, 0
    if files then
      for i, f in ipairs(files) do
        if f.state == "done" or f.state == "skipped" or f.state == "failed" then
          finished = finished + 1
        elseif f.state == "active" then
          active = active + 1
          file_meters[i] = file_meters[i] or meter()
          local r = file_meters[i](t, f.done or 0)
          if active <= MAX_FILE_LINES then
            local figures = progress.figures(f.done or 0, f.total, r)
            lines[#lines + 1] = ("  %s  %s"):format(
              -- visible before and after the cut: a cut may split a UTF-8 sequence
              text.shown(shorten(text.shown(f.name), width - #figures - 5)), figures)
          end
        end
      end
      if active > MAX_FILE_LINES then
        lines[#lines + 1] = ("  ... and %d more"):format(active - MAX_FILE_LINES)
      end
    end
    local r = all_meter(t, done) or rate
    local count = files and ("%d/%d files  "):format(finished, #files) or ""
    lines[#lines + 1] = ("all  %s%s"):format(count, progress.figures(done, total, r))
    draw(lines)
  end

  function self.clear()
    if self.drawn == 0 then return end
    local up = self.drawn > 1 and ("\27[%dA"):format(self.drawn - 1) or ""
    stream:write("\r", up, "\27[J")
    stream:flush()
    self.drawn = 0
  end

  return self
end

return progress
