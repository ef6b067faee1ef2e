--- hcdl.transport: how a request spec reaches the network, and how the
-- caller waits for it.
--
-- Everything in hcdl that waits or loops is written straight-line over a
-- small table:
--
--   { name, send = function(spec, timeout) -> res | nil, err,
--     call = function(api, params, auth, timeout) -> data | nil, err, request
--            (only where requests run on the client's engine: one crossing
--            into C to build, sign and start, one to read the answer),
--     sleep = function(seconds), now = function() -> monotonic seconds,
--     wait = function(waitable, timeout) -> ready, pool = <engine pool> }
--
-- Requests run on the client's transfer engine (hcdl.core: a thread with
-- a curl multi handle and the client's connection pool); the host
-- (hcdl.host) decides how this call waits: blocking, ngx.sleep, or a
-- Neovim task's yield.  A transport is chosen per call, never fixed at the
-- client's first use.
local core = require "hcdl.core"
local host_mod = require "hcdl.host"

local NET_ROWS = {}
for _, row in ipairs(core.options()) do
  if row.scope ~= "transfer" then NET_ROWS[#NET_ROWS + 1] = row end
end

local transport = {}

--- The client settings that shape every transfer: the per-client rows of
-- hcdl.core's option table (src/options.h), read there by the engine.
function transport.net_options(cfg)
  local net = {}
  for _, row in ipairs(NET_ROWS) do net[row.name] = cfg[row.name] end
  return net
end

-- What tells two clients' engines apart inside nginx's threads: every
-- network option, in the table's order.
local function engine_key(net)
  local parts = {}
  for i, row in ipairs(NET_ROWS) do parts[i] = tostring(net[row.name]) end
  return table.concat(parts, "|")
end

--- A pool: the client's engine, one per process (a forked child never
-- shares its parent's connections or thread).
function transport.pool(cfg)
  local pool = {}
  function pool.engine()
    local pid = core.pid()
    if not pool.e or pool.pid ~= pid then
      local e, err = core.engine(transport.net_options(cfg))
      if not e then return nil, err end
      pool.e, pool.pid = e, pid
    end
    return pool.e
  end
  function pool.close()
    if pool.e and pool.pid == core.pid() then pool.e:close() end
    pool.e = nil
  end
  return pool
end

--- Waits for a ticket through the host; its result table.
function transport.await(h, ticket)
  while not h.wait(ticket, 3600) do end
  return ticket:result()
end

-- An API call on the client's engine: built, signed and started by one C
-- call, waited for through the host, its answer read by another.
-- The engine made earlier is used as it is: core.call itself refuses an
-- engine from before a fork, and only then is the process asked for its id
-- (pool.engine), so a call costs no getpid of its own.
local function engine_call(pool, h, cfg)
  return function(api, params, auth, timeout)
    local e, err = pool.e
    if not e then
      e, err = pool.engine()
      if not e then return nil, err end
    end
    local ticket, serr = core.call(e, api, params, auth, timeout, cfg.max_body)
    if not ticket then
      -- a forked child: its own engine, then the call once more
      local own = pool.engine()
      if own == nil or own == e then return nil, serr end
      ticket, serr = core.call(own, api, params, auth, timeout, cfg.max_body)
      if not ticket then return nil, serr end
    end
    while not h.wait(ticket, 3600) do end
    return core.answer(ticket)
  end
end

local function request_of(spec, timeout, cfg)
  return {
    method = spec.method, url = spec.url, headers = spec.headers,
    body = spec.body, -- sent or not by src/method.c's rule
    timeout = timeout, max_body = cfg.max_body,
  }
end

-- A request on the client's engine, waited for through the host.
local function engine_send(pool, h, cfg)
  return function(spec, timeout)
    local e, err = pool.engine()
    if not e then return nil, err end
    local ticket, serr = e:start(request_of(spec, timeout, cfg))
    if not ticket then return nil, serr end
    local r = transport.await(h, ticket)
    if r.error then return nil, r.error end
    return { status = r.status, headers = r.headers, body = r.body }
  end
end

-- In nginx, an API request in one of nginx's worker threads: nginx resumes
-- the request when it returns (hcdl.ngx_worker).  The pool is the one
-- nginx.conf declares with `thread_pool hcdl threads=N;` (cfg.thread_pool
-- names another).  Without it the engine's polled path takes over: calls
-- still never block, but each waits at least one of nginx's 1 ms timers.
local function ngx_thread_send(fallback, cfg)
  local ngx = rawget(_G, "ngx")
  if type(ngx) ~= "table" or type(ngx.run_worker_thread) ~= "function" then return fallback end
  local pool_name = cfg.thread_pool or "hcdl"
  local net = transport.net_options(cfg)
  local key = engine_key(net)
  local unusable = false
  return function(spec, timeout)
    if unusable then return fallback(spec, timeout) end
    local ok, res, err = ngx.run_worker_thread(pool_name, "hcdl.ngx_worker", "perform",
      request_of(spec, timeout, cfg), net, key)
    if not ok then
      unusable = true -- no such pool (or threads): poll the engine instead
      return fallback(spec, timeout)
    end
    if res == nil then
      err = type(err) == "table" and err or { message = tostring(err) }
      err.kind = err.kind or "network"
      return nil, core.error(err)
    end
    return res
  end
end

--- A transport for host h over pool.  cfg may override sleep and now.
function transport.new(pool, h, cfg)
  local t = { name = h.name, host = h, pool = pool, wait = h.wait,
    sleep = cfg.sleep or h.sleep, now = cfg.now or h.now }
  t.send = engine_send(pool, h, cfg)
  -- in nginx, API requests go to nginx's worker threads, as specs
  if h.name == "ngx" then t.send = ngx_thread_send(t.send, cfg) else t.call = engine_call(pool, h, cfg) end
  t.close = pool.close
  return t
end

--- A blocking transport of its own (scripts and tests that want one
-- without a client).  opts: the client's network options, max_body.
function transport.curl(opts)
  opts = opts or {}
  return transport.new(transport.pool(opts), host_mod.plain, opts)
end

return transport
