--- hcdl.debuglog: one line per request and per answer, for the 3 a.m.
-- investigation, with nothing secret in it.
--
-- Enabled by the client config's `debug = function(line)`, or by
-- HCDL_DEBUG=1 (lines go to stderr).  A line is key=value words:
--
--   hcdl event=request api=show_backup_download_link method=GET host=rds.cn-north-4.myhuaweicloud.com
--        path=/v3/<project>/backup-files query=backup_id=... attempt=1 retries=4
--   hcdl event=answer ... status=200 request_id=5c2... seconds=0.042 attempt=1 retries=4
--   hcdl event=error ... kind=network curl_code=7 message="..." seconds=0.001
--
-- Headers and bodies are never written (so no Authorization, security
-- token or X-Auth-Token).  Query values are written only for parameters
-- known to be harmless; every other value (a link's Signature,
-- AWSAccessKeyId, x-obs-security-token, anything unknown) is <redacted>
-- (the one rule of hcdl.redact, src/redact.h).  Free text (error messages)
-- has every secret the client knows replaced.  A line is built raw, then
-- cleaned, made visible and cut as a whole (text.shown): escaping a value
-- first could change a secret in it so that it is no longer found.
--
-- The download engine emits its own lines with debuglog.emit(cfg, event).
local redact = require "hcdl.redact"
local text = require "hcdl.text"

local debuglog = {}

--- The longest line written, in characters (text.visible cuts the rest).
debuglog.LINE_MAX = 4000

--- The sink for a resolved config: the user's function, else stderr when
-- HCDL_DEBUG is set to anything but "" or "0", else nil (off).
function debuglog.sink(user_fn, getenv)
  if user_fn then return user_fn end
  local v = (getenv or os.getenv)("HCDL_DEBUG")
  if v and v ~= "" and v ~= "0" then
    return function(line) io.stderr:write(line, "\n") end
  end
  return nil
end

--- Wraps a sink so that no string of `secrets` (a list the owner may grow
-- later) ever reaches it; the line is cut to LINE_MAX after cleaning (a cut
-- secret could not be found).
function debuglog.scrubbing(sink, secrets)
  if not sink then return nil end
  return function(line)
    return sink(text.shown(line, debuglog.LINE_MAX, secrets))
  end
end

--- Splits a URL into host (with port) and path, and the redacted query.
-- User information (user:password@) is dropped.
function debuglog.split_url(url)
  if type(url) ~= "string" then return "?", "?", nil end
  local rest = url:match("^%a[%w+.-]*://(.*)$") or url
  local authority, path = rest:match("^([^/?#]*)(.*)$")
  authority = authority:gsub("^.*@", "")
  local p, q = path:match("^([^?#]*)%??([^#]*)")
  if p == "" then p = "/" end
  if q == "" then return authority, p, nil end
  -- the one rule for a link's query (hcdl.redact), on "/?<query>"
  return authority, p, redact.links("/?" .. q):sub(3)
end

-- A value as one word: quoted, with \ and " escaped, when it has spaces,
-- quotes or control bytes (the sink makes the line visible after cleaning
-- it: debuglog.scrubbing).  A quoted secret is in a form hcdl.redact knows.
local function word(v)
  v = tostring(v)
  if v:find('[%s%c"]') or v == "" then
    return '"' .. v:gsub('[\\"]', "\\%0") .. '"'
  end
  return v
end

--- Formats one event as a line.  event: { event=, api=, method=, url=,
-- status=, request_id=, seconds=, attempt=, retries=, endpoint=, note=,
-- err= (an hcdl error), bytes= }.
function debuglog.format(ev)
  local host, path, query = debuglog.split_url(ev.url)
  -- when, to the second in UTC: a cron job's log lines are read hours later
  local out = { "hcdl", "time=" .. os.date("!%Y-%m-%dT%H:%M:%SZ"), "event=" .. word(ev.event or "note") }
  local function add(k, v)
    if v ~= nil and v ~= "" then out[#out + 1] = k .. "=" .. word(v) end
  end
  add("api", ev.api)
  add("method", ev.method)
  if ev.url then
    add("host", host)
    add("path", path)
    add("query", query)
  end
  add("status", ev.status)
  add("request_id", ev.request_id)
  if ev.err then
    add("kind", ev.err.kind)
    add("curl_code", ev.err.curl_code)
    add("code", ev.err.code)
    add("message", ev.err.message)
  end
  if type(ev.seconds) == "number" then add("seconds", ("%.3f"):format(ev.seconds)) end
  add("bytes", ev.bytes)
  add("attempt", ev.attempt)
  add("retries", ev.retries)
  add("endpoint", ev.endpoint)
  add("note", ev.note)
  return table.concat(out, " ")
end

--- Writes one event through cfg.debug (a resolved client config; nothing
-- happens when debugging is off); secrets (a hcdl.redact list, optional):
-- what the caller knows beyond the client's secrets.
function debuglog.emit(cfg, ev, secrets)
  local sink = cfg and cfg.debug
  if not sink then return end
  -- the line is raw here: cleaned of the caller's own secrets (a
  -- download's links) before the sink cleans, escapes and cuts it
  sink(secrets and redact.text(debuglog.format(ev), secrets) or debuglog.format(ev))
end

--- Sends spec through t with a line before and one after.  info: { api=,
-- attempt=, retries=, endpoint= }.  Returns what t.send returns.
function debuglog.send(cfg, t, spec, timeout, info)
  if not (cfg and cfg.debug) then return t.send(spec, timeout) end
  info = info or {}
  local base = { api = info.api, method = spec.method, url = spec.url,
    attempt = info.attempt, retries = info.retries, endpoint = info.endpoint }
  local function event(name, extra)
    local ev = { event = name }
    for k, v in pairs(base) do ev[k] = v end
    for k, v in pairs(extra or {}) do ev[k] = v end
    return ev
  end
  debuglog.emit(cfg, event("request"))
  local started = t.now()
  local res, err = t.send(spec, timeout)
  local seconds = t.now() - started
  if res then
    local h = res.headers or {}
    debuglog.emit(cfg, event("answer", { status = res.status, seconds = seconds,
      request_id = h["x-request-id"] or h["x-iam-trace-id"] or h["x-obs-request-id"] }))
  else
    debuglog.emit(cfg, event("error", { err = err, seconds = seconds }))
  end
  return res, err
end

return debuglog
