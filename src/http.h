/*
 * http.h - what every libcurl transfer in hcdl shares: process-wide
 * initialisation, the network options (one table of curl options, set the
 * same way for API calls and downloads), response headers as a Lua table,
 * and the one place a curl failure becomes an hcdl error.
 */
#ifndef HCDL_HTTP_H
#define HCDL_HTTP_H

#include <curl/curl.h>
#include <lua.h>

#include "buf.h"
#include "options.h"

/* curl_global_init, once per process (pthread_once): 0 or -1. */
int hcdl_http_global_init(void);

/* Network options of a client: the HCDL_PER_CLIENT rows of the option
 * table (options.h), owned copies (freed by hcdl_net_free). */
typedef struct {
    hcdl_optval v[HCDL_OPT_COUNT];
} hcdl_net;

/* Reads the options table at idx (nil: defaults).  0, or pushes nil, err
 * (an "input" error naming the option) and returns 2. */
int hcdl_net_read(lua_State *L, int idx, hcdl_net *n);
void hcdl_net_free(hcdl_net *n);

/* An option's number (milliseconds for seconds); 0 when not set. */
long long hcdl_net_num(const hcdl_net *n, hcdl_opt_id id);

/* The curl options every transfer gets from the client's settings. */
CURLcode hcdl_net_apply(CURL *easy, const hcdl_net *n);

/* Pushes {lower-case name = value} parsed from a raw header block. */
void hcdl_http_push_headers(lua_State *L, const hcdl_buf *h);

/* Pushes the "network" (or "timeout") error for a failed transfer: curl's
 * words with link queries scrubbed, retryable unless retrying cannot help
 * (TLS verification, a malformed URL), curl_code, and failover = true when
 * the request never reached a server (resolve, connect, TLS handshake, a
 * timeout before the transfer began: began == 0), so another endpoint may
 * be tried.  began: 1 the transfer began, 0 it did not, -1 not known. */
void hcdl_http_push_curl_error(lua_State *L, CURLcode rc, const char *errbuf, int began);

/* Lua: core.curl_version() -> string */
int hcdl_http_curl_version(lua_State *L);

#endif
