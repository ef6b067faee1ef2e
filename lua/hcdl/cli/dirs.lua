--- hcdl.cli.dirs: --out made as `aws s3 cp`, `rclone` or `wget -P` do:
-- the directory and its missing parents, each mode 0700 (the files in it
-- are database backups and audit logs).
local core = require "hcdl.core"

local dirs = {}

local function q(s)
  return "'" .. s:gsub("'", "'\\''") .. "'"
end

--- Creates path and its missing parents (mode 0700): true, or nil, err.
function dirs.make(path)
  if core.is_dir(path) then return true end
  local prefix = path:sub(1, 1) == "/" and "" or "."
  for part in path:gmatch("[^/]+") do
    prefix = prefix .. "/" .. part
    if not core.is_dir(prefix) then
      -- Lua has no mkdir; mkdir(1) says why it could not
      local ok = os.execute("mkdir -m 0700 -- " .. q(prefix) .. " 2>/dev/null")
      if not (ok == true or ok == 0) and not core.is_dir(prefix) then
        return nil, core.error{ kind = "io", path = prefix,
          message = ("--out: cannot create the directory %s"):format(prefix) }
      end
    end
  end
  return true
end

return dirs
