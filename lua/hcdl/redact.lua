--- hcdl.redact: the one place secrets are taken out of what hcdl reports.
--
-- Every error a public call returns passes through redact.error with the
-- secrets of that call: the client's keys and tokens, the signature the
-- request carried, and for downloads the link's whole query (where the
-- object store's signature lives).  Servers echo things back - a gateway
-- may quote the canonical request or the Authorization header, an object
-- store may copy the query into <Message> - so every string field of the
-- error is cleaned, recursively, not just the message.
local redact = {}

local MASK = "<redacted>"
local MIN = 4 -- shorter strings would mask ordinary words

local function url_decode(s)
  return (s:gsub("%%(%x%x)", function(h) return string.char(tonumber(h, 16)) end))
end

--- A secrets list: add(s) ignores nil, non-strings and very short strings.
function redact.list(...)
  local list = {}
  local function add(s)
    if type(s) == "string" and #s >= MIN then list[#list + 1] = s end
  end
  for i = 1, select("#", ...) do add((select(i, ...))) end
  list.add = add
  return list
end

--- Adds what a link carries that must not be shown: its query string
-- (raw and decoded) and each value in it.
function redact.add_link(list, url)
  if type(url) ~= "string" then return list end
  local query = url:match("%?(.*)$")
  if not query then return list end
  query = query:gsub("#.*$", "")
  list.add(query)
  list.add(url_decode(query))
  for value in query:gmatch("=([^&]*)") do
    list.add(value)
    list.add(url_decode(value))
    list.add((url_decode(value):gsub("%+", " ")))
  end
  return list
end

--- Adds the credentials a request spec carries in its headers.
function redact.add_request(list, spec)
  local h = type(spec) == "table" and type(spec.headers) == "table" and spec.headers or {}
  for name, value in pairs(h) do
    local n = type(name) == "string" and name:lower() or ""
    if n == "authorization" or n == "x-auth-token" or n == "x-security-token"
      or n == "x-metadata-token" or n == "proxy-authorization" then
      list.add(value)
      if n == "authorization" and type(value) == "string" then
        list.add(value:match("Signature=(%x+)"))
      end
    end
  end
  return list
end

-- Longest first, so a secret that contains another is masked whole.
local function sorted(list)
  local s = {}
  for i = 1, #list do s[i] = list[i] end
  table.sort(s, function(a, b) return #a > #b end)
  return s
end

--- s with every secret masked.
function redact.text(s, list)
  if type(s) ~= "string" then return s end
  for _, secret in ipairs(sorted(list)) do
    local i, j = s:find(secret, 1, true)
    while i do
      s = s:sub(1, i - 1) .. MASK .. s:sub(j + 1)
      i, j = s:find(secret, i + #MASK, true)
    end
  end
  -- a link that slipped through keeps its path, never its query
  s = s:gsub("(https?://[^%s\"'<>?]+)%?([^%s\"'<>]*)", function(base, query)
    if query ~= "" then return base .. "?<query hidden>" end
  end)
  return s
end

local function walk(t, list, seen, depth)
  if seen[t] or depth > 8 then return end
  seen[t] = true
  for k, v in pairs(t) do
    if type(v) == "string" then
      t[k] = redact.text(v, list)
    elseif type(v) == "table" then
      walk(v, list, seen, depth + 1)
    end
  end
end

--- Cleans every string field of err (recursively) in place; returns err.
function redact.error(err, list)
  if type(err) == "table" then walk(err, list, {}, 0) end
  return err
end

return redact
