/*
 * compat.h - the few shims hcdl.core needs to build unchanged against
 * Lua 5.1, LuaJIT 2.1, Lua 5.2, 5.3 and 5.4.
 *
 * Every shim has an hcdl_ name so it can never collide with a symbol the
 * host's Lua (LuaJIT exports some 5.2 functions) already provides.
 */
#ifndef HCDL_COMPAT_H
#define HCDL_COMPAT_H

#include <lua.h>
#include <lauxlib.h>

#if LUA_VERSION_NUM < 502
/* Lua 5.1 / LuaJIT */
#define hcdl_rawlen(L, i) lua_objlen((L), (i))
#define hcdl_absindex(L, i) \
    (((i) > 0 || (i) <= LUA_REGISTRYINDEX) ? (i) : lua_gettop(L) + (i) + 1)

static inline void hcdl_setfuncs(lua_State *L, const luaL_Reg *l, int nup)
{
    luaL_checkstack(L, nup + 1, "too many upvalues");
    for (; l->name != NULL; l++) {
        int i;
        for (i = 0; i < nup; i++)
            lua_pushvalue(L, -nup);
        lua_pushcclosure(L, l->func, nup);
        lua_setfield(L, -(nup + 2), l->name);
    }
    lua_pop(L, nup);
}

static inline void hcdl_checkversion(lua_State *L) { (void)L; }
#else
#define hcdl_rawlen(L, i) lua_rawlen((L), (i))
#define hcdl_absindex(L, i) lua_absindex((L), (i))
#define hcdl_setfuncs(L, l, n) luaL_setfuncs((L), (l), (n))
/* Catches a module built for one Lua ABI loaded into another. */
#define hcdl_checkversion(L) luaL_checkversion(L)
#endif

/*
 * Push an integer so that Lua 5.3+ sees a real integer subtype; on 5.1/5.2
 * numbers are doubles anyway.
 */
#if LUA_VERSION_NUM >= 503
#define hcdl_pushinteger(L, n) lua_pushinteger((L), (lua_Integer)(n))
#else
#define hcdl_pushinteger(L, n) lua_pushnumber((L), (lua_Number)(n))
#endif

/* The one symbol the module exports (the build hides everything else). */
#if defined(__GNUC__)
#define HCDL_EXPORT __attribute__((visibility("default")))
#else
#define HCDL_EXPORT
#endif

#endif /* HCDL_COMPAT_H */
