/*
 * param.h - what each parameter kind does, one row per kind
 * (src/param.c): its rule, its check (and wire form), how it goes into a
 * JSON body, and what core.apis() shows of it.
 */
#ifndef HCDL_PARAM_H
#define HCDL_PARAM_H

#include <lauxlib.h>
#include <lua.h>

#include "api_table.h"

/* A time parameter that was not given. */
#define HCDL_NOT_GIVEN (-9223372036854775807LL - 1)

/* Pushes the human rule of p: what every input error about it carries,
 * and core.apis()'s `rule`. */
void hcdl_param_push_rule(lua_State *L, const param_desc *p);

/* Checks the value at stack index v and pushes its wire string; returns 0,
 * or pushes nil, an input error, and returns 2.  A time sets *epoch. */
int hcdl_param_check(lua_State *L, const param_desc *p, int v, long long *epoch);

/* Adds "name":value (the wire string) to a JSON object's members, after a
 * comma unless it is the first. */
void hcdl_param_put_json(luaL_Buffer *b, const param_desc *p, const char *wire, size_t n,
                         int first);

/* Pushes p as core.apis() describes it. */
void hcdl_param_reflect(lua_State *L, const param_desc *p);

#endif
