/*
 * api.h - the APIs as a table of descriptors: a pure build (params ->
 * signed request spec), a pure parse (response -> table or nil, err), and
 * the descriptors themselves for Lua (parameters, answer shape, paging).
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

/*
 * Lua: core.apis() -> { [name] = { name, operation, service, method, path,
 *   fixed_query, empty_ok,
 *   params = { { name, where = "path"|"query"|"body",
 *                type = "string"|"integer"|"time"|"boolean", required, rule,
 *                min, max, default, values, format = "offset"|"utc14",
 *                after, together }, ... },
 *   answer = { list, object, id, link, name, size, size_unit = "KB"|"B",
 *              mtime, mtime_format = "offset"|"utc14"|"iso_utc"|"epoch_ms"|"date",
 *              expires, refresh = "recall"|"errorlog", status, finished,
 *              growing = true when the listed size is a lower bound },
 *   paging = { style = "marker", marker, limit, max, default, iterator, collect }
 *          | { style = "offset", offset, limit, max, default, total, iterator, collect }
 *          | nil } }
 * A fresh table each call.
 */
int hcdl_api_list(lua_State *L);

/* Lua: core.normalize(value) -> value with integral floats as integers
 * and JSON nulls removed from objects (what parse returns). */
int hcdl_api_normalize(lua_State *L);

#endif
