/*
 * digest.c - see digest.h.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include <lauxlib.h>
#include <openssl/evp.h>

#include "compat.h"
#include "digest.h"
#include "fileio.h"
#include "md5lanes.h"

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

/* Pushes an MD5 as 32 lower-case hex digits. */
static void push_hex(lua_State *L, const unsigned char md[16])
{
    char hex[33];
    int i;
    for (i = 0; i < 16; i++)
        snprintf(hex + 2 * i, 3, "%02x", md[i]);
    lua_pushlstring(L, hex, 32);
}

/* digest:hex() -> 32 lower-case hex digits (the digest is then finished) */
static int digest_hex(lua_State *L)
{
    digest *d = check(L);
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    if (EVP_DigestFinal_ex(d->ctx, md, &n) != 1 || n != 16)
        return luaL_error(L, "hcdl: MD5 final failed");
    d->final = 1;
    push_hex(L, md);
    return 1;
}

/* Reads { {off, len}, ... } at idx into jobs (n of them). */
static void read_ranges(lua_State *L, int idx, hcdl_md5_job *jobs, int n)
{
    int i;
    for (i = 0; i < n; i++) {
        lua_rawgeti(L, idx, i + 1);
        luaL_checktype(L, -1, LUA_TTABLE);
        lua_rawgeti(L, -1, 1);
        lua_rawgeti(L, -2, 2);
        jobs[i].off = (long long)luaL_checknumber(L, -2);
        jobs[i].len = (long long)luaL_checknumber(L, -1);
        if (jobs[i].off < 0 || jobs[i].len < 0)
            luaL_argerror(L, idx, "a range is negative");
        lua_pop(L, 3);
    }
}

int hcdl_md5_ranges(lua_State *L)
{
    int fd = hcdl_file_fd(L, 1), n, i, err = 0;
    const char *impl = luaL_optstring(L, 3, NULL);
    hcdl_md5_job *jobs;
    hcdl_md5_lanes *w;
    luaL_checktype(L, 2, LUA_TTABLE);
    n = (int)hcdl_rawlen(L, 2);
    jobs = lua_newuserdata(L, (size_t)(n > 0 ? n : 1) * sizeof *jobs); /* freed by the GC */
    read_ranges(L, 2, jobs, n);
    w = hcdl_md5_lanes_new(impl);
    if (w == NULL)
        return hcdl_io_error(L, "md5 lanes", impl != NULL ? impl : "(fastest)", errno);
    if (hcdl_md5_lanes_run(w, fd, jobs, n) != 0)
        err = errno;
    hcdl_md5_lanes_free(w);
    if (err != 0)
        return hcdl_io_error(L, "cannot read", "a range of the file", err);
    lua_createtable(L, n, 0);
    for (i = 0; i < n; i++) {
        push_hex(L, jobs[i].md);
        lua_rawseti(L, -2, i + 1);
    }
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
