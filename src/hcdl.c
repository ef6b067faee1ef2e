/*
 * hcdl.c - luaopen_hcdl_core: registers functions and metatables, nothing
 * else.  Each concern lives in its own file (sign.c, error.c, ...).
 *
 * No global mutable state: per-state data (the hashing context) is an
 * upvalue, so independent lua_States in several OS threads (OpenResty
 * worker threads, libuv work threads) can use the module at once.
 */
#include <lauxlib.h>

#include "compat.h"
#include "error.h"
#include "sign.h"

#ifndef HCDL_VERSION
#define HCDL_VERSION "0.1.0"
#endif

HCDL_EXPORT int luaopen_hcdl_core(lua_State *L);

HCDL_EXPORT int luaopen_hcdl_core(lua_State *L)
{
    static const luaL_Reg plain[] = {
        {"error", hcdl_error_lnew},
        {"is_error", hcdl_error_lis},
        {NULL, NULL},
    };
    static const luaL_Reg signer[] = {
        {"sign", hcdl_sign_lua},
        {NULL, NULL},
    };

    hcdl_checkversion(L);
    hcdl_error_init(L);

    lua_newtable(L);
    hcdl_setfuncs(L, plain, 0);
    hcdl_crypto_new(L);
    hcdl_sign_push_keys(L);
    hcdl_setfuncs(L, signer, 2);

    lua_pushliteral(L, HCDL_VERSION);
    lua_setfield(L, -2, "version");
    return 1;
}
