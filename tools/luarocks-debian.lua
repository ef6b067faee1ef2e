-- LuaRocks configuration for building hcdl offline on Debian: the
-- dependencies are Debian packages, not rocks, so tell LuaRocks they exist.
rocks_provided = {
  ["lua-cjson"] = "2.1.0-1",
}
