--- hcdl.cli.listings: `hcdl instances` and `hcdl backups` (a table or
-- --json), and the region a mistyped --region most likely meant.
local columns = require "hcdl.cli.columns"
local output = require "hcdl.cli.output"
local regions = require "hcdl.regions"

local listings = {}

--- Runs `hcdl instances` or `hcdl backups` (its row: the call, the
-- columns): the exit status.  --json: each record as the service gave it,
-- plus the columns' fields.
function listings.run(row, client, a, fail)
  local records, err = row.call(client, a)
  if not records then return fail(err) end
  if a.json then
    local files = {}
    for i, r in ipairs(records) do files[i] = output.object(r.record, columns.fields(row.columns, r)) end
    output.report(io.stdout, files, { listed = #records, files = #records, exit_code = 0 })
    return 0
  end
  columns.write(io.stdout, row.columns, records)
  return 0
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
