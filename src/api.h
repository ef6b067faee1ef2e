/*
 * api.h - the APIs as a table of descriptors (src/api_table.c): a pure
 * build (params -> signed request spec, src/api_build.c), a pure parse
 * (response -> table or nil, err, src/api_parse.c), and the descriptors
 * themselves for Lua (parameters, answer shape, paging: src/api_reflect.c).
 */
#ifndef HCDL_API_H
#define HCDL_API_H

#include <stddef.h>

#include <lua.h>

#include "api_table.h"

/* An answer as parse reads it. */
typedef struct {
    long status;
    const char *body;        /* "" when none; NUL-terminated */
    size_t body_len;
    const char *request_id;  /* the X-Request-Id header, or NULL */
    const char *retry_after; /* the Retry-After header, or NULL */
} hcdl_api_answer;

/* The row named by the string at arg; raises when there is none. */
const api_desc *hcdl_api_check(lua_State *L, int arg);

/* Pushes what core.parse returns for answer `in` to API a: the data (1),
 * or nil, err (2).  decoder: index of the private lua-cjson instance,
 * whose null an array's null becomes.  in->body[in->body_len] must be '\0'
 * (src/json_decode.h). */
int hcdl_api_answer_push(lua_State *L, const api_desc *a, int decoder,
                         const hcdl_api_answer *in);

/* Lua: core.build(api_name, params, auth) -> spec | nil, err
 * Upvalue 1: the signer's crypto context (src/api_build.c). */
int hcdl_api_build(lua_State *L);

/* Lua: core.call(engine, api_name, params, auth, timeout, max_body)
 *   -> ticket | nil, err: build, sign and start in one call (src/api_call.c).
 * Upvalue 1: the signer's crypto context. */
int hcdl_api_call_lua(lua_State *L);

/* Lua: core.answer(ticket) -> data | nil, err, request: the finished
 * ticket of core.call read as core.parse reads an answer.
 * Upvalue 1: a private lua-cjson instance. */
int hcdl_api_answer_lua(lua_State *L);

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
