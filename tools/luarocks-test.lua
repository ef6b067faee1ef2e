-- `luarocks test`: the busted suite (`make test`) on the interpreter
-- LuaRocks runs this script with, so each --lua-version tests its own build.
local lua = arg and arg[-1]
if type(lua) ~= "string" or lua == "" then
  io.stderr:write("luarocks-test: run me with a Lua interpreter\n")
  os.exit(2)
end
local extra = {}
for i = 1, #arg do extra[#extra + 1] = arg[i] end
local cmd = ("make --no-print-directory test LUA='%s' BUSTED_ARGS='%s'"):format(lua, table.concat(extra, " "))
local ok, how, code = os.execute(cmd)
if type(ok) == "number" then code = ok / 256 elseif ok then code = 0 else code = code or 1 end
os.exit(code == 0 and 0 or 1)
