-- LuaRocks build of hcdl from a checkout.  Offline on Debian, with Debian's
-- lua-cjson and lua-argparse (tools/luarocks-debian.lua declares them):
--   LUAROCKS_CONFIG=tools/luarocks-debian.lua luarocks --lua-version=5.4 make hcdl-scm-1.rockspec
--   (LuaJIT: HCDL_LUAJIT=1 and --lua-version=5.1)
--   luarocks pack hcdl scm-1          a binary rock, from the tree it went into
--   luarocks lint hcdl-scm-1.rockspec
--   luarocks test hcdl-scm-1.rockspec the busted suite (`make test` on the rock's Lua)
-- `make rock` does the first two into build/.  The module is built by the
-- Makefile, with its flags (-fvisibility=hidden, warnings as errors), in
-- build/luarocks, never next to the sources.  There is deliberately no
-- header check for libcurl and OpenSSL (Debian's libcurl4-openssl-dev and
-- libssl-dev; curl's headers sit in a multiarch directory LuaRocks does not
-- search).  The release rockspec is hcdl-<version>-1.rockspec.
rockspec_format = "3.0"
package = "hcdl"
version = "scm-1"
source = {
  -- no public repository yet: `luarocks pack` of this rockspec would clone
  -- it; build from a checkout with `luarocks make`
  url = "git+file:///hcdl",
}
description = {
  summary = "Temporary download links from Huawei Cloud and Open Telekom Cloud database services, and the downloads behind them",
  detailed = [[
hcdl signs requests with SDK-HMAC-SHA256 (byte-identical to the official
SDKs) in a small C core over libcurl and OpenSSL, calls the TaurusDB, RDS,
DCS and RDS for PostgreSQL link APIs, and downloads what they point at.
The hcdl command lists and downloads from a shell or cron.
]],
  license = "MIT",
}
dependencies = {
  "lua >= 5.1",
  "lua-cjson",
  "argparse",
}
build = {
  type = "make",
  build_target = "luarocks-build",
  install_target = "install-lib",
  variables = {
    LUA = "$(LUA)",
    LUA_INC = "$(LUA_INCDIR)",
    BUILD = "build/luarocks",
    CFLAGS = "$(CFLAGS)",
  },
  install_variables = {
    LUADIR = "$(LUADIR)",
    LIBDIR = "$(LIBDIR)",
  },
  install = {
    bin = { hcdl = "bin/hcdl.lua" },
  },
}
test = {
  type = "command",
  script = "tools/luarocks-test.lua",
}
