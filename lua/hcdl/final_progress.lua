--- hcdl.final_progress: the progress callback's last call reports the end
-- of a download run, done == total for the files that completed, even when
-- the run was too fast or too throttled for its last interval to report
-- (hcdl.download calls progress at most every progress_interval).
--
-- local p = final_progress.wrap(opts.progress) -- nil when there is none
-- ... run with p.callback ...; p.finish(results)
local core = require "hcdl.core"

local final_progress = {}

local function size_of(r)
  if type(r.path) == "string" then
    local n = core.file_size(r.path)
    if n then return n end
  end
  return type(r.bytes) == "number" and r.bytes or 0
end

--- A wrapper around progress (a function), or nil when progress is nil.
function final_progress.wrap(progress)
  if type(progress) ~= "function" then return nil end
  local self = { last = nil, started = core.now() }
  function self.callback(done, total, rate, info)
    self.last = { done = done, total = total, info = info }
    return progress(done, total, rate, info)
  end
  -- results: the run's results in order ({ ok, skipped, path, bytes, name }).
  function self.finish(results)
    local files, done, total = {}, 0, 0
    local before = self.last and type(self.last.info) == "table" and self.last.info.files or {}
    for i, r in ipairs(results) do
      local prev = before[i] or {}
      local fd, ft, state
      if r.ok then
        fd = size_of(r)
        ft, state = fd, r.skipped and "skipped" or "done"
      else
        fd, ft, state = prev.done or 0, prev.total or prev.done or 0, "failed"
      end
      files[i] = { name = r.name or prev.name, done = fd, total = ft, state = state }
      done, total = done + fd, total + ft
    end
    if self.last and self.last.done == done and self.last.total == total then return end
    local seconds = core.now() - self.started
    progress(done, total, seconds > 0 and done / seconds or 0, { files = files })
  end
  return self
end

return final_progress
