-- LuaRocks build of hcdl.  Offline with Debian's packages:
--   luarocks --lua-version=5.4 make hcdl-scm-1.rockspec
-- with lua-cjson provided by Debian (declare it in rocks_provided, see
-- tools/luarocks-debian.lua).  libcurl and OpenSSL come from Debian's
-- libcurl4-openssl-dev and libssl-dev; there is deliberately no header
-- check for them (Debian keeps curl's headers in a multiarch directory
-- LuaRocks does not search).
rockspec_format = "3.0"
package = "hcdl"
version = "scm-1"
source = {
  url = "git+file:///hcdl",   -- no public home yet: build from a checkout with `luarocks make`
}
description = {
  summary = "Temporary download links from Huawei Cloud and Open Telekom Cloud database services, and the downloads behind them",
  detailed = [[
hcdl signs requests with SDK-HMAC-SHA256 (byte-identical to the official
SDKs) in a small C core over libcurl and OpenSSL, calls the TaurusDB, RDS,
DCS and RDS for PostgreSQL link APIs, and downloads what they point at.
]],
  license = "MIT",
}
dependencies = {
  "lua >= 5.1",
  "lua-cjson",
}
build = {
  type = "builtin",
  modules = {
    ["hcdl.core"] = {
      sources = { "src/hcdl.c", "src/sign.c", "src/error.c", "src/arena.c",
                  "src/buf.c", "src/http.c", "src/transfer.c", "src/engine.c",
                  "src/thread.c", "src/task.c", "src/digest.c", "src/api.c",
                  "src/clock.c", "src/fileio.c" },
      libraries = { "curl", "crypto", "pthread" },
      defines = { 'HCDL_VERSION="0.1.0"' },
    },
    hcdl = "lua/hcdl.lua",
    ["hcdl.apis"] = "lua/hcdl/apis.lua",
    ["hcdl.auth"] = "lua/hcdl/auth.lua",
    ["hcdl.backups"] = "lua/hcdl/backups.lua",
    ["hcdl.client"] = "lua/hcdl/client.lua",
    ["hcdl.config"] = "lua/hcdl/config.lua",
    ["hcdl.credentials.chain"] = "lua/hcdl/credentials/chain.lua",
    ["hcdl.credentials.config"] = "lua/hcdl/credentials/config.lua",
    ["hcdl.credentials.env"] = "lua/hcdl/credentials/env.lua",
    ["hcdl.credentials.federation"] = "lua/hcdl/credentials/federation.lua",
    ["hcdl.credentials.flight"] = "lua/hcdl/credentials/flight.lua",
    ["hcdl.credentials.holder"] = "lua/hcdl/credentials/holder.lua",
    ["hcdl.credentials.metadata"] = "lua/hcdl/credentials/metadata.lua",
    ["hcdl.credentials.password"] = "lua/hcdl/credentials/password.lua",
    ["hcdl.credentials.pod"] = "lua/hcdl/credentials/pod.lua",
    ["hcdl.credentials.profile"] = "lua/hcdl/credentials/profile.lua",
    ["hcdl.credentials.temporary"] = "lua/hcdl/credentials/temporary.lua",
    ["hcdl.debuglog"] = "lua/hcdl/debuglog.lua",
    ["hcdl.download"] = "lua/hcdl/download.lua",
    ["hcdl.endpoints"] = "lua/hcdl/endpoints.lua",
    ["hcdl.entry"] = "lua/hcdl/entry.lua",
    ["hcdl.host"] = "lua/hcdl/host.lua",
    ["hcdl.iam"] = "lua/hcdl/iam.lua",
    ["hcdl.json"] = "lua/hcdl/json.lua",
    ["hcdl.pages"] = "lua/hcdl/pages.lua",
    ["hcdl.poll"] = "lua/hcdl/poll.lua",
    ["hcdl.regions"] = "lua/hcdl/regions.lua",
    ["hcdl.redact"] = "lua/hcdl/redact.lua",
    ["hcdl.retry"] = "lua/hcdl/retry.lua",
    ["hcdl.sync"] = "lua/hcdl/sync.lua",
    ["hcdl.timefmt"] = "lua/hcdl/timefmt.lua",
    ["hcdl.transport"] = "lua/hcdl/transport.lua",
  },
}
