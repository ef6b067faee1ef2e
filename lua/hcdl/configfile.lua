--- hcdl.configfile: reading the files hcdl parses (regions.yaml, the
-- credentials profile, id-token files) within bounds, so that no file can
-- keep hcdl.new busy: a size limit per kind of file, read without reading
-- more than the limit, and for YAML a nesting limit checked before the
-- parser sees the text (libyaml's time grows with the square of nesting:
-- 100 KB of brackets took seconds).  The limits are in README.md
-- ("Limits"); a file over them is an "input" error naming the file.
local configfile = {}

configfile.MAX_BYTES = {
  regions = 8 * 1024,     -- lyaml: 16 KiB of nested lists measured 32-126 ms on a loaded machine; 8 KiB halves it
  profile = 1024 * 1024,  -- an INI file read line by line
  token = 1024 * 1024,    -- an OIDC id token or a pod's token (a few KB in practice)
  -- hcdl's own files in a directory it writes to (read with dir:read)
  record = 8 * 1024 * 1024,     -- .hcdl-record.json: about 25,000 files' facts
  sync_state = 64 * 1024,       -- .hcdl-sync.*.state: a position and a few times
  part_state = 1024 * 1024,     -- <name>.part.state: validators and ranges
}

--- Deepest YAML nesting accepted: brackets, braces, indentation columns,
-- and "- "/"? " indicators that open a collection on the same line.
configfile.YAML_MAX_DEPTH = 32
configfile.YAML_MAX_INDENT = 64

--- The contents of the file at path, at most MAX_BYTES[kind] bytes:
-- text | nil, nil (no such file or not readable) | nil, message (too large).
function configfile.read(path, kind, mode)
  local max = configfile.MAX_BYTES[kind]
  local f = path and io.open(path, mode or "rb")
  if not f then return nil, nil end
  local text = f:read(max + 1) or ""
  f:close()
  if #text > max then
    return nil, ("larger than %d bytes, the limit for this file (README: Limits)"):format(max)
  end
  return text
end

-- The index just after the quoted scalar starting at i (its quote q), or
-- #s + 1 when it never ends.
local function skip_quoted(s, i, q)
  local j = i + 1
  while true do
    local k = s:find(q == '"' and '[\\"]' or "'", j)
    if not k then return #s + 1 end
    if q == '"' and s:sub(k, k) == "\\" then
      j = k + 2
    elseif q == "'" and s:sub(k + 1, k + 1) == "'" then
      j = k + 2
    else
      return k + 1
    end
  end
end

-- Whether a quote at i opens a quoted scalar: after a flow bracket, a comma
-- or a line's start, or after "- ", "? ", ": " (elsewhere plain scalars may
-- hold quotes: it's).  Mistaking a quote for an opening one would hide
-- brackets, so an indicator counts only with the blank YAML requires.
local function opens_scalar(s, i, prev)
  if prev == "[" or prev == "{" or prev == "," or prev == "\n" then return true end
  local before = s:sub(i - 1, i - 1)
  return (prev == "-" or prev == "?" or prev == ":") and (before == " " or before == "\t")
end

--- nil when the YAML text nests within the limits, else a message.
function configfile.yaml_nesting(s)
  local flow, i, n, prev = 0, 1, #s, "\n"
  local max = configfile.YAML_MAX_DEPTH
  while i <= n do
    local c = s:sub(i, i)
    if prev == "\n" then
      -- a line's start: indentation, then "- " / "? " indicators
      local indent = s:match("^ *", i)
      local indicators = s:match("^[-?:][-?: ]*", i + #indent) or ""
      local _, opened = indicators:gsub("[-?:] ", "")
      if #indent > configfile.YAML_MAX_INDENT or opened > max then
        return ("nested deeper than the limit (%d columns of indentation, %d levels)"):format(
          configfile.YAML_MAX_INDENT, max)
      end
    end
    if c == "[" or c == "{" then
      flow = flow + 1
      if flow > max then return ("nested deeper than %d brackets"):format(max) end
    elseif c == "]" or c == "}" then
      if flow > 0 then flow = flow - 1 end
    elseif (c == '"' or c == "'") and opens_scalar(s, i, prev) then
      i = skip_quoted(s, i, c) - 1
      c = "x"
    elseif c == "#" and (prev == " " or prev == "\n" or prev == "\t") then
      i = (s:find("\n", i, true) or n + 1) - 1
      c = "x"
    end
    if c ~= " " and c ~= "\t" then prev = c end
    if c == "\n" then prev = "\n" end
    i = i + 1
  end
  return nil
end

return configfile
