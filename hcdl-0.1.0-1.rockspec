-- hcdl 0.1.0, the release.  Generated from hcdl-scm-1.rockspec by
-- tools/make-release-rockspec (make release-rockspec); edit that one.
-- Offline on Debian, from build/dist after `make dist`:
--   LUAROCKS_CONFIG=../../tools/luarocks-debian.lua luarocks --lua-version=5.4 install hcdl-0.1.0-1.src.rock
rockspec_format = "3.0"
package = "hcdl"
version = "0.1.0-1"
source = {
  -- the archive of tag v0.1.0 that `make dist` makes (git archive
  -- --prefix=hcdl-0.1.0/); build/dist holds it, this rockspec and the
  -- source rock.  Publishing it elsewhere changes this url, nothing else.
  url = "hcdl-0.1.0.tar.gz",
  dir = "hcdl-0.1.0",
  tag = "v0.1.0",
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
