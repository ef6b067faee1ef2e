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

/* curl_global_init, once per process (pthread_once): 0 or -1. */
int hcdl_http_global_init(void);

/* Network options of a client, owned copies (freed by hcdl_net_free). */
typedef struct {
    long connect_timeout_ms; /* default 10 s */
    long low_speed_limit;    /* bytes/s below which a transfer is stalled; 0 = off */
    long low_speed_time;     /* ... for this many seconds */
    long buffer_size;        /* receive buffer, bytes */
    long max_host_connections;
    int verify_tls;
    char *cafile, *proxy, *user_agent;
} hcdl_net;

/* Reads the options table at idx (nil: defaults).  0, or pushes nil, err
 * (an "input" error naming the option) and returns 2. */
int hcdl_net_read(lua_State *L, int idx, hcdl_net *n);
void hcdl_net_free(hcdl_net *n);

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
