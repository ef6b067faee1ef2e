/*
 * api_reflect.c - core.apis(): the descriptors of src/api_table.c as Lua
 * tables (see api.h), for the client's methods, its paging and refresh,
 * the CLI and the README's tables.
 */
#include <string.h>

#include <lauxlib.h>

#include "api.h"
#include "api_table.h"
#include "compat.h"
#include "fields.h"
#include "param.h"

const api_desc *hcdl_api_check(lua_State *L, int arg)
{
    const char *name = luaL_checkstring(L, arg);
    const api_desc *a = hcdl_api_find(name);
    if (a == NULL)
        luaL_argerror(L, arg, lua_pushfstring(L, "unknown API '%s'", name));
    return a;
}

static void push_answer(lua_State *L, const answer_desc *w)
{
    lua_createtable(L, 0, 8);
    hcdl_set_string(L, "list", w->list);
    hcdl_set_string(L, "object", w->object);
    hcdl_set_string(L, "id", w->id);
    hcdl_set_string(L, "link", w->link);
    hcdl_set_string(L, "name", w->name);
    hcdl_set_string(L, "size", w->size);
    hcdl_set_string(L, "size_unit", w->size_unit);
    hcdl_set_string(L, "mtime", w->mtime);
    hcdl_set_string(L, "mtime_format", w->mtime_format);
    hcdl_set_string(L, "expires", w->expires);
    hcdl_set_string(L, "refresh", w->refresh);
    hcdl_set_string(L, "status", w->status);
    hcdl_set_string(L, "finished", w->finished);
    if (w->growing) {
        lua_pushboolean(L, 1);
        lua_setfield(L, -2, "growing");
    }
}

/* { style, marker|offset, limit, max, default, total, iterator, collect };
 * the page size's bounds come from the limit parameter's own row. */
static void push_paging(lua_State *L, const api_desc *a)
{
    const paging_desc *g = &a->paging;
    const param_desc *limit = &a->params[hcdl_api_param_index(a, g->limit)];
    lua_createtable(L, 0, 8);
    hcdl_set_string(L, "style", g->style == PAGE_MARKER ? "marker" : "offset");
    hcdl_set_string(L, g->style == PAGE_MARKER ? "marker" : "offset", g->cursor);
    hcdl_set_string(L, "limit", g->limit);
    hcdl_set_integer(L, "max", limit->max);
    if (limit->has_default)
        hcdl_set_integer(L, "default", limit->default_value);
    hcdl_set_string(L, "total", g->total);
    hcdl_set_string(L, "iterator", g->iterator);
    hcdl_set_string(L, "collect", g->collect);
}

int hcdl_api_list(lua_State *L)
{
    const api_desc *a;
    lua_newtable(L);
    for (a = hcdl_apis; a->name != NULL; a++) {
        const param_desc *p;
        int i = 0;
        lua_createtable(L, 0, 10);
        hcdl_set_string(L, "name", a->name);
        hcdl_set_string(L, "operation", a->operation);
        hcdl_set_string(L, "service", a->service);
        hcdl_set_string(L, "method", a->method);
        hcdl_set_string(L, "path", a->path);
        hcdl_set_string(L, "fixed_query", a->fixed_query);
        lua_pushboolean(L, a->empty_ok);
        lua_setfield(L, -2, "empty_ok");
        lua_newtable(L);
        for (p = a->params; p->name != NULL; p++) {
            hcdl_param_reflect(L, p);
            lua_rawseti(L, -2, ++i);
        }
        lua_setfield(L, -2, "params");
        push_answer(L, &a->answer);
        lua_setfield(L, -2, "answer");
        if (a->paging.style != PAGE_NONE) {
            push_paging(L, a);
            lua_setfield(L, -2, "paging");
        }
        lua_setfield(L, -2, a->name);
    }
    return 1;
}
