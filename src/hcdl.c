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
#include "digest.h"
#include "verifier.h"
#include "engine.h"
#include "error.h"
#include "fileio.h"
#include "http.h"
#include "json_decode.h"
#include "options.h"
#include "redact.h"
#include "sign.h"
#include "status.h"
#include "task.h"
#include "text.h"

#ifndef HCDL_VERSION
#error "HCDL_VERSION is not defined: the Makefile (VERSION) is the one place it is kept"
#endif

HCDL_EXPORT int luaopen_hcdl_core(lua_State *L);

/* Pushes a private JSON decoder: a new lua-cjson instance (cjson.safe), or
 * inside Neovim, which ships lua-cjson as vim.json, a new one of those. */
static void push_json_decoder(lua_State *L)
{
    lua_getglobal(L, "require");
    lua_pushliteral(L, "cjson.safe");
    if (lua_pcall(L, 1, 1, 0) != 0 || !lua_istable(L, -1)) {
        lua_pop(L, 1);
        lua_getglobal(L, "vim");
        if (lua_istable(L, -1))
            lua_getfield(L, -1, "json");
        else
            lua_pushnil(L);
        lua_remove(L, -2);
        if (!lua_istable(L, -1))
            luaL_error(L, "hcdl needs lua-cjson (Debian: apt-get install lua-cjson)");
    }
    lua_getfield(L, -1, "new");
    lua_call(L, 0, 1);
    lua_remove(L, -2);
    lua_getfield(L, -1, "decode_max_depth");
    if (lua_isfunction(L, -1)) {
        lua_pushinteger(L, 64);
        lua_call(L, 1, 0);
    } else {
        lua_pop(L, 1);
    }
}

HCDL_EXPORT int luaopen_hcdl_core(lua_State *L)
{
    static const luaL_Reg plain[] = {
        {"error", hcdl_error_lnew},
        {"is_error", hcdl_error_lis},
        {"visible", hcdl_text_lvisible},
        {"utf8_repair", hcdl_text_lrepair},
        {"hide_link_queries", hcdl_redact_lhide},
        {"engine", hcdl_engine_new},
        /* a blocking session is an engine used through :perform() */
        {"session", hcdl_engine_new},
        {"pid", hcdl_engine_pid},
        {"task", hcdl_task_new},
        {"md5", hcdl_digest_new},
        {"md5_ranges", hcdl_md5_ranges},
        {"verifier", hcdl_verifier_new},
        {"crc64", hcdl_crc64_lua},
        {"crc64_combine", hcdl_crc64_combine_lua},
        {"features", hcdl_features_lua},
        {"dir", hcdl_dir_open},
        {"curl_version", hcdl_http_curl_version},
        {"apis", hcdl_api_list},
        {"options", hcdl_options_lua},
        {"classify_status", hcdl_status_lua},
        {"now", hcdl_clock_now},
        {"days_from_civil", hcdl_clock_days_from_civil},
        {"sleep", hcdl_clock_sleep},
        {"file_size", hcdl_file_size},
        {"md5_file", hcdl_file_md5},
        {"is_dir", hcdl_file_is_dir},
        {"mkdir", hcdl_mkdir},
        {NULL, NULL},
    };
    static const luaL_Reg signer[] = {
        {"sign", hcdl_sign_lua},
        {NULL, NULL},
    };

    hcdl_checkversion(L);
    hcdl_error_init(L);
    hcdl_engine_init(L);
    hcdl_fileio_init(L);
    hcdl_task_init(L);
    hcdl_digest_init(L);
    hcdl_verifier_init(L);

    lua_newtable(L);
    hcdl_setfuncs(L, plain, 0);
    hcdl_crypto_new(L);
    /* build() and call() sign in C with the same context: their upvalue */
    lua_pushvalue(L, -1);
    lua_pushcclosure(L, hcdl_api_build, 1);
    lua_setfield(L, -3, "build");
    lua_pushvalue(L, -1);
    lua_pushcclosure(L, hcdl_api_call_lua, 1);
    lua_setfield(L, -3, "call");
    hcdl_sign_push_keys(L);
    hcdl_setfuncs(L, signer, 2);

    /* parse() and answer() decode with src/json_decode.c; a private
     * lua-cjson instance, so that the caller's cjson settings are neither
     * used nor changed, gives the null of arrays and is core.normalize's. */
    push_json_decoder(L);
    /* internal: the answers' decoder on its own, for
     * tests/json_decode_spec.lua; not part of the API */
    lua_pushvalue(L, -1);
    lua_pushcclosure(L, hcdl_json_decode_lua, 1);
    lua_setfield(L, -3, "json_decode");
    lua_pushvalue(L, -1);
    lua_pushcclosure(L, hcdl_api_parse, 1);
    lua_setfield(L, -3, "parse");
    lua_pushvalue(L, -1);
    lua_pushcclosure(L, hcdl_api_answer_lua, 1);
    lua_setfield(L, -3, "answer");
    lua_pushcclosure(L, hcdl_api_normalize, 1);
    lua_setfield(L, -2, "normalize");

    lua_pushliteral(L, HCDL_VERSION);
    lua_setfield(L, -2, "version");
    lua_pushliteral(L, HCDL_REDACT_MARKER);
    lua_setfield(L, -2, "REDACT_MARKER");
    return 1;
}
