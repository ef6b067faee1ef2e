--- hcdl.credentials.chain: where a client's credentials come from, the
-- first provider that has them winning.
--
-- The chain is a list of provider modules, `hcdl.new{ credentials = {
-- providers = { ... } } }`, each entry a module name (required) or a
-- table.  Without that option it is chain.DEFAULT: the config table, the
-- environment, the profile file, ECS metadata, CCE pod identity.
--
-- A provider is a table:
--
--   name       a short label, used in messages ("no credentials found;
--              <name>: <why>; ...") and tostring(client)
--   network    true when finding out whether it has keys needs the
--              network.  hcdl.new does no I/O, so such a provider is asked
--              at the first API call (and when its keys are due), never
--              by hcdl.new; a host that cannot do I/O in some phase (for
--              example OpenResty's init) can tell which providers would
--              block from client:credential_providers().
--   get(ctx [, net])
--              returns one of
--                creds       { ak, sk, security_token?, expires_at? } (or
--                            { token } for an IAM token): this provider
--                            wins.  With expires_at (epoch seconds) it is
--                            asked again once fewer than 40 minutes remain.
--                nil [, nil, why]
--                            not configured here: the chain goes on (`why`,
--                            a short text, goes into the "no credentials"
--                            message).
--                nil, err    configured but failing (err: an hcdl error or
--                            a string): at hcdl.new this stops the chain
--                            with that error; at the first call a network
--                            provider's failure moves on to the next one,
--                            and the error when none answers names each.
--              ctx: { cfg (the table given to hcdl.new), getenv (os.getenv
--              or a test's), profile (the profile file, see
--              hcdl.credentials.profile.load), project_scope, state (a
--              table kept for this provider for the client's life) }.
--              net (network providers): { send(spec, timeout, api),
--              secret(s) (a string to keep out of every error and debug
--              line), wall() (epoch seconds), timeout }.
--   available(ctx)  (network providers, optional)
--              true, or nil and why not, without I/O: lets hcdl.new say at
--              once that nothing can give keys (metadata_endpoint = false).
--
-- A provider that is not network may also answer with a fetcher: a table
-- with fetch(net) -> creds | nil, err, run at the first call and again
-- before its keys expire (the config's iam password and OIDC federation
-- work this way; see hcdl.credentials.holder).
--
-- The keys found live in one place: the holder of the client
-- (hcdl.credentials.holder), never copied into the config.
local core = require "hcdl.core"
local redact = require "hcdl.redact"

local chain = {}

--- The default chain, in order (the official SDKs' order, after the
-- config table).
chain.DEFAULT = {
  "hcdl.credentials.config",
  "hcdl.credentials.env",
  "hcdl.credentials.profile",
  "hcdl.credentials.metadata",
  "hcdl.credentials.pod",
}

--- Temporary keys are fetched again once fewer seconds than this remain
-- (40 minutes, as the SDKs do).
chain.MARGIN = 40 * 60

local function input(field, fmt, ...)
  return nil, core.error{ kind = "input", field = field, message = field .. ": " .. fmt:format(...) }
end

-- One entry of the list: the provider table, or nil, err.
local function load(entry, i)
  local field = ("credentials.providers[%d]"):format(i)
  local p = entry
  if type(entry) == "string" then
    local ok, mod = pcall(require, entry)
    if not ok then
      return input(field, "cannot load the module '%s': %s", entry, (tostring(mod):match("^[^\n]*")))
    end
    p = mod
  elseif type(entry) ~= "table" then
    return input(field, "must be a module name or a provider table, got %s", type(entry))
  end
  local what = type(entry) == "string" and ("the module '" .. entry .. "'") or "the table"
  if type(p) ~= "table" or type(p.get) ~= "function" then
    return input(field, "%s is not a credential provider (it needs a get function)", what)
  end
  if type(p.name) ~= "string" or p.name == "" then
    return input(field, "%s needs a name (a string)", what)
  end
  if type(p.network) ~= "boolean" then
    return input(field, "%s needs network = true or false", what)
  end
  if p.available ~= nil and type(p.available) ~= "function" then
    return input(field, "%s: available must be a function", what)
  end
  return p
end

--- The providers of a config, in order: a list of provider tables, or
-- nil, err (kind "input", field "credentials..." ).
function chain.providers(cfg)
  local list = chain.DEFAULT
  local given = cfg.credentials
  if given ~= nil then
    for k in pairs(given) do
      if k ~= "providers" then return input("credentials." .. tostring(k), "unknown option (known: providers)") end
    end
    list = given.providers
    if type(list) ~= "table" then
      return input("credentials.providers", "must be a list of provider modules, got %s", type(list))
    end
    if #list == 0 then return input("credentials.providers", "must list at least one provider") end
    for k in pairs(list) do
      if type(k) ~= "number" or k < 1 or k > #list or k ~= math.floor(k) then
        return input("credentials.providers", "must be a list (keys 1 to n), found the key %s", tostring(k))
      end
    end
  end
  local out, reads_config = {}, given == nil
  for i, entry in ipairs(list) do
    local p, err = load(entry, i)
    if not p then return nil, err end
    out[i] = p
    reads_config = reads_config or p == require("hcdl.credentials.config")
  end
  if not reads_config then
    -- keys given in the table would be ignored without a word
    for _, k in ipairs{ "ak", "sk", "security_token", "token", "iam", "idp_id", "id_token_file" } do
      if cfg[k] ~= nil then
        return input(k, "given, but credentials.providers does not list hcdl.credentials.config, which reads it")
      end
    end
  end
  return out
end

-- A provider's error as an hcdl error.
local function failure(p, err, kind)
  if core.is_error(err) then return err end
  return core.error{ kind = kind, message = ("%s: %s"):format(p.name, tostring(err)) }
end

-- "name: text", unless the text names the provider already.
local function finding(p, text)
  text = tostring(text or "no keys")
  if text:sub(1, #p.name) == p.name then return text end
  return ("%s: %s"):format(p.name, text)
end

local function secrets_of(c)
  local out = {}
  for _, k in ipairs{ "sk", "security_token", "token" } do
    if type(c[k]) == "string" then out[#out + 1] = c[k] end
  end
  return out
end

-- creds checked and copied (only the fields hcdl signs with), or nil, err.
local function checked(p, c)
  local function bad(why)
    return nil, core.error{ kind = "auth", message = ("%s: %s"):format(p.name, why) }
  end
  if type(c.token) == "string" and c.token ~= "" and c.ak == nil then
    return { token = c.token, expires_at = c.expires_at, project_id = c.project_id }
  end
  if type(c.ak) ~= "string" or type(c.sk) ~= "string" or c.sk == "" then
    return bad("answered without ak and sk (strings) or token")
  end
  if not c.ak:match("^[%w%-_]+$") then return bad("the ak must be letters, digits, '-' or '_'") end
  if c.security_token ~= nil and type(c.security_token) ~= "string" then
    return bad("security_token must be a string")
  end
  if c.expires_at ~= nil and type(c.expires_at) ~= "number" then
    return bad("expires_at must be a number (epoch seconds)")
  end
  return { ak = c.ak, sk = c.sk, security_token = c.security_token, expires_at = c.expires_at,
    project_id = c.project_id }
end

-- The holder's source (hcdl.credentials.holder) for what provider p
-- answered, or nil, err.  ask(net) asks p again (for keys that expire).
local function as_source(p, got, ask)
  if type(got) ~= "table" then
    return nil, core.error{ kind = "auth", message = ("%s: answered a %s, not a table"):format(p.name, type(got)) }
  end
  if type(got.fetch) == "function" then
    got.name = got.name or p.name
    got.margin = got.margin or chain.MARGIN
    return got
  end
  local name = type(got.from) == "string" and got.from or p.name
  local c, err = checked(p, got)
  if not c then return nil, err end
  local src = { name = name, secrets = secrets_of(c), key = c.ak }
  if c.expires_at == nil then
    c.project_id = nil
    src.static = c
    return src
  end
  src.margin, src.current = chain.MARGIN, c
  function src.fetch(net)
    local again, aerr = ask(net)
    if again == nil then return nil, aerr and failure(p, aerr, "auth") or failure(p, "answered no keys", "auth") end
    local k, kerr = checked(p, again)
    if not k then return nil, kerr end
    if k.expires_at == nil then return nil, failure(p, "keys that expired were renewed without expires_at", "auth") end
    return k
  end
  return src
end

-- A source that tries the candidates (in the chain's order, from the
-- first network provider on) at the first call and keeps the first that
-- answers.
local function lazy(candidates, findings)
  local names = {}
  for i, c in ipairs(candidates) do names[i] = c.provider.name end
  local src = { name = table.concat(names, " or ") .. " (tried at the first call)", margin = chain.MARGIN }
  local pinned
  local function pin(s, net)
    pinned = s
    src.name, src.margin, src.key, src.static = s.name, s.margin, s.key, s.static
    for _, x in ipairs(s.secrets or {}) do net.secret(x) end
    if s.static then return s.static end
    if s.current then return s.current end
    return s.fetch(net)
  end
  function src.fetch(net)
    if pinned then return pinned.fetch(net) end
    local found, passing = {}, nil
    for i = 1, #findings do found[i] = findings[i] end
    for _, c in ipairs(candidates) do
      local s, err, why = c.source, nil, nil
      if not s then
        local got, gerr
        got, gerr, why = c.provider.get(c.ctx, net)
        if got ~= nil then
          s, err = as_source(c.provider, got, function(n) return c.provider.get(c.ctx, n) end)
        elseif gerr ~= nil then
          err = failure(c.provider, gerr, "auth")
        end
      end
      if s then return pin(s, net) end
      -- a provider that answered with a status src/status.c calls
      -- retryable is there and may recover: the call is tried again; one
      -- that cannot be reached is most likely absent (not on ECS or CCE)
      if err and err.retryable and err.status and not passing then passing = err end
      found[#found + 1] = finding(c.provider, err and err.message or why)
    end
    return nil, core.error{ kind = passing and passing.kind or "auth", status = passing and passing.status,
      retryable = passing ~= nil, message = "no credentials found; " .. table.concat(found, "; ") }
  end
  return src
end

-- A provider's error at hcdl.new, without any secret the config holds (a
-- provider may quote what it was given).
local function clean(err, cfg)
  local list = redact.list()
  for _, k in ipairs{ "sk", "security_token", "token" } do list.add(cfg[k]) end
  if type(cfg.iam) == "table" then list.add(cfg.iam.password) end
  return redact.error(err, list)
end

--- The credential source for a config: a source (see hcdl.credentials.holder)
-- or nil, err.  ctx: { cfg, getenv, profile (hcdl.credentials.profile.load),
-- project_scope }; providers: chain.providers(cfg).  The providers that
-- need no network are asked now; network ones, and those after them, at
-- the first call.
function chain.resolve(ctx, providers)
  local findings, candidates = {}, {}
  for _, p in ipairs(providers) do
    local pctx = { state = {} }
    for k, v in pairs(ctx) do pctx[k] = v end
    if p.network then
      local ok, why = true, nil
      if p.available then ok, why = p.available(pctx) end
      if ok then
        candidates[#candidates + 1] = { provider = p, ctx = pctx }
      else
        findings[#findings + 1] = finding(p, why or "not available")
      end
    else
      local got, err, why = p.get(pctx)
      if got ~= nil then
        local src, serr = as_source(p, got, function() return p.get(pctx) end)
        if not src then return nil, clean(serr, ctx.cfg) end
        if #candidates == 0 then return src end
        candidates[#candidates + 1] = { provider = p, source = src }
        break -- nothing after a provider that answers is ever asked
      elseif err ~= nil then
        return nil, clean(failure(p, err, "auth"), ctx.cfg)
      end
      findings[#findings + 1] = finding(p, why)
    end
  end
  if #candidates == 0 then
    return nil, core.error{ kind = "input", field = "ak",
      message = "no credentials: set ak and sk (or token, iam, idp_id) in the config; "
        .. table.concat(findings, "; ") }
  end
  return lazy(candidates, findings)
end

--- { { name =, network = }, ... } of a list of providers, in order (for
-- client:credential_providers()).
function chain.describe(providers)
  local out = {}
  for i, p in ipairs(providers) do out[i] = { name = p.name, network = p.network } end
  return out
end

return chain
