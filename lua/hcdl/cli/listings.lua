--- hcdl.cli.listings: `hcdl instances` and `hcdl backups` (a table or
-- --json), and the region a mistyped --region most likely meant.
local catalog = require "hcdl.cli.catalog"
local output = require "hcdl.cli.output"
local regions = require "hcdl.regions"

local listings = {}

local function text(v)
  if v == nil or v == output.null then return "-" end
  return tostring(v) -- output.table makes it visible and cuts it
end

-- --json: each row's record as the service gave it, plus what hcdl read
-- from it (fields(row)).
local function json_rows(rows, fields)
  local files = {}
  for i, r in ipairs(rows) do files[i] = output.object(r.record, fields(r)) end
  output.report(io.stdout, files, { listed = #rows, files = #rows, exit_code = 0 })
  return 0
end

local function instances(client, a, fail)
  local rows, err = catalog.instances(client, a.service, a.name)
  if not rows then return fail(err) end
  if a.json then
    return json_rows(rows, function(r) return { id = r.id, name = r.name, status = r.status } end)
  end
  local t = {}
  for i, r in ipairs(rows) do t[i] = { text(r.id), text(r.name), text(r.status) } end
  output.table(io.stdout, { "ID", "NAME", "STATUS" }, t)
  return 0
end

local function backups(client, a, fail)
  local rows, err = catalog.backups(client, a.service, a.instance, a.type)
  if not rows then return fail(err) end
  if a.json then
    return json_rows(rows, function(r)
      return { id = r.id, type = r.type, status = r.status, begin_time = r.begin_time or output.null,
        end_time = r.end_time or output.null, size_bytes = r.size_bytes or output.null }
    end)
  end
  local t = {}
  for i, r in ipairs(rows) do
    t[i] = { text(r.id), text(r.type), text(r.status), text(r.begin_time), text(r.end_time),
      r.size_bytes and output.bytes(r.size_bytes) or "-" }
  end
  output.table(io.stdout, { "ID", "TYPE", "STATUS", "BEGIN", "END", "SIZE" }, t)
  return 0
end

--- Runs `hcdl instances` or `hcdl backups`: the exit status.
function listings.run(client, a, fail)
  if a.command == "instances" then return instances(client, a, fail) end
  return backups(client, a, fail)
end

-- The edit distance of two short strings.
local function distance(s, t)
  local prev = {}
  for j = 0, #t do prev[j] = j end
  for i = 1, #s do
    local cur = { [0] = i }
    for j = 1, #t do
      local cost = s:sub(i, i) == t:sub(j, j) and 0 or 1
      cur[j] = math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost)
    end
    prev = cur
  end
  return prev[#t]
end

--- The known region closest to a mistyped one (at most 3 edits), or nil.
function listings.suggest_region(region)
  if type(region) ~= "string" or #region > 64 then return nil end
  local best, best_d
  for _, r in ipairs(regions.known()) do
    local d = distance(region:lower(), r)
    if not best or d < best_d then best, best_d = r, d end
  end
  if best and best_d <= 3 then return best end
  return nil
end

return listings
