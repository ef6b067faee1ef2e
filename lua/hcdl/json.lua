--- hcdl.json: JSON for the Lua layer.  lua-cjson (cjson.safe) where it is
-- installed; inside Neovim, which ships lua-cjson as vim.json, that one, so
-- a plugin needs no system package.  decode returns nil, message on bad
-- input (never raises), like cjson.safe.
local ok, cjson = pcall(require, "cjson.safe")
if ok and type(cjson) == "table" then return cjson end

local vim = rawget(_G, "vim")
if type(vim) == "table" and type(vim.json) == "table" then
  local j = vim.json
  return {
    encode = function(v)
      local good, s = pcall(j.encode, v)
      if good then return s end
      return nil, s
    end,
    decode = function(s)
      local good, v = pcall(j.decode, s)
      if good then return v end
      return nil, v
    end,
    null = j.null,
  }
end
error("hcdl needs lua-cjson (Debian: apt-get install lua-cjson)")
