/*
 * fields.h - setting a field of the table on top of the Lua stack, as the
 * reflection functions (core.apis(), a parameter's rules) build their
 * answers: a NULL string leaves the field out.
 */
#ifndef HCDL_FIELDS_H
#define HCDL_FIELDS_H

#include <lua.h>

#include "compat.h"

static inline void hcdl_set_string(lua_State *L, const char *key, const char *value)
{
    if (value == NULL)
        return;
    lua_pushstring(L, value);
    lua_setfield(L, -2, key);
}

static inline void hcdl_set_integer(lua_State *L, const char *key, long long value)
{
    hcdl_pushinteger(L, value);
    lua_setfield(L, -2, key);
}

#endif
