/*
 * text.h - visible text: the one escaping every string hcdl shows a person
 * passes (Lua: core.visible, wrapped by lua/hcdl/text.lua; C: tostring of
 * errors).
 *
 * The result is one line of printable, valid UTF-8:
 *   - printable ASCII and valid UTF-8 characters are kept as they are;
 *   - C0 controls and DEL become \n, \r, \t or \xNN (lower-case hex);
 *   - each byte that is not part of valid UTF-8 becomes \xNN;
 *   - C1 controls (U+0080-U+009F), the line and paragraph separators and
 *     the bidirectional and invisible format characters (U+061C, U+200B-
 *     U+200F, U+202A-U+202E, U+2060-U+2069, U+FEFF) become \u{XXXX}.
 * Backslashes are kept: the escapes are for a person, not to be decoded.
 * With max > 0 the result has at most max characters (code points) of the
 * text, then "…" and " (N more bytes)" counting the input bytes left out.
 */
#ifndef HCDL_TEXT_H
#define HCDL_TEXT_H

#include <stddef.h>

#include <lauxlib.h>
#include <lua.h>

/* Adds the visible form of s[0..n) to b (see above). */
void hcdl_text_add_visible(luaL_Buffer *b, const char *s, size_t n, size_t max);

/* Lua: core.visible(s [, max]) -> string.  Non-strings are tostring'ed
 * first (numbers, booleans, nil); max: a positive integer or nil. */
int hcdl_text_lvisible(lua_State *L);

/* Lua: core.utf8_repair(s) -> s with each byte that is not valid UTF-8
 * replaced by U+FFFD, and how many were (0: s itself). */
int hcdl_text_lrepair(lua_State *L);

#endif
