/*
 * verifier.c - see verifier.h.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lauxlib.h>

#include "compat.h"
#include "verifier.h"

#define VERIFIER_MT "hcdl.verifier"

int hcdl_verifier_start(hcdl_verifier *v, const hcdl_vconf *c, const EVP_MD *md5)
{
    unsigned char want[16];
    long long parts;
    memset(v, 0, sizeof *v);
#ifndef HCDL_HAVE_ISAL
    if (c->crc64 || c->formats) {
        v->tables = malloc(2 * sizeof *v->tables);
        if (v->tables == NULL)
            return -1;
        hcdl_crc64_tables_init(&v->tables[0], HCDL_CRC64_XZ);
        hcdl_crc64_tables_init(&v->tables[1], HCDL_CRC64_JONES);
    }
#endif
    if (c->md5) {
        v->md5 = EVP_MD_CTX_new();
        if (v->md5 == NULL || EVP_DigestInit_ex(v->md5, md5, NULL) != 1)
            goto fail;
    }
    if (c->etag != NULL && c->total >= 0 && hcdl_mp_parse(c->etag, c->etag_len, want, &parts)) {
        if (hcdl_mp_start(&v->mp, want, parts, c->total, md5, c->fd) != 0)
            goto fail;
        v->mp_on = 1;
    }
    v->crc_on = c->crc64;
    if (c->formats) {
        hcdl_fmt_start(&v->fmt, v->tables != NULL ? &v->tables[1] : NULL);
        v->fmt_on = 1;
    }
    return 0;
fail:
    hcdl_verifier_free(v);
    return -1;
}

int hcdl_verifier_update(hcdl_verifier *v, const unsigned char *p, size_t n)
{
    v->bytes += (long long)n;
    if (v->md5 != NULL && EVP_DigestUpdate(v->md5, p, n) != 1)
        return -1;
    if (v->mp_on && hcdl_mp_update(&v->mp, p, n) != 0)
        return -1;
    if (v->crc_on)
        v->crc64 = hcdl_crc64(HCDL_CRC64_XZ, v->tables, v->crc64, p, n);
    if (v->fmt_on)
        hcdl_fmt_update(&v->fmt, p, n); /* a failure is kept in fmt */
    return 0;
}

void hcdl_verifier_background(hcdl_verifier *v, int on)
{
    if (v->mp_on)
        hcdl_mp_background(&v->mp, on);
}

int hcdl_verifier_work(hcdl_verifier *v)
{
    return v->mp_on ? hcdl_mp_work(&v->mp) : 0;
}

int hcdl_verifier_idle(const hcdl_verifier *v)
{
    return v->md5 == NULL && !v->mp_on && !v->crc_on && (!v->fmt_on || v->fmt.kind == FMT_NONE);
}

void hcdl_verifier_finish(hcdl_verifier *v)
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0, i;
    if (v->finished)
        return;
    v->finished = 1;
    if (v->md5 != NULL && EVP_DigestFinal_ex(v->md5, md, &len) == 1 && len == 16) {
        for (i = 0; i < 16; i++)
            snprintf(v->md5_hex + 2 * i, 3, "%02x", md[i]);
    }
    if (v->mp_on) {
        v->mp_candidates = v->mp.count;
        v->mp_found = hcdl_mp_finish(&v->mp, &v->mp_strong);
    }
    if (v->fmt_on)
        hcdl_fmt_finish(&v->fmt);
}

static void push_u64(lua_State *L, uint64_t x)
{
    char s[24];
    snprintf(s, sizeof s, "%llu", (unsigned long long)x);
    lua_pushstring(L, s);
}

static void push_format(lua_State *L, const hcdl_verifier *v)
{
    const char *name = hcdl_fmt_name(&v->fmt), *ok = hcdl_fmt_verified(&v->fmt);
    if (name == NULL)
        return;
    lua_pushstring(L, name);
    lua_setfield(L, -2, "format");
    if (ok != NULL) {
        lua_pushstring(L, ok);
        lua_setfield(L, -2, "format_verified");
    } else {
        lua_pushstring(L, v->fmt.message);
        lua_setfield(L, -2, v->fmt.failed ? "format_error" : "format_unchecked");
    }
}

void hcdl_verifier_push(lua_State *L, const hcdl_verifier *v)
{
    lua_createtable(L, 0, 8);
    hcdl_pushinteger(L, v->bytes);
    lua_setfield(L, -2, "bytes");
    if (v->md5_hex[0] != '\0') {
        lua_pushstring(L, v->md5_hex);
        lua_setfield(L, -2, "md5");
    }
    if (v->mp_on) {
        if (v->mp_found > 0) {
            hcdl_pushinteger(L, v->mp_found);
            lua_setfield(L, -2, "part_size");
        }
        hcdl_pushinteger(L, v->mp_candidates);
        lua_setfield(L, -2, "multipart_candidates");
        lua_pushboolean(L, v->mp_strong);
        lua_setfield(L, -2, "multipart_strong");
    }
    if (v->crc_on) {
        push_u64(L, v->crc64);
        lua_setfield(L, -2, "crc64");
    }
    if (v->fmt_on)
        push_format(L, v);
}

void hcdl_verifier_free(hcdl_verifier *v)
{
    EVP_MD_CTX_free(v->md5);
    v->md5 = NULL;
    if (v->mp_on)
        hcdl_mp_free(&v->mp);
    v->mp_on = 0;
    if (v->fmt_on)
        hcdl_fmt_free(&v->fmt);
    v->fmt_on = 0;
    free(v->tables);
    v->tables = NULL;
}

void hcdl_vconf_read(lua_State *L, int idx, hcdl_vconf *c)
{
    memset(c, 0, sizeof *c);
    c->total = -1;
    c->fd = -1;
    lua_getfield(L, idx, "md5");
    c->md5 = lua_toboolean(L, -1);
    lua_getfield(L, idx, "crc64");
    c->crc64 = lua_toboolean(L, -1);
    lua_getfield(L, idx, "formats");
    c->formats = lua_toboolean(L, -1);
    lua_getfield(L, idx, "size");
    if (!lua_isnil(L, -1))
        c->total = (long long)luaL_checknumber(L, -1);
    lua_getfield(L, idx, "etag");
    if (lua_type(L, -1) == LUA_TSTRING)
        c->etag = lua_tolstring(L, -1, &c->etag_len);
    lua_pop(L, 5); /* the ETag stays referenced by the spec table */
}

/* ---- Lua ---- */

typedef struct {
    hcdl_verifier v;
    int live;
} lua_verifier;

static lua_verifier *check_live(lua_State *L)
{
    lua_verifier *u = luaL_checkudata(L, 1, VERIFIER_MT);
    if (!u->live || u->v.finished)
        luaL_argerror(L, 1, "the verifier is finished");
    return u;
}

static int verifier_gc(lua_State *L)
{
    lua_verifier *u = luaL_checkudata(L, 1, VERIFIER_MT);
    if (u->live)
        hcdl_verifier_free(&u->v);
    u->live = 0;
    return 0;
}

int hcdl_verifier_new(lua_State *L)
{
    hcdl_vconf c;
    lua_verifier *u;
    EVP_MD *md5;
    int rc;
    luaL_checktype(L, 1, LUA_TTABLE);
    hcdl_vconf_read(L, 1, &c);
    u = lua_newuserdata(L, sizeof *u);
    u->live = 0;
    luaL_getmetatable(L, VERIFIER_MT);
    lua_setmetatable(L, -2);
    md5 = EVP_MD_fetch(NULL, "MD5", NULL);
    if (md5 == NULL)
        return luaL_error(L, "hcdl: MD5 is not available");
    rc = hcdl_verifier_start(&u->v, &c, md5);
    EVP_MD_free(md5); /* the contexts hold their own reference */
    if (rc != 0)
        return luaL_error(L, "hcdl: out of memory");
    u->live = 1;
    return 1;
}

static int verifier_update(lua_State *L)
{
    lua_verifier *u = check_live(L);
    size_t n;
    const char *s = luaL_checklstring(L, 2, &n);
    if (hcdl_verifier_update(&u->v, (const unsigned char *)s, n) != 0)
        return luaL_error(L, "hcdl: a digest failed");
    return 0;
}

/* v:result() -> the table of hcdl_verifier_push (the verifier is finished) */
static int verifier_result(lua_State *L)
{
    lua_verifier *u = check_live(L);
    hcdl_verifier_finish(&u->v);
    hcdl_verifier_push(L, &u->v);
    return 1;
}

int hcdl_crc64_lua(lua_State *L)
{
    static const char *const kinds[] = {"xz", "jones", NULL};
    static const char *const impls[] = {"build", "portable", NULL};
    size_t n;
    const char *s = luaL_checklstring(L, 1, &n);
    int kind = luaL_checkoption(L, 2, "xz", kinds) == 0 ? HCDL_CRC64_XZ : HCDL_CRC64_JONES;
    int portable = luaL_checkoption(L, 3, "build", impls) == 1;
    hcdl_crc64_tables *tab = malloc(sizeof *tab);
    uint64_t crc;
    char hex[17];
    if (tab == NULL)
        return luaL_error(L, "hcdl: out of memory");
    hcdl_crc64_tables_init(tab, kind);
    crc = portable ? hcdl_crc64_portable(kind, tab, 0, s, n) : hcdl_crc64(kind, tab, 0, s, n);
    free(tab);
    snprintf(hex, sizeof hex, "%016llx", (unsigned long long)crc);
    lua_pushstring(L, hex);
    return 1;
}

static uint64_t check_u64(lua_State *L, int arg)
{
    const char *s = luaL_checkstring(L, arg);
    char *end;
    unsigned long long v;
    errno = 0;
    v = strtoull(s, &end, 10);
    if (*s < '0' || *s > '9' || *end != '\0' || errno != 0)
        luaL_argerror(L, arg, "a decimal unsigned 64-bit integer expected");
    return (uint64_t)v;
}

int hcdl_crc64_combine_lua(lua_State *L)
{
    uint64_t a = check_u64(L, 1), b = check_u64(L, 2);
    lua_Number len = luaL_checknumber(L, 3);
    if (!(len >= 0))
        return luaL_argerror(L, 3, "a length >= 0 expected");
    push_u64(L, hcdl_crc64_xz_combine(a, b, (uint64_t)len));
    return 1;
}

int hcdl_features_lua(lua_State *L)
{
    lua_createtable(L, 0, 4);
    lua_pushstring(L, hcdl_crc_impl());
    lua_setfield(L, -2, "crc");
    lua_pushstring(L, hcdl_md5_lanes_name());
    lua_setfield(L, -2, "multipart_md5");
    lua_pushstring(L, "zlib");
    lua_setfield(L, -2, "inflate");
    lua_createtable(L, 3, 0);
    lua_pushstring(L, "rdb");
    lua_rawseti(L, -2, 1);
    lua_pushstring(L, "xbstream");
    lua_rawseti(L, -2, 2);
    lua_pushstring(L, "gzip");
    lua_rawseti(L, -2, 3);
    lua_setfield(L, -2, "formats");
    return 1;
}

void hcdl_verifier_init(lua_State *L)
{
    static const luaL_Reg methods[] = {{"update", verifier_update}, {"result", verifier_result}, {NULL, NULL}};
    if (luaL_newmetatable(L, VERIFIER_MT)) {
        lua_pushcfunction(L, verifier_gc);
        lua_setfield(L, -2, "__gc");
        lua_newtable(L);
        hcdl_setfuncs(L, methods, 0);
        lua_setfield(L, -2, "__index");
    }
    lua_pop(L, 1);
}
