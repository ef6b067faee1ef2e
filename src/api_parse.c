/*
 * api_parse.c - an API answer as Lua sees it (see api.h): a table, or nil
 * and an error carrying the service's error_code, error_msg and
 * X-Request-Id.  Service data of the wrong shape is an error, never a
 * crash.  No I/O: the answer comes as values, from core.parse's table or
 * straight from a finished transfer (src/api_call.c).
 *
 * Facts and their sources: docs/apis.md "Errors, request ids and retries".
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lauxlib.h>

#include "api.h"
#include "compat.h"
#include "error.h"
#include "json_decode.h"
#include "status.h"

#define MAX_DEPTH 64

/*
 * Integral floats become integers (Debian's lua-cjson decodes 5 as 5.0 on
 * Lua 5.3+), and JSON nulls are removed from objects so a missing value
 * reads as nil; the object then gets a metatable whose field hcdl_nulls
 * is the set of keys that were null, so that `hcdl --json` can write them
 * back as null (lua/hcdl/cli/output.lua).  In arrays a null stays the
 * decoder's null (hcdl.null), keeping the positions and the service's
 * meaning: no value, which false would change.  Strings, such as ids, are
 * never converted.
 *
 * Answers get these rules from src/json_decode.c while they are decoded;
 * normalize below applies them to a value decoded elsewhere
 * (core.normalize), and is what tests/json_decode_spec.lua compares with.
 */
/* The decoder's null: lua-cjson's is a NULL light userdata, Neovim's
 * vim.json uses vim.NIL; the decoder (at index decoder) names its own. */
static int is_json_null(lua_State *L, int idx, int decoder)
{
    int t = lua_type(L, idx), r = 0;
    if (t == LUA_TLIGHTUSERDATA)
        return lua_touserdata(L, idx) == NULL;
    if (t != LUA_TUSERDATA || !lua_istable(L, decoder))
        return 0;
    idx = hcdl_absindex(L, idx);
    lua_getfield(L, decoder, "null");
    r = lua_rawequal(L, -1, idx);
    lua_pop(L, 1);
    return r;
}

/* Records the key on top of the stack as a null one: in the set at *nulls
 * (created under the key on first use; its stack index is kept). */
static void note_null_key(lua_State *L, int *nulls)
{
    if (*nulls == 0) {
        lua_newtable(L);
        lua_insert(L, -2);
        *nulls = lua_gettop(L) - 1;
    }
    lua_pushvalue(L, -1);
    lua_pushboolean(L, 1);
    lua_rawset(L, *nulls);
}

static void normalize(lua_State *L, int idx, int depth, int decoder)
{
    int nulls = 0;
    idx = hcdl_absindex(L, idx);
    if (depth > MAX_DEPTH)
        return;
    /* a level holds key, value and copies, and the null set: room for them
     * (a C function is promised only LUA_MINSTACK slots, and the stack may
     * be shrunk to that by a collection) */
    luaL_checkstack(L, 6, "core.normalize");
    lua_pushnil(L);
    while (lua_next(L, idx) != 0) {
        int t = lua_type(L, -1);
        if (t == LUA_TTABLE) {
            normalize(L, -1, depth + 1, decoder);
        } else if (is_json_null(L, -1, decoder)) {
            if (lua_type(L, -2) != LUA_TNUMBER) {
                lua_pop(L, 1);
                note_null_key(L, &nulls);
                lua_pushvalue(L, -1);
                lua_pushnil(L); /* clearing a field during lua_next is allowed */
                lua_rawset(L, idx);
                continue;
            }
#if LUA_VERSION_NUM >= 503
        } else if (t == LUA_TNUMBER && !lua_isinteger(L, -1)) {
            lua_Number x = lua_tonumber(L, -1);
            if (x == floor(x) && x >= -9007199254740992.0 && x <= 9007199254740992.0) {
                lua_pushvalue(L, -2);
                lua_pushinteger(L, (lua_Integer)x);
                lua_rawset(L, idx);
            }
#endif
        }
        lua_pop(L, 1);
    }
    if (nulls != 0 && !lua_getmetatable(L, idx)) {
        lua_createtable(L, 0, 1);
        lua_insert(L, -2);
        lua_setfield(L, -2, "hcdl_nulls");
        lua_setmetatable(L, idx);
    } else if (nulls != 0) {
        lua_pop(L, 2); /* a table that already has a metatable keeps it */
    }
}

int hcdl_api_normalize(lua_State *L)
{
    lua_settop(L, 1);
    if (lua_istable(L, 1))
        normalize(L, 1, 0, lua_upvalueindex(1));
    return 1;
}

static const char *header(lua_State *L, int res, const char *name)
{
    const char *v = NULL;
    lua_getfield(L, res, "headers");
    if (lua_istable(L, -1)) {
        lua_getfield(L, -1, name);
        if (lua_type(L, -1) == LUA_TSTRING)
            v = lua_tostring(L, -1);
        lua_pop(L, 1);
    }
    lua_pop(L, 1);
    return v; /* alive: a field of res.headers */
}

/* Pushes an error code as a string: 4001, not "4001.0" (cjson decodes
 * JSON numbers as floats on Lua 5.3+). */
static void push_code(lua_State *L, int idx)
{
    if (lua_type(L, idx) == LUA_TNUMBER) {
        lua_Number x = lua_tonumber(L, idx);
        if (x == floor(x) && fabs(x) < 9007199254740992.0) {
            char buf[32];
            snprintf(buf, sizeof buf, "%.0f", (double)x);
            lua_pushstring(L, buf);
            return;
        }
    }
    lua_pushstring(L, lua_tostring(L, idx));
}

/* Finds error code and message in a decoded body (the SDKs' order). */
static void find_error_fields(lua_State *L, int obj, int depth, int err)
{
    static const char *const pairs[][2] = {
        {"error_code", "error_msg"}, {"errorCode", "errorMsg"}, {"code", "message"},
    };
    size_t i;
    obj = hcdl_absindex(L, obj);
    for (i = 0; i < sizeof pairs / sizeof pairs[0]; i++) {
        lua_getfield(L, obj, pairs[i][0]);
        if (lua_type(L, -1) == LUA_TSTRING || lua_type(L, -1) == LUA_TNUMBER) {
            push_code(L, -1); /* numbers become strings */
            lua_setfield(L, err, "code");
            lua_pop(L, 1);
            lua_getfield(L, obj, pairs[i][1]);
            if (lua_type(L, -1) == LUA_TSTRING)
                lua_setfield(L, err, "message");
            else
                lua_pop(L, 1);
            return;
        }
        lua_pop(L, 1);
    }
    if (depth > 0)
        return;
    /* e.g. {"NeutronError": {...}}: one level down */
    lua_pushnil(L);
    while (lua_next(L, obj) != 0) {
        if (lua_istable(L, -1)) {
            lua_getfield(L, err, "code");
            if (lua_isnil(L, -1)) {
                lua_pop(L, 1);
                find_error_fields(L, -1, depth + 1, err);
            } else {
                lua_pop(L, 1);
            }
        }
        lua_pop(L, 1);
    }
}

/* True when the table at idx is a JSON array as cjson decodes it: only the
 * keys 1..n.  An empty table is one too ([] and {} decode alike). */
static int is_array(lua_State *L, int idx)
{
    size_t n = hcdl_rawlen(L, idx), count = 0;
    idx = hcdl_absindex(L, idx);
    lua_pushnil(L);
    while (lua_next(L, idx) != 0) {
        lua_Number k;
        lua_pop(L, 1);
        if (lua_type(L, -1) != LUA_TNUMBER) {
            lua_pop(L, 1);
            return 0;
        }
        k = lua_tonumber(L, -1);
        if (k != floor(k) || k < 1 || k > (lua_Number)n) {
            lua_pop(L, 1);
            return 0;
        }
        count++;
    }
    return count == n;
}

/* The answer of a 204 (or of an empty 2xx body): no entries. */
static void push_empty_answer(lua_State *L, const api_desc *a)
{
    lua_newtable(L);
    if (!a->empty_ok)
        return;
    if (a->answer.list != NULL) {
        lua_newtable(L);
        lua_setfield(L, -2, a->answer.list);
    }
    if (a->paging.total != NULL) {
        hcdl_pushinteger(L, 0);
        lua_setfield(L, -2, a->paging.total);
    }
}

/*
 * Service data of the wrong shape must not reach code that indexes it: the
 * entries must be a list of objects, the one entry an object.  Returns 1
 * (the answer at data stays on top), or pushes nil, an "api" error whose
 * field names the offending field, and returns 2.
 */
static int check_answer(lua_State *L, const api_desc *a, int data, int status,
                        const char *request_id)
{
    const char *field = a->answer.list != NULL ? a->answer.list : a->answer.object;
    const char *problem = NULL;
    if (field == NULL)
        return 1;
    lua_getfield(L, data, field);
    if (lua_isnil(L, -1)) {
        lua_pop(L, 1);
        return 1; /* absent: the helpers say what they miss */
    }
    if (!lua_istable(L, -1)) {
        problem = lua_type(L, -1) == LUA_TSTRING ? "a string"
                  : lua_type(L, -1) == LUA_TNUMBER ? "a number" : "a boolean";
    } else if (a->answer.list != NULL) {
        size_t i, n = hcdl_rawlen(L, -1);
        if (!is_array(L, -1))
            problem = "an object";
        for (i = 1; i <= n && problem == NULL; i++) {
            lua_rawgeti(L, -1, (int)i);
            if (!lua_istable(L, -1))
                problem = "a list with an entry that is not an object";
            lua_pop(L, 1);
        }
    } else if (hcdl_rawlen(L, -1) > 0) {
        problem = "an array";
    }
    lua_pop(L, 1);
    if (problem == NULL)
        return 1;
    lua_pushnil(L);
    lua_pushfstring(L, "%s answered HTTP %d with '%s' that is %s, not %s", a->name, status,
                    field, problem, a->answer.list != NULL ? "a list of objects" : "an object");
    hcdl_error_push(L, "api", lua_tostring(L, -1));
    lua_remove(L, -2);
    lua_pushstring(L, field);
    lua_setfield(L, -2, "field");
    hcdl_pushinteger(L, status);
    lua_setfield(L, -2, "status");
    lua_pushstring(L, a->name);
    lua_setfield(L, -2, "api");
    lua_pushboolean(L, 0);
    lua_setfield(L, -2, "retryable");
    if (request_id != NULL) {
        lua_pushstring(L, request_id);
        lua_setfield(L, -2, "request_id");
    }
    return 2;
}

/*
 * An error answer's kind and retryable flag, from the one rule
 * (src/status.c).  An answer the rule calls "http" that carries the
 * service's own error code is the service's refusal: kind "api".
 */
static void set_answer_class(lua_State *L, int err, lua_Integer status, const char *code)
{
    hcdl_status_class c = hcdl_status_classify((long)status, code);
    lua_pushstring(L, strcmp(c.kind, "http") == 0 && code != NULL ? "api" : c.kind);
    lua_setfield(L, err, "kind");
    lua_pushboolean(L, c.retryable);
    lua_setfield(L, err, "retryable");
}

/* A 2xx answer: the decoded object, checked, or nil, err. */
static int parse_success(lua_State *L, const api_desc *a, int decoder, const hcdl_api_answer *in)
{
    if (in->status == 204 || in->body_len == 0) {
        push_empty_answer(L, a);
        return 1;
    }
    /* the answers are JSON objects: an array (a table with items) is not;
     * decoded with normalize's rules applied (src/json_decode.h) */
    if (!hcdl_json_decode(L, in->body, in->body_len, decoder) || !lua_istable(L, -1) ||
        hcdl_rawlen(L, -1) > 0) {
        lua_pushnil(L);
        lua_pushfstring(L, "%s answered HTTP %d with a body that is not a JSON "
                        "object (%d bytes)", a->name, (int)in->status, (int)in->body_len);
        hcdl_error_push(L, "http", lua_tostring(L, -1));
        lua_remove(L, -2);
        hcdl_pushinteger(L, in->status);
        lua_setfield(L, -2, "status");
        lua_pushboolean(L, 1); /* a truncated or garbled answer may not recur */
        lua_setfield(L, -2, "retryable");
        if (in->request_id != NULL) {
            lua_pushstring(L, in->request_id);
            lua_setfield(L, -2, "request_id");
        }
        return 2;
    }
    return check_answer(L, a, lua_gettop(L), (int)in->status, in->request_id);
}

/* The error's code and message from the body, and its request id when no
 * header gave one. */
static void read_error_body(lua_State *L, int decoder, int err, const hcdl_api_answer *in)
{
    if (in->body_len == 0 || !hcdl_json_decode(L, in->body, in->body_len, decoder))
        return;
    if (lua_istable(L, -1)) {
        find_error_fields(L, -1, 0, err);
        lua_getfield(L, -1, "request_id");
        if (in->request_id == NULL && lua_type(L, -1) == LUA_TSTRING)
            lua_setfield(L, err, "request_id");
        else
            lua_pop(L, 1);
    }
    lua_pop(L, 1);
}

/* The message, when the service gave none. */
static void set_default_message(lua_State *L, const api_desc *a, int err, long status)
{
    lua_getfield(L, err, "code");
    set_answer_class(L, err, status, lua_isnil(L, -1) ? NULL : lua_tostring(L, -1));
    if (!lua_isnil(L, -1)) {
        lua_getfield(L, err, "message");
        if (lua_type(L, -1) != LUA_TSTRING || hcdl_rawlen(L, -1) == 0) {
            lua_pushfstring(L, "%s failed with HTTP %d", a->name, (int)status);
            lua_setfield(L, err, "message");
        }
        lua_pop(L, 1);
    } else {
        lua_pushfstring(L, "%s failed with HTTP %d and no error code in the body",
                        a->name, (int)status);
        lua_setfield(L, err, "message");
    }
    lua_pop(L, 1);
}

/* An error answer: nil, err. */
static int parse_failure(lua_State *L, const api_desc *a, int decoder, const hcdl_api_answer *in)
{
    int err;
    lua_pushnil(L);
    hcdl_error_push(L, "http", "");
    err = lua_gettop(L);
    hcdl_pushinteger(L, in->status);
    lua_setfield(L, err, "status");
    if (in->request_id != NULL) {
        lua_pushstring(L, in->request_id);
        lua_setfield(L, err, "request_id");
    }
    if (in->retry_after != NULL) {
        char *end;
        double secs = strtod(in->retry_after, &end);
        if (end != in->retry_after && *end == '\0' && secs >= 0) {
            lua_pushnumber(L, secs);
            lua_setfield(L, err, "retry_after");
        }
    }
    lua_pushstring(L, a->name);
    lua_setfield(L, err, "api");
    read_error_body(L, decoder, err, in);
    set_default_message(L, a, err, in->status);
    lua_settop(L, err);
    return 2;
}

int hcdl_api_answer_push(lua_State *L, const api_desc *a, int decoder, const hcdl_api_answer *in)
{
    if (decoder < 0 && decoder > LUA_REGISTRYINDEX)
        decoder = hcdl_absindex(L, decoder);
    if (in->status >= 200 && in->status < 300)
        return parse_success(L, a, decoder, in);
    return parse_failure(L, a, decoder, in);
}

/*
 * core.parse(api, res) -> data | nil, err
 * res = { status =, headers = {lower-case name = value}, body = }
 */
int hcdl_api_parse(lua_State *L)
{
    const api_desc *a = hcdl_api_check(L, 1);
    hcdl_api_answer in;

    luaL_checktype(L, 2, LUA_TTABLE);
    lua_settop(L, 2);
    lua_getfield(L, 2, "status");
    in.status = (long)lua_tonumber(L, -1);
    lua_pop(L, 1);
    lua_getfield(L, 2, "body"); /* stays on the stack: alive */
    in.body = lua_type(L, -1) == LUA_TSTRING ? lua_tolstring(L, -1, &in.body_len) : "";
    if (lua_type(L, -1) != LUA_TSTRING)
        in.body_len = 0;
    in.request_id = header(L, 2, "x-request-id");
    in.retry_after = header(L, 2, "retry-after");
    return hcdl_api_answer_push(L, a, lua_upvalueindex(1), &in);
}
