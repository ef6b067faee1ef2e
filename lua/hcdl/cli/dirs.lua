--- hcdl.cli.dirs: --out made as `aws s3 cp`, `rclone` or `wget -P` do:
-- the directory and its missing parents, each mode 0700 (the files in it
-- are database backups and audit logs), by the library's core.mkdir.
local core = require "hcdl.core"

local dirs = {}

--- Creates path and its missing parents (mode 0700): true, or nil, err.
function dirs.make(path)
  return core.mkdir(path, tonumber("700", 8))
end

return dirs
