--- hcdl.host: how the current call may wait, chosen per call.
--
-- Every transfer runs on a thread hcdl.core owns; what differs between
-- hosts is only how the calling code waits for it:
--
--   plain Lua, and Neovim or nginx where yielding is impossible but blocking
--   is safe: block on the ticket (a condition variable, woken at once);
--   nginx request and timer phases: poll between short ngx.sleep()s, which
--   yield to nginx's event loop;
--   a task started by hcdl.async inside Neovim: yield the task's coroutine;
--   a libuv timer polls, and vim.schedule resumes the task on the main loop,
--   where vim.api may be called.
--
-- A host is { name, sleep(s), now(), wait(w, timeout) -> ready }, where w
-- has :ready() and :wait(seconds).  Nothing here indexes `ngx` or `vim` at
-- require time.
local core = require "hcdl.core"

local host = {}

--- Plain Lua: block the thread.
host.plain = {
  name = "plain",
  sleep = core.sleep,
  now = core.now,
  wait = function(w, timeout) return w:wait(timeout) end,
}

-- nginx phases where ngx.sleep may yield, and phases where blocking is safe
-- because no request is being served yet.
local NGX_YIELDS = { rewrite = true, access = true, content = true, timer = true,
  ssl_cert = true, ssl_session_fetch = true, ssl_client_hello = true }
local NGX_MAY_BLOCK = { init = true, init_worker = true }

local ngx_host
local function make_ngx_host(ngx)
  return {
    name = "ngx",
    sleep = function(s) ngx.sleep(s) end,
    now = core.now,
    wait = function(w, timeout)
      if w:ready() then return true end
      local deadline, step = core.now() + timeout, 0.001
      while true do
        local left = deadline - core.now()
        if left <= 0 then return w:ready() end
        -- nginx's timers have millisecond resolution (sleep(0) only yields)
        ngx.sleep(math.max(0.001, math.min(step, left)))
        if w:ready() then return true end
        step = math.min(step * 2, 0.02)
      end
    end,
  }
end

-- Tasks started by hcdl.async in Neovim, by coroutine.
local tasks = setmetatable({}, { __mode = "k" })

local nvim_host
local function make_nvim_host(vim)
  local uv = vim.loop
  -- Suspends the running task until `arm(wake)` calls wake (from any luv
  -- callback); the task resumes on the main loop.
  local function suspend(arm)
    local co = coroutine.running()
    local task = tasks[co]
    arm(function() vim.schedule(function() task.resume() end) end)
    return coroutine.yield()
  end
  return {
    name = "nvim",
    now = core.now,
    sleep = function(s)
      suspend(function(wake)
        local timer = uv.new_timer()
        timer:start(math.max(0, math.floor(s * 1000 + 0.5)), 0, function()
          timer:close()
          wake()
        end)
      end)
    end,
    wait = function(w, timeout)
      if w:ready() then return true end
      local limit = uv.now() + math.floor(timeout * 1000 + 0.5)
      suspend(function(wake)
        local timer = uv.new_timer()
        -- a fast callback: only our C ready() is called here
        timer:start(2, 5, function()
          if w:ready() or uv.now() >= limit then
            timer:stop()
            timer:close()
            wake()
          end
        end)
      end)
      return w:ready()
    end,
  }
end

local function ngx_global()
  local ngx = rawget(_G, "ngx")
  if type(ngx) == "table" and type(ngx.get_phase) == "function" then return ngx end
end

local function nvim_global()
  local vim = rawget(_G, "vim")
  if type(vim) == "table" and type(vim.loop) == "table" and type(vim.schedule) == "function" then
    return vim
  end
end

--- The host for a call made now: a host, or nil, err (an nginx phase that
-- can neither yield nor block).
function host.current()
  local co = coroutine.running()
  if co and tasks[co] then return tasks[co].host end
  local ngx = ngx_global()
  if ngx then
    local phase = ngx.get_phase()
    if NGX_YIELDS[phase] then
      ngx_host = ngx_host or make_ngx_host(ngx)
      return ngx_host
    end
    if not NGX_MAY_BLOCK[phase] then
      return nil, core.error{ kind = "input", field = "phase", phase = phase,
        message = ("hcdl cannot wait in nginx's %s phase: it can neither yield there nor "
          .. "block the worker; run the call from a timer (ngx.timer.at) or use hcdl.async"):format(phase) }
    end
  end
  return host.plain
end

local function traceback(err)
  if type(err) == "string" then return debug.traceback(err, 2) end
  return err
end

--- hcdl.async(fn, on_done): runs fn in a coroutine and returns at once;
-- every hcdl call inside lets the host's loop run while it waits.
-- on_done(true, first result) or on_done(false, error).
function host.async(fn, on_done)
  if type(fn) ~= "function" then error("hcdl.async(fn, on_done): fn must be a function", 2) end
  if on_done ~= nil and type(on_done) ~= "function" then
    error("hcdl.async(fn, on_done): on_done must be a function", 2)
  end
  local finish = function(ok, value) if on_done then on_done(ok, value) end end
  local vim = nvim_global()
  if vim then
    nvim_host = nvim_host or make_nvim_host(vim)
    local co = coroutine.create(fn)
    local task = { host = nvim_host }
    tasks[co] = task
    task.resume = function(...)
      local ok, value = coroutine.resume(co, ...)
      if coroutine.status(co) == "dead" then
        tasks[co] = nil
        if not ok and type(value) == "string" then value = debug.traceback(co, value) end
        finish(ok, value)
      end
    end
    vim.schedule(function() task.resume() end)
    return
  end
  local ngx = ngx_global()
  if ngx then
    -- a light thread where the request can yield, else a timer (which can)
    local run = function()
      local ok, value = xpcall(fn, traceback)
      finish(ok, value)
    end
    if NGX_YIELDS[ngx.get_phase()] then
      ngx.thread.spawn(run)
    else
      local ok, err = ngx.timer.at(0, run)
      if not ok then finish(false, "hcdl.async: cannot start a timer: " .. tostring(err)) end
    end
    return
  end
  -- plain Lua: no loop to keep running; run to the end
  local ok, value = xpcall(fn, traceback)
  finish(ok, value)
end

return host
