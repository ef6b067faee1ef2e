/*
 * http.h - libcurl sessions: perform a request spec over a kept-alive
 * connection and return {status, headers, body}.
 */
#ifndef HCDL_HTTP_H
#define HCDL_HTTP_H

#include <stddef.h>

#include <curl/curl.h>
#include <lua.h>

/* A growable byte buffer (malloc'd; always NUL-terminated when non-empty). */
typedef struct {
    char *data;
    size_t len, cap;
} hcdl_buf;

int hcdl_buf_append(hcdl_buf *b, const char *p, size_t n); /* 0 or -1 (ENOMEM) */
void hcdl_buf_reset(hcdl_buf *b, size_t keep);              /* frees when cap > keep */
void hcdl_buf_free(hcdl_buf *b);

/* curl_global_init, once per process (pthread_once): 0 or -1. */
int hcdl_http_global_init(void);

/* Pushes {lower-case name = value} parsed from a raw header block. */
void hcdl_http_push_headers(lua_State *L, const hcdl_buf *h);

/* Pushes the "network" (or "timeout") error for a failed transfer: curl's
 * words with the link query scrubbed, retryable unless retrying cannot help
 * (TLS verification, a malformed URL), and curl_code. */
void hcdl_http_push_curl_error(lua_State *L, CURLcode rc, const char *errbuf);

/* Pushes msg with everything from the first '?' replaced (link queries
 * hold signatures and never appear in errors). */
void hcdl_http_push_scrubbed(lua_State *L, const char *msg);

#define HCDL_SESSION_MT "hcdl.session"

/* Registers the session metatable in this lua_State. */
void hcdl_http_init(lua_State *L);

/* Lua: core.session(opts) -> session */
int hcdl_http_session(lua_State *L);

/* Lua: core.curl_version() -> string */
int hcdl_http_curl_version(lua_State *L);

#endif
