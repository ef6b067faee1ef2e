/*
 * hcdl.c - luaopen_hcdl_core: registers functions and metatables, nothing
 * else.  Each concern lives in its own file (sign.c, error.c, ...).
 *
 * No global mutable state: per-state data (the hashing context) is an
 * upvalue, so independent lua_States in several OS threads (OpenResty
 * worker threads, libuv work threads) can use the module at once.
 */
#include <lauxlib.h>

#include "api.h"
#include "clock.h"
#include "compat.h"
#include "download.h"
#include "fileio.h"
#include "error.h"
#include "http.h"
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
        {"session", hcdl_http_session},
        {"curl_version", hcdl_http_curl_version},
        {"apis", hcdl_api_list},
        {"now", hcdl_clock_now},
        {"sleep", hcdl_clock_sleep},
        {"fetch", hcdl_download_fetch},
        {"file_size", hcdl_file_size},
        {"truncate", hcdl_file_truncate},
        {"allocate", hcdl_file_allocate},
        {"fsync", hcdl_file_fsync},
        {"md5_file", hcdl_file_md5},
        {"rename", hcdl_file_rename},
        {"is_dir", hcdl_file_is_dir},
        {"normalize", hcdl_api_normalize},
        {NULL, NULL},
    };
    static const luaL_Reg signer[] = {
        {"sign", hcdl_sign_lua},
        {NULL, NULL},
    };

    hcdl_checkversion(L);
    hcdl_error_init(L);
    hcdl_http_init(L);
    hcdl_download_init(L);

    lua_newtable(L);
    hcdl_setfuncs(L, plain, 0);
    hcdl_crypto_new(L);
    hcdl_sign_push_keys(L);
    hcdl_setfuncs(L, signer, 2);

    /* build() calls the signer: core.sign is its upvalue. */
    lua_getfield(L, -1, "sign");
    lua_pushcclosure(L, hcdl_api_build, 1);
    lua_setfield(L, -2, "build");

    /* parse() decodes with a private lua-cjson instance, so the caller's
     * cjson settings are neither used nor changed. */
    lua_getglobal(L, "require");
    lua_pushliteral(L, "cjson.safe");
    lua_call(L, 1, 1);
    lua_getfield(L, -1, "new");
    lua_call(L, 0, 1);
    lua_remove(L, -2);
    lua_getfield(L, -1, "decode_max_depth");
    lua_pushinteger(L, 64);
    lua_call(L, 1, 1);
    lua_pop(L, 1);
    lua_pushcclosure(L, hcdl_api_parse, 1);
    lua_setfield(L, -2, "parse");

    lua_pushliteral(L, HCDL_VERSION);
    lua_setfield(L, -2, "version");
    return 1;
}
