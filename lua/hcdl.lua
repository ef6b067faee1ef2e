--- hcdl: temporary download links from Huawei Cloud / Open Telekom Cloud
-- database services, and the downloads behind them.
--
-- This file is the public entry point.  The C module `hcdl.core` does the
-- signing, HTTP and JSON; the modules under hcdl/ hold policy only
-- (configuration, retries, pagination, polling).  See README.md.
local core = require "hcdl.core"

local hcdl = {
  _VERSION = core.version,
  version = core.version,
}

--- Signs a request with SDK-HMAC-SHA256, byte-identical to the official SDKs.
-- req: { method, host, path, query, headers, body, ak, sk, date? }
-- Returns a table { authorization, signature, signed_headers,
-- canonical_request, string_to_sign, query_string, path, date, method,
-- headers } or nil, err (err.kind == "input", err.field names the field).
hcdl.sign = core.sign

--- Builds an hcdl error table (kind, message, status, code, request_id, ...).
hcdl.error = core.error

--- True when v is an hcdl error table.
hcdl.is_error = core.is_error

--- A JSON null inside an array of a service's answer (null fields of
-- objects are simply absent).
hcdl.null = require("hcdl.json").null

--- hcdl.async(fn, on_done): starts fn in a coroutine and returns at once.
-- Inside it every hcdl call lets the host's event loop run while it waits
-- (Neovim: code after each call, progress callbacks and on_done run on the
-- main loop, where vim.api may be called).  on_done(ok, result_or_error).
-- In plain Lua it runs fn to the end.
function hcdl.async(fn, on_done)
  return require("hcdl.host").async(fn, on_done)
end

--- Creates a client: hcdl.new{ region =, project_id =, ak =, sk = } (see
-- README for every option).  Returns the client, or nil, err.
function hcdl.new(user_config)
  local cfg, err = require("hcdl.config").resolve(user_config)
  if not cfg then return nil, err end
  return require("hcdl.client").new(cfg)
end

return hcdl
