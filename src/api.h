/*
 * api.h - the link APIs as a table of descriptors: a pure build (params ->
 * signed request spec) and a pure parse (response -> table or nil, err).
 */
#ifndef HCDL_API_H
#define HCDL_API_H

#include <lua.h>

/* Lua: core.build(api_name, params, auth) -> spec | nil, err
 * Upvalue 1: core.sign. */
int hcdl_api_build(lua_State *L);

/* Lua: core.parse(api_name, res) -> data | nil, err
 * Upvalue 1: a private lua-cjson instance (cjson.safe.new()). */
int hcdl_api_parse(lua_State *L);

/* Lua: core.apis() -> { name = { service =, method =, path = }, ... } */
int hcdl_api_list(lua_State *L);

/* Lua: core.normalize(value) -> value with integral floats as integers
 * and JSON nulls removed from objects (what parse returns). */
int hcdl_api_normalize(lua_State *L);

#endif
