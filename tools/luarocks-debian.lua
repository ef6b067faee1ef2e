-- LuaRocks configuration for building hcdl offline on Debian: the
-- dependencies are Debian packages (lua-cjson, lua-argparse), not rocks,
-- so tell LuaRocks they exist.
--   LUAROCKS_CONFIG=tools/luarocks-debian.lua luarocks --lua-version=5.4 make hcdl-scm-1.rockspec
rocks_provided = {
  ["lua-cjson"] = "2.1.0-1",
  argparse = "0.7.1-1",
}
-- LuaJIT has the 5.1 ABI but its own interpreter and headers: with
-- --lua-version=5.1, HCDL_LUAJIT=1 builds (and wraps bin/hcdl) for LuaJIT.
if os_getenv("HCDL_LUAJIT") == "1" then
  lua_interpreter = "luajit"
  variables.LUA_INCDIR = "/usr/include/luajit-2.1"
end
