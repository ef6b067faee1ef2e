/*
 * json_decode.h - the JSON of an API answer straight into the Lua value
 * core.parse hands over (src/api_parse.c), in one pass over the text.
 */
#ifndef HCDL_JSON_DECODE_H
#define HCDL_JSON_DECODE_H

#include <stddef.h>

#include <lua.h>

/* The deepest nesting of objects and arrays decoded (the private lua-cjson
 * instance of src/hcdl.c is given the same decode_max_depth). */
#define HCDL_JSON_MAX_DEPTH 64

/*
 * Pushes the value of the JSON text s (n bytes, and s[n] must be '\0':
 * a Lua string and an hcdl_buf both are) and returns 1, or pushes nothing
 * and returns 0 where lua-cjson's decode fails.  The value is what
 * cjson.decode followed by core.normalize gives:
 *   - inside objects and arrays a number that is whole and within +-2^53
 *     is an integer on Lua 5.3+ (a float otherwise; on 5.1, 5.2 and LuaJIT
 *     every number is a number); a number that is the whole text stays a
 *     float, as normalize leaves anything but a table alone;
 *   - an object member that is null is left out, and the object gets a
 *     metatable whose field hcdl_nulls is the set of those keys (only when
 *     there is one);
 *   - a null in an array (or as the whole text) is the decoder's null:
 *     field null of the table at index decoder (lua-cjson's NULL light
 *     userdata, Neovim's vim.NIL).
 * Accepted and refused texts are lua-cjson 2.1.0's, detailed at the top
 * of src/json_decode.c.  Raises only for lack of memory.
 */
int hcdl_json_decode(lua_State *L, const char *s, size_t n, int decoder);

/* Lua: core.json_decode(text) -> value | nil.  Internal: the answers'
 * decoder on its own, for tests/json_decode_spec.lua.
 * Upvalue 1: the private JSON decoder (its null). */
int hcdl_json_decode_lua(lua_State *L);

#endif
