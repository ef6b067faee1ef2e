--- hcdl.text: the one function every string hcdl shows a person passes
-- (table cells, error lines, tostring(err), debug lines, the command's
-- messages).  The escaping itself is C (src/text.c), so that tostring of
-- an error, written in C, uses the very same rule:
--
--   text.visible(s [, max]) -> one line of printable, valid UTF-8:
--     \n \r \t, and \xNN for the other C0 controls, DEL and each byte that
--     is not valid UTF-8; \u{XXXX} for C1 controls, line/paragraph
--     separators and bidirectional/invisible format characters; at most
--     `max` characters of the text, then "… (N more bytes)".
--
--   text.shown(s [, max [, secrets]]) -> text.visible(redact.text(s,
--     secrets), max): what every printer of the command and the debug
--     lines use - secrets and link queries out first (hcdl.redact), then
--     escaped, then cut (docs/architecture.md "Redaction").
--
-- A service, an object store, a proxy or a configuration file chooses
-- these strings: without this, a file name could clear the screen, retitle
-- the terminal or forge a line of hcdl's own output.
local core = require "hcdl.core"
local redact = require "hcdl.redact"

local text = {}

--- Bounds used where no caller gives one (characters).
text.MESSAGE_MAX = 1000
text.CELL_MAX = 64

text.visible = core.visible

--- s (tostring'ed) cleaned by hcdl.redact with secrets (a list, may be
-- nil), then made one visible line of at most max characters: the one
-- order - cleaning after escaping or cutting could miss a changed secret.
function text.shown(s, max, secrets)
  return core.visible(redact.text(tostring(s), secrets), max)
end

--- Characters (code points) of a visible string: the width a table cell
-- takes on screen (wide CJK characters count as one; close enough for
-- alignment, and never wrong about safety).
function text.width(s)
  local n = 0
  for _ in s:gmatch("[^\128-\191]") do n = n + 1 end
  return n
end

--- Whether s is one line of printable ASCII/UTF-8 already (visible(s) == s).
function text.is_plain(s)
  return type(s) == "string" and core.visible(s) == s
end

return text
