/*
 * digest.c - see digest.h.
 */
#include <stdio.h>

#include <lauxlib.h>
#include <openssl/evp.h>

#include "compat.h"
#include "digest.h"

#define DIGEST_MT "hcdl.md5"

typedef struct {
    EVP_MD_CTX *ctx;
    EVP_MD *alg;
    int final;
} digest;

static digest *check(lua_State *L)
{
    digest *d = luaL_checkudata(L, 1, DIGEST_MT);
    if (d->ctx == NULL || d->final)
        luaL_argerror(L, 1, "the digest is finished");
    return d;
}

static int digest_gc(lua_State *L)
{
    digest *d = luaL_checkudata(L, 1, DIGEST_MT);
    EVP_MD_CTX_free(d->ctx);
    EVP_MD_free(d->alg);
    d->ctx = NULL;
    d->alg = NULL;
    return 0;
}

int hcdl_digest_new(lua_State *L)
{
    digest *d = lua_newuserdata(L, sizeof *d);
    d->ctx = NULL;
    d->alg = NULL;
    d->final = 0;
    luaL_getmetatable(L, DIGEST_MT);
    lua_setmetatable(L, -2);
    d->alg = EVP_MD_fetch(NULL, "MD5", NULL);
    d->ctx = EVP_MD_CTX_new();
    if (d->alg == NULL || d->ctx == NULL || EVP_DigestInit_ex(d->ctx, d->alg, NULL) != 1)
        return luaL_error(L, "hcdl: cannot start an MD5 digest");
    return 1;
}

static int digest_update(lua_State *L)
{
    digest *d = check(L);
    size_t n;
    const char *s = luaL_checklstring(L, 2, &n);
    if (EVP_DigestUpdate(d->ctx, s, n) != 1)
        return luaL_error(L, "hcdl: MD5 update failed");
    return 0;
}

/* digest:hex() -> 32 lower-case hex digits (the digest is then finished) */
static int digest_hex(lua_State *L)
{
    digest *d = check(L);
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int n = 0, i;
    char hex[33];
    if (EVP_DigestFinal_ex(d->ctx, md, &n) != 1 || n != 16)
        return luaL_error(L, "hcdl: MD5 final failed");
    d->final = 1;
    for (i = 0; i < 16; i++)
        snprintf(hex + 2 * i, 3, "%02x", md[i]);
    lua_pushlstring(L, hex, 32);
    return 1;
}

void hcdl_digest_init(lua_State *L)
{
    static const luaL_Reg methods[] = {{"update", digest_update}, {"hex", digest_hex}, {NULL, NULL}};
    if (luaL_newmetatable(L, DIGEST_MT)) {
        lua_pushcfunction(L, digest_gc);
        lua_setfield(L, -2, "__gc");
        lua_newtable(L);
        hcdl_setfuncs(L, methods, 0);
        lua_setfield(L, -2, "__index");
    }
    lua_pop(L, 1);
}
