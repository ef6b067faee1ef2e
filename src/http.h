/*
 * http.h - libcurl sessions: perform a request spec over a kept-alive
 * connection and return {status, headers, body}.
 */
#ifndef HCDL_HTTP_H
#define HCDL_HTTP_H

#include <lua.h>

#define HCDL_SESSION_MT "hcdl.session"

/* Registers the session metatable in this lua_State. */
void hcdl_http_init(lua_State *L);

/* Lua: core.session(opts) -> session */
int hcdl_http_session(lua_State *L);

/* Lua: core.curl_version() -> string */
int hcdl_http_curl_version(lua_State *L);

#endif
