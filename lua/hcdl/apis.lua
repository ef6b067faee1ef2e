--- hcdl.apis: the API descriptors of hcdl.core (core.apis()) and what
-- follows from them: the entries an answer holds, where each entry came
-- from (so its link can be renewed), and what an entry says about its file
-- (link, name, size, times).  Nothing here knows a field name itself: the
-- descriptor row in src/api_table.c is the one place for those facts.
local core = require "hcdl.core"
local timefmt = require "hcdl.timefmt"

local apis = {}

local descriptors = core.apis()

local names = {}
for name in pairs(descriptors) do names[#names + 1] = name end
table.sort(names)

local function copy(t)
  local c = {}
  for k, v in pairs(t) do c[k] = v end
  return c
end

--- The descriptor of API `name` (see api.h for its fields), or nil.
function apis.get(name)
  return descriptors[name]
end

--- Every API name, sorted.
function apis.names()
  return copy(names)
end

-- Credentials and an endpoint that only let build() run: validation.
local DRY = { project_id = ("0"):rep(32), ak = "validate", sk = "validate", endpoints = {} }

--- Checks `params` for API `name` exactly as a call would, without a
-- request: true, or nil and the same "input" error.  For helpers that must
-- refuse bad input before their first request.
function apis.validate(name, params)
  DRY.endpoints[descriptors[name].service] = "https://validate.invalid"
  local spec, err = core.build(name, params, DRY)
  if not spec then return nil, err end
  return true
end

-- Where an answer's entries are, by its row's shape: the list holding
-- them, or the one entry (an object field, or the answer itself when it is
-- one link), or nothing.  No table is made: apis.remember runs per call.
local function entries_of(name, data)
  local answer = descriptors[name].answer
  if type(data) ~= "table" then return nil end
  if answer.list then
    local list = data[answer.list]
    return type(list) == "table" and list or nil
  end
  if answer.object then
    local one = data[answer.object]
    return nil, type(one) == "table" and one or nil
  end
  if answer.link then return nil, data end
  return nil
end

--- The entries of an answer of API `name`: its list, or the one entry it
-- is (a link answer such as create_redislog_download_link, or an object
-- such as show_gauss_my_sql_instance_info's instance); {} when none.
function apis.entries(name, data)
  local list, one = entries_of(name, data)
  return list or { one }
end

-- Where each entry came from: { api =, params = }.  Weak keys: entries the
-- caller drops are forgotten.
local origins = setmetatable({}, { __mode = "k" })

-- The parameter names of each API, in the row's order.
local param_names = {}
for name, d in pairs(descriptors) do
  local list = {}
  for i, p in ipairs(d.params) do list[i] = p.name end
  param_names[name] = list
end

-- The origin last made for a caller's parameter table (weak keys), reused
-- while the table still holds the same values: a caller asking the same
-- API again and again makes no new copy per call.  The parameters of an
-- answer were accepted by the build, which refuses unknown names, so the
-- row's names are all the keys there are: no pairs() over the caller's
-- table (a C call per key).
local recent = setmetatable({}, { __mode = "k" })

-- The origin of a call of `name` with `params`: the one made last for
-- this parameter table while it holds the same values, else a new one.
local function origin_for(name, params)
  local keys = param_names[name]
  local origin = params and recent[params]
  if origin and origin.api == name then
    local kept = origin.params
    for i = 1, #keys do
      if kept[keys[i]] ~= params[keys[i]] then origin = nil break end
    end
    if origin then return origin end
  end
  local kept = {}
  for i = 1, params and #keys or 0 do kept[keys[i]] = params[keys[i]] end
  origin = { api = name, params = kept }
  if params then recent[params] = origin end
  return origin
end

--- Records that the entries of `data`, an answer of `name` called with
-- `params` (accepted by core.build, as every answer's were), came from
-- that call, so refresh can ask again and describe knows their fields.
function apis.remember(name, params, data)
  if type(data) ~= "table" then return end
  local list, one = entries_of(name, data)
  if one then
    origins[one] = origin_for(name, params)
  elseif list then
    local origin = origin_for(name, params)
    for i = 1, #list do
      local e = list[i]
      if type(e) == "table" then origins[e] = origin end
    end
  end
end

--- Records that `entry` (made by a helper) stands for an entry of `name`
-- called with `params`.
function apis.adopt(entry, name, params)
  origins[entry] = { api = name, params = copy(params or {}) }
end

--- { api =, params = } of an entry this process received, or nil.
function apis.origin(entry)
  return type(entry) == "table" and origins[entry] or nil
end

--- The entry of a fresh answer of `name` that stands for `old`: the one
-- with the same name, or the answer itself when the answer is the entry.
function apis.find(name, data, old)
  local answer = descriptors[name].answer
  if not answer.list then return apis.entries(name, data)[1] end
  local want = answer.name and old[answer.name]
  if want == nil then return nil end
  for _, e in ipairs(apis.entries(name, data)) do
    if e[answer.name] == want then return e end
  end
  return nil
end

-- The API whose answer fields an unknown entry carries best (an entry a
-- caller built or kept from another process): its link field is a string,
-- then the most other fields match.
local function guess(entry)
  local best, score = nil, -1
  for _, name in ipairs(names) do
    local a = descriptors[name].answer
    if a.link and type(entry[a.link]) == "string" then
      local s = 0
      for _, f in ipairs{ a.name, a.size, a.mtime, a.expires } do
        if entry[f] ~= nil then s = s + 1 end
      end
      if s > score then best, score = name, s end
    end
  end
  return best
end

local MAX_EXACT = 2 ^ 53

-- A size the service reported: a whole number >= 0 (or, in bytes, a
-- decimal string).  Returns the number, or nil for anything else.
local function size_value(v, unit)
  if type(v) == "string" and unit == "B" and v:match("^%d+$") and #v <= 16 then
    v = tonumber(v)
  end
  if type(v) ~= "number" or v ~= v or v < 0 or v >= MAX_EXACT or v ~= math.floor(v) then
    return nil
  end
  return v
end

--- What an entry says about its file, from its API's descriptor:
-- { api, url, name, exact (bytes), kb (size in KB, rounded by the
-- service), mtime, expires (epoch seconds), growing (the descriptor says
-- the file may still grow) }; fields the entry lacks are
-- nil.  nil, err ("api", field = the size field) when the size is there
-- but is not a size: service data never makes hcdl guess or raise.
function apis.describe(entry)
  if type(entry) ~= "table" then return nil end
  local origin = origins[entry]
  local name = origin and origin.api or guess(entry)
  if not name then return {} end
  local a = descriptors[name].answer
  local info = { api = name }
  if a.link then info.url = entry[a.link] end
  if a.name then info.name = entry[a.name] end
  if a.size and entry[a.size] ~= nil then
    local n = size_value(entry[a.size], a.size_unit)
    if not n then
      return nil, core.error{ kind = "api", field = a.size, api = name, retryable = false,
        message = ("%s: the service gave %s = %s, which is not a size in %s"):format(
          tostring(info.name), a.size, string.format("%q", tostring(entry[a.size])):sub(1, 40),
          a.size_unit) }
    end
    if a.size_unit == "KB" then info.kb = n else info.exact = n end
  end
  if a.mtime then info.mtime = timefmt.parse(a.mtime_format, entry[a.mtime]) end
  -- the file may still grow: its listed size is a lower bound
  info.growing = a.growing or nil
  if a.expires then info.expires = timefmt.parse("offset", entry[a.expires]) end
  return info
end

--- True when an entry's status says it is done (the descriptor's
-- `finished`, compared case-insensitively: the services differ in case).
function apis.finished(name, entry)
  local a = descriptors[name].answer
  local s = a.status and entry[a.status]
  return type(s) == "string" and a.finished ~= nil and s:lower() == a.finished:lower()
end

--- An entry's modification time (epoch seconds) per its API, or nil.
function apis.mtime(name, entry)
  local a = descriptors[name].answer
  return a.mtime and timefmt.parse(a.mtime_format, entry[a.mtime]) or nil
end

return apis
