/*
 * options.c - see options.h.
 */
#include <stdlib.h>
#include <string.h>

#include <lauxlib.h>

#include "compat.h"
#include "error.h"
#include "options.h"

const hcdl_option hcdl_options[HCDL_OPT_COUNT] = {
#define HCDL_OPTION_ROW(id, name, type, unit, lo, hi, dflt, scope, target, curl, sets) \
    {name, type, unit, lo, hi, dflt, scope, target, (int)(curl), sets},
    HCDL_OPTION_LIST(HCDL_OPTION_ROW)
#undef HCDL_OPTION_ROW
};

static const char *const type_names[] = {"seconds", "whole", "rate", "boolean", "string"};

static long long as_stored(const hcdl_option *o, lua_Number v)
{
    long long ms;
    if (o->type != HCDL_SECONDS)
        return (long long)v; /* HCDL_RATE rounds down; HCDL_WHOLE is whole already */
    ms = (long long)(v * 1000.0 + 0.5);
    return ms == 0 && v > 0 ? 1 : ms; /* 0 would mean "no limit" to libcurl */
}

/* The value at the top of the stack into *out (popped either way). */
static int read_number(lua_State *L, const hcdl_option *o, hcdl_optval *out)
{
    lua_Number v = lua_tonumber(L, -1);
    int ok = lua_type(L, -1) == LUA_TNUMBER && v >= o->lo && v <= o->hi;
    lua_pop(L, 1);
    if (ok && o->type == HCDL_WHOLE && v != (lua_Number)(long long)v)
        ok = 0;
    if (!ok) {
        if (o->type == HCDL_SECONDS)
            return hcdl_error_input(L, o->name, "must be a number of seconds from %f to %f", o->lo, o->hi);
        if (o->type == HCDL_RATE)
            return hcdl_error_input(L, o->name, "must be a number of bytes per second from %f to %f",
                                    o->lo, o->hi);
        return hcdl_error_input(L, o->name, "must be a whole number from %f to %f", o->lo, o->hi);
    }
    out->num = as_stored(o, v);
    out->set = 1;
    return 0;
}

static int read_string(lua_State *L, const hcdl_option *o, hcdl_optval *out)
{
    size_t n;
    const char *s = lua_type(L, -1) == LUA_TSTRING ? lua_tolstring(L, -1, &n) : NULL;
    if (s == NULL || strlen(s) != n) {
        lua_pop(L, 1);
        return hcdl_error_input(L, o->name, s == NULL ? "must be a string" : "must not contain NUL bytes");
    }
    out->str = malloc(n + 1);
    if (out->str == NULL) {
        lua_pop(L, 1);
        return luaL_error(L, "hcdl: out of memory");
    }
    memcpy(out->str, s, n + 1);
    out->set = 1;
    lua_pop(L, 1);
    return 0;
}

/* The field of row o at the top of the stack (not nil) into *out. */
static int read_value(lua_State *L, const hcdl_option *o, hcdl_optval *out)
{
    switch (o->type) {
    case HCDL_BOOLEAN:
        if (!lua_isboolean(L, -1)) {
            lua_pop(L, 1);
            return hcdl_error_input(L, o->name, "must be a boolean");
        }
        out->num = lua_toboolean(L, -1);
        out->set = 1;
        lua_pop(L, 1);
        return 0;
    case HCDL_STRING:
        return read_string(L, o, out);
    default:
        return read_number(L, o, out);
    }
}

static void set_default(const hcdl_option *o, hcdl_optval *v)
{
    if (o->type == HCDL_STRING || (o->type == HCDL_RATE && o->dflt == 0))
        return; /* none: libcurl's own, or no limit */
    v->num = as_stored(o, o->dflt);
    v->set = 1;
}

int hcdl_options_read(lua_State *L, int idx, int scope, int with_defaults, hcdl_optval *v)
{
    int i;
    memset(v, 0, sizeof *v * HCDL_OPT_COUNT);
    for (i = 0; i < HCDL_OPT_COUNT; i++)
        if ((hcdl_options[i].scope & scope) && with_defaults)
            set_default(&hcdl_options[i], &v[i]);
    if (lua_isnoneornil(L, idx))
        return 0;
    if (!lua_istable(L, idx))
        return hcdl_error_input(L, "options", "must be a table");
    idx = hcdl_absindex(L, idx);
    for (i = 0; i < HCDL_OPT_COUNT; i++) {
        int rc;
        if (!(hcdl_options[i].scope & scope))
            continue;
        lua_getfield(L, idx, hcdl_options[i].name);
        if (lua_isnil(L, -1)) {
            lua_pop(L, 1);
            continue;
        }
        if ((rc = read_value(L, &hcdl_options[i], &v[i])) != 0)
            return rc;
    }
    return 0;
}

void hcdl_options_free(hcdl_optval *v)
{
    int i;
    for (i = 0; i < HCDL_OPT_COUNT; i++) {
        free(v[i].str);
        v[i].str = NULL;
    }
}

/* libcurl takes a long, a curl_off_t or a string, by the option's number. */
static CURLcode set_easy(CURL *easy, int opt, const hcdl_optval *v)
{
    CURLoption o = (CURLoption)opt;
    if (opt >= CURLOPTTYPE_OFF_T)
        return curl_easy_setopt(easy, o, (curl_off_t)v->num);
    if (opt >= CURLOPTTYPE_OBJECTPOINT)
        return curl_easy_setopt(easy, o, v->str);
    return curl_easy_setopt(easy, o, (long)v->num);
}

CURLcode hcdl_options_apply(CURL *easy, const hcdl_optval *v, int scope)
{
    CURLcode rc = CURLE_OK;
    int i;
    for (i = 0; i < HCDL_OPT_COUNT && rc == CURLE_OK; i++) {
        const hcdl_option *o = &hcdl_options[i];
        if (!(o->scope & scope) || !v[i].set)
            continue;
        if (o->target == HCDL_SET_EASY || (o->target == HCDL_SET_SHARED && scope == HCDL_PER_TRANSFER)) {
            rc = set_easy(easy, o->curl, &v[i]);
        } else if (o->target == HCDL_SET_TLS) {
            rc = curl_easy_setopt(easy, CURLOPT_SSL_VERIFYPEER, v[i].num ? 1L : 0L);
            if (rc == CURLE_OK)
                rc = curl_easy_setopt(easy, CURLOPT_SSL_VERIFYHOST, v[i].num ? 2L : 0L);
        }
    }
    return rc;
}

CURLMcode hcdl_options_apply_multi(CURLM *multi, const hcdl_optval *v)
{
    CURLMcode rc = CURLM_OK;
    int i;
    for (i = 0; i < HCDL_OPT_COUNT && rc == CURLM_OK; i++)
        if (hcdl_options[i].target == HCDL_SET_MULTI && v[i].set)
            rc = curl_multi_setopt(multi, (CURLMoption)hcdl_options[i].curl, (long)v[i].num);
    return rc;
}

/* ---- Lua: core.options() ---------------------------------------------------- */

/* Whole numbers as integers (Lua 5.3+), so "10" reads as 10, not 10.0. */
static void push_number(lua_State *L, double v)
{
    if (v == (double)(long long)v && v >= -9007199254740992.0 && v <= 9007199254740992.0)
        hcdl_pushinteger(L, (long long)v);
    else
        lua_pushnumber(L, v);
}

static void push_scope(lua_State *L, int scope)
{
    if (scope == HCDL_PER_BOTH)
        lua_pushliteral(L, "both");
    else if (scope == HCDL_PER_CLIENT)
        lua_pushliteral(L, "client");
    else
        lua_pushliteral(L, "transfer");
}

static void push_row(lua_State *L, const hcdl_option *o)
{
    lua_newtable(L);
    lua_pushstring(L, o->name);
    lua_setfield(L, -2, "name");
    lua_pushstring(L, type_names[o->type]);
    lua_setfield(L, -2, "type");
    lua_pushstring(L, o->unit);
    lua_setfield(L, -2, "unit");
    push_scope(L, o->scope);
    lua_setfield(L, -2, "scope");
    lua_pushstring(L, o->sets);
    lua_setfield(L, -2, "sets");
    if (o->type == HCDL_BOOLEAN) {
        lua_pushboolean(L, o->dflt != 0);
        lua_setfield(L, -2, "default");
    } else if (o->type != HCDL_STRING) {
        push_number(L, o->lo);
        lua_setfield(L, -2, "min");
        push_number(L, o->hi);
        lua_setfield(L, -2, "max");
        if (!(o->type == HCDL_RATE && o->dflt == 0)) {
            push_number(L, o->dflt);
            lua_setfield(L, -2, "default");
        }
    }
}

int hcdl_options_lua(lua_State *L)
{
    int i;
    lua_createtable(L, HCDL_OPT_COUNT, 0);
    for (i = 0; i < HCDL_OPT_COUNT; i++) {
        push_row(L, &hcdl_options[i]);
        lua_rawseti(L, -2, i + 1);
    }
    return 1;
}
