/*
 * error.h - hcdl error objects.
 *
 * An error is a plain Lua table with the fields the design names (kind,
 * status, code, message, request_id, retryable, and field for input errors)
 * and a shared metatable whose __tostring renders one readable line.  Errors
 * are values returned as `nil, err`; they are raised only for programmer
 * errors, which use ordinary luaL_error / luaL_argerror.
 *
 * Messages are built by the callers of this module; callers never put a
 * secret (SK, token, link signature) into one.
 */
#ifndef HCDL_ERROR_H
#define HCDL_ERROR_H

#include <lua.h>

#define HCDL_ERROR_MT "hcdl.error"

/* Creates the shared metatable in this lua_State's registry. */
void hcdl_error_init(lua_State *L);

/* Pushes a new error table {kind = kind, message = message}. */
void hcdl_error_push(lua_State *L, const char *kind, const char *message);

/*
 * Pushes nil and an "input" error naming `field`; the message is
 * "<field>: <formatted rule>".  Returns 2 so a lua_CFunction can
 * `return hcdl_error_input(L, "ak", "must be a non-empty string");`.
 * The format supports what lua_pushfstring supports (%s %d %f %p %c %%).
 */
int hcdl_error_input(lua_State *L, const char *field, const char *fmt, ...);

/* Lua: core.error{kind=, message=, ...} -> error table (raises on bad kind). */
int hcdl_error_lnew(lua_State *L);

/* Lua: core.is_error(v) -> boolean */
int hcdl_error_lis(lua_State *L);

#endif
