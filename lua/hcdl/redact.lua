--- hcdl.redact: the one place secrets are taken out of what hcdl reports
-- (docs/architecture.md "Redaction").
--
-- Every error a public call returns passes through redact.error with the
-- secrets of that call: the client's keys and tokens, the signature the
-- request carried, and for downloads the link's whole query (where the
-- object store's signature lives).  Servers echo things back - a gateway
-- may quote the canonical request or the Authorization header, an object
-- store may copy the query into <Message> - so every string field of the
-- error is cleaned, recursively, not just the message.
--
-- redact.text is the one rule, in one order: the secrets of the list (in
-- every form, longest first), then Authorization values hcdl did not know,
-- then every link's query (core.hide_link_queries, src/redact.c, which C
-- errors use too).  Making text visible and bounding it comes after, when
-- it is printed (hcdl.text.shown; tostring(err) in src/error.c): escaping
-- or cutting first would change a secret so that it could not be found.
local core = require "hcdl.core"

local redact = {}

--- What every secret and every hidden query value becomes.
redact.MARKER = core.REDACT_MARKER
local MASK = redact.MARKER
local MIN = 4 -- shorter strings would mask ordinary words

local function url_decode(s)
  return (s:gsub("%%(%x%x)", function(h) return string.char(tonumber(h, 16)) end))
end

-- Percent-encoding of every byte outside RFC 3986's unreserved set, in
-- upper- or lower-case hex (clients and servers write either).
local function url_encode(s, fmt)
  return (s:gsub("[^%w%-._~]", function(c) return fmt:format(c:byte()) end))
end

local B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"

--- Base64 (RFC 4648, padded): the form of user:password in a Basic header.
function redact.base64(s)
  local out = {}
  for i = 1, #s, 3 do
    local a, b, c = s:byte(i, i + 2)
    local n = a * 65536 + (b or 0) * 256 + (c or 0)
    local chars = {}
    for k = 1, 4 do
      local idx = math.floor(n / 64 ^ (4 - k)) % 64
      chars[k] = B64:sub(idx + 1, idx + 1)
    end
    if not b then chars[3], chars[4] = "=", "=" elseif not c then chars[4] = "=" end
    out[#out + 1] = table.concat(chars)
  end
  return table.concat(out)
end

-- Every form in which a secret s may come back: as given, percent-decoded,
-- percent-encoded (either case; of s as given and decoded), and escaped
-- inside a JSON string (lua-cjson
-- escapes "/", most encoders do not; a quoted debug-line value is the
-- latter).
local function forms(s)
  local decoded = url_decode(s)
  local out = { s, decoded, url_encode(decoded, "%%%02X"), url_encode(decoded, "%%%02x"),
    (decoded:gsub('[\\"/]', "\\%0")), (decoded:gsub('[\\"]', "\\%0")) }
  if decoded ~= s then -- a secret with "%": encoded as it is, too ("%" -> "%25")
    out[#out + 1] = url_encode(s, "%%%02X")
    out[#out + 1] = url_encode(s, "%%%02x")
    out[#out + 1] = (s:gsub('[\\"/]', "\\%0"))
    out[#out + 1] = (s:gsub('[\\"]', "\\%0"))
  end
  return out
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

--- Adds every form of the secret s (see forms).
function redact.add_forms(list, s)
  if type(s) ~= "string" then return list end
  for _, f in ipairs(forms(s)) do list.add(f) end
  return list
end

--- Adds the credentials of a user:password pair in every form, and the
-- Basic header values built from them (base64 of the encoded pair as
-- given and of the decoded one).
function redact.add_credentials(list, user, password)
  redact.add_forms(list, user)
  redact.add_forms(list, password)
  if type(user) == "string" and type(password) == "string" then
    list.add(redact.base64(user .. ":" .. password))
    list.add(redact.base64(url_decode(user) .. ":" .. url_decode(password)))
  end
  return list
end

--- The secrets of a proxy URL ("scheme://user:password@host"): the user
-- and password in every form, and their Basic values; {} without them.
function redact.proxy_secrets(url)
  local list = redact.list()
  if type(url) ~= "string" then return list end
  local userinfo = url:match("^%a[%w+.-]*://([^/?#]*)@") or url:match("^([^/?#:]*:[^/?#]*)@")
  if not userinfo then return list end
  local user, password = userinfo:match("^([^:]*):(.*)$")
  if not user then user = userinfo end
  list.add(userinfo)
  list.add(url_decode(userinfo))
  return redact.add_credentials(list, user, password)
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
      or n == "x-metadata-token" or n == "proxy-authorization" or n == "x-subject-token" then
      list.add(value)
      if type(value) == "string" then
        list.add(value:match("Signature=(%x+)"))
        -- the credential of "Basic <b64>" / "Bearer <token>" alone
        list.add(value:match("^%a+%s+(%S+)$"))
      end
    end
  end
  return list
end

-- Every form (see forms) of every secret of list, each once, longest
-- first, so a secret that contains another is masked whole.  Expanding
-- here, not where secrets are collected, makes every list - the client's,
-- a call's, a download's - mask every form.
local function all_forms(list)
  local out, seen = {}, {}
  for i = 1, #list do
    local secret = list[i]
    if type(secret) == "string" and #secret >= MIN then
      for _, f in ipairs(forms(secret)) do
        if #f >= MIN and not seen[f] then
          seen[f] = true
          out[#out + 1] = f
        end
      end
    end
  end
  table.sort(out, function(a, b) return #a > #b end)
  return out
end

--- Every link in s with its query's values hidden (the one rule: src/redact.h).
redact.links = core.hide_link_queries

-- s with every string of secrets (all_forms) masked, then Authorization
-- values, then every link's query hidden.
local function mask(s, secrets)
  if type(s) ~= "string" then return s end
  for _, secret in ipairs(secrets) do
    local i, j = s:find(secret, 1, true)
    while i do
      s = s:sub(1, i - 1) .. MASK .. s:sub(j + 1)
      i, j = s:find(secret, i + #MASK, true)
    end
  end
  -- an (Proxy-)Authorization header echoed with a value hcdl did not know
  -- of: "Authorization: Basic dXNlcjpwYXNz", "authorization": "Bearer x"
  s = s:gsub("([Aa][Uu][Tt][Hh][Oo][Rr][Ii][Zz][Aa][Tt][Ii][Oo][Nn][\"']?%s*[:=]%s*[\"']?%a+%s+)[%w+/=._~-]+",
    "%1" .. MASK)
  -- a link that slipped through keeps its path and ids, never its signature
  return core.hide_link_queries(s)
end

--- s with every secret of list (may be nil) masked in every form, then
-- every link's query hidden; non-strings are returned as they are.
function redact.text(s, list)
  if type(s) ~= "string" then return s end
  return mask(s, all_forms(list or {}))
end

--- Bounds, in bytes, of an error's message once cleaned: a service may
-- send megabytes (an IAM list of 200,000 projects).
redact.MESSAGE_MAX = 1000

local function bound(s)
  if #s <= redact.MESSAGE_MAX then return s end
  local cut = redact.MESSAGE_MAX
  -- not inside a UTF-8 sequence
  while cut > 1 and s:byte(cut + 1) and s:byte(cut + 1) >= 0x80 and s:byte(cut + 1) < 0xC0 do cut = cut - 1 end
  return ("%s\226\128\166 (%d more bytes)"):format(s:sub(1, cut), #s - cut)
end

local function walk(t, secrets, seen, depth)
  if seen[t] or depth > 8 then return end
  seen[t] = true
  for k, v in pairs(t) do
    if type(v) == "string" then
      t[k] = mask(v, secrets)
    elseif type(v) == "table" then
      walk(v, secrets, seen, depth + 1)
    end
  end
end

--- Cleans every string field of err (recursively) in place and bounds its
-- message (after cleaning: a cut secret could not be found); returns err.
function redact.error(err, list)
  if type(err) == "table" then
    walk(err, all_forms(list or {}), {}, 0)
    if type(err.message) == "string" then err.message = bound(err.message) end
  end
  return err
end

return redact
