#!/usr/bin/env lua
-- The `hcdl` command's Lua entry point.  Run through a launcher that puts
-- hcdl on the module path: bin/hcdl in a checkout, PREFIX/bin/hcdl after
-- `make install`, or the wrapper LuaRocks writes for install.bin.
os.exit(require("hcdl.cli").main(arg))
