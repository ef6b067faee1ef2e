/*
 * error.c - hcdl error objects (see error.h).
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <lauxlib.h>

#include "compat.h"
#include "error.h"
#include "text.h"

/* The kinds the public contract allows; anything else is a programmer error. */
static const char *const error_kinds[] = {
    "input", "auth", "api", "http", "network", "timeout",
    "io", "integrity", "expired", "throttled", NULL,
};

static int kind_is_known(const char *kind)
{
    const char *const *k;
    for (k = error_kinds; *k != NULL; k++)
        if (strcmp(*k, kind) == 0)
            return 1;
    return 0;
}

/* Bounds, in characters, of what tostring shows of each field: a service
 * can put a megabyte into a message or a request id header. */
#define SHOWN_KIND 40
#define SHOWN_CODE 100
#define SHOWN_MESSAGE 1000
#define SHOWN_REQUEST_ID 200

/* Adds the visible form (text.h) of the string or number at idx. */
static void add_field(luaL_Buffer *b, lua_State *L, int idx, size_t max)
{
    size_t n;
    const char *s;
    char num[64];
    if (lua_type(L, idx) == LUA_TNUMBER) {
        snprintf(num, sizeof num, "%.14g", (double)lua_tonumber(L, idx));
        s = num, n = strlen(num);
    } else {
        s = lua_tolstring(L, idx, &n);
    }
    hcdl_text_add_visible(b, s, n, max);
}

static int is_text(lua_State *L, int idx)
{
    int t = lua_type(L, idx);
    return (t == LUA_TSTRING && hcdl_rawlen(L, idx) > 0) || t == LUA_TNUMBER;
}

/*
 * tostring(err): "hcdl <kind> error[ (HTTP <status>)][ <code>]: <message>
 * [ (request id <id>)]".  Only fields of the table are used, so as long as
 * no secret was put into a field none can appear here.  Every field passes
 * the visible-text escaping and is bounded: the line is one line of
 * printable UTF-8 whatever a service put into the fields.
 */
static int error_tostring(lua_State *L)
{
    luaL_Buffer b;
    char status[32] = "";
    luaL_checktype(L, 1, LUA_TTABLE);
    lua_settop(L, 1);
    lua_getfield(L, 1, "kind");       /* 2 */
    lua_getfield(L, 1, "status");     /* 3 */
    lua_getfield(L, 1, "code");       /* 4 */
    lua_getfield(L, 1, "message");    /* 5 */
    lua_getfield(L, 1, "request_id"); /* 6 */
    if (lua_type(L, 3) == LUA_TNUMBER) {
        lua_Number st = lua_tonumber(L, 3);
        if (st >= 0 && st < 1000) /* HTTP statuses; never a cast of NaN or a huge float */
            snprintf(status, sizeof status, " (HTTP %d)", (int)st);
    }

    luaL_buffinit(L, &b);
    luaL_addstring(&b, "hcdl ");
    if (lua_type(L, 2) == LUA_TSTRING)
        add_field(&b, L, 2, SHOWN_KIND);
    else
        luaL_addstring(&b, "unknown");
    luaL_addstring(&b, " error");
    luaL_addstring(&b, status);
    if (is_text(L, 4)) {
        luaL_addchar(&b, ' ');
        add_field(&b, L, 4, SHOWN_CODE);
    }
    luaL_addstring(&b, ": ");
    if (lua_type(L, 5) == LUA_TSTRING || lua_type(L, 5) == LUA_TNUMBER)
        add_field(&b, L, 5, SHOWN_MESSAGE);
    else
        luaL_addstring(&b, "(no message)");
    if (is_text(L, 6)) {
        luaL_addstring(&b, " (request id ");
        add_field(&b, L, 6, SHOWN_REQUEST_ID);
        luaL_addchar(&b, ')');
    }
    luaL_pushresult(&b);
    return 1;
}

/* One operand of `..` as a string: an hcdl error as tostring(err), a string
 * or number as itself; anything else fails as Lua's own `..` would. */
static void push_concat_piece(lua_State *L, int idx)
{
    int t = lua_type(L, idx);
    if (t == LUA_TTABLE && lua_getmetatable(L, idx)) {
        int ours;
        luaL_getmetatable(L, HCDL_ERROR_MT);
        ours = lua_rawequal(L, -1, -2);
        lua_pop(L, 2);
        if (ours) {
            lua_pushcfunction(L, error_tostring);
            lua_pushvalue(L, idx);
            lua_call(L, 1, 1);
            return;
        }
    }
    if (t == LUA_TSTRING || t == LUA_TNUMBER) {
        lua_pushvalue(L, idx);
        return;
    }
    luaL_error(L, "attempt to concatenate a %s value with an hcdl error", luaL_typename(L, idx));
}

/* "failed: " .. err and err .. "\n": errors concatenate like strings. */
static int error_concat(lua_State *L)
{
    push_concat_piece(L, 1);
    push_concat_piece(L, 2);
    lua_concat(L, 2);
    return 1;
}

void hcdl_error_init(lua_State *L)
{
    if (luaL_newmetatable(L, HCDL_ERROR_MT)) {
        lua_pushcfunction(L, error_tostring);
        lua_setfield(L, -2, "__tostring");
        lua_pushcfunction(L, error_concat);
        lua_setfield(L, -2, "__concat");
        lua_pushliteral(L, "hcdl.error");
        lua_setfield(L, -2, "__name");
    }
    lua_pop(L, 1);
}

void hcdl_error_push(lua_State *L, const char *kind, const char *message)
{
    lua_createtable(L, 0, 6);
    lua_pushstring(L, kind);
    lua_setfield(L, -2, "kind");
    lua_pushstring(L, message);
    lua_setfield(L, -2, "message");
    lua_pushboolean(L, 0);
    lua_setfield(L, -2, "retryable");
    luaL_getmetatable(L, HCDL_ERROR_MT);
    lua_setmetatable(L, -2);
}

int hcdl_error_input(lua_State *L, const char *field, const char *fmt, ...)
{
    va_list ap;
    const char *rule;

    lua_pushnil(L);
    va_start(ap, fmt);
    rule = lua_pushvfstring(L, fmt, ap);
    va_end(ap);
    lua_pushfstring(L, "%s: %s", field, rule);
    hcdl_error_push(L, "input", lua_tostring(L, -1));
    lua_pushstring(L, field);
    lua_setfield(L, -2, "field");
    lua_replace(L, -3); /* error over the rule string */
    lua_pop(L, 1);      /* the "<field>: <rule>" string */
    return 2;
}

int hcdl_error_lnew(lua_State *L)
{
    const char *kind;
    luaL_checktype(L, 1, LUA_TTABLE);
    lua_getfield(L, 1, "kind");
    kind = lua_tostring(L, -1);
    if (lua_type(L, -1) != LUA_TSTRING || !kind_is_known(kind))
        return luaL_argerror(L, 1, "field 'kind' must be one of input, auth, "
                             "api, http, network, timeout, io, integrity, expired, throttled");
    lua_pop(L, 1);

    /* Copy every field, so callers can attach their own context. */
    lua_createtable(L, 0, 8);
    lua_pushnil(L);
    while (lua_next(L, 1) != 0) {
        lua_pushvalue(L, -2);
        lua_insert(L, -2);
        lua_settable(L, -4);
    }
    lua_getfield(L, -1, "message");
    if (lua_isnil(L, -1)) {
        lua_pushstring(L, kind);
        lua_setfield(L, -3, "message");
    }
    lua_pop(L, 1);
    lua_getfield(L, -1, "retryable");
    if (lua_isnil(L, -1)) {
        lua_pushboolean(L, 0);
        lua_setfield(L, -3, "retryable");
    }
    lua_pop(L, 1);
    luaL_getmetatable(L, HCDL_ERROR_MT);
    lua_setmetatable(L, -2);
    return 1;
}

int hcdl_error_lis(lua_State *L)
{
    int is = 0;
    if (lua_getmetatable(L, 1)) {
        luaL_getmetatable(L, HCDL_ERROR_MT);
        is = lua_rawequal(L, -1, -2);
        lua_pop(L, 2);
    }
    lua_pushboolean(L, is);
    return 1;
}
