/*
 * http.c - see http.h.
 *
 * curl_global_init runs once per process, guarded by pthread_once, on the
 * first engine (never at load time), as libcurl requires.
 */
#define _POSIX_C_SOURCE 200809L

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lauxlib.h>

#include "compat.h"
#include "error.h"
#include "http.h"
#include "redact.h"

#ifndef HCDL_VERSION
#error "HCDL_VERSION is not defined: the Makefile (VERSION) is the one place it is kept"
#endif

static pthread_once_t global_once = PTHREAD_ONCE_INIT;
static CURLcode global_rc = CURLE_FAILED_INIT; /* written once, under the once */

static void global_init(void)
{
    global_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

int hcdl_http_global_init(void)
{
    if (pthread_once(&global_once, global_init) != 0)
        return -1;
    return global_rc == CURLE_OK ? 0 : -1;
}

/* ---- network options ------------------------------------------------------ */

/* Without a user_agent: hcdl/<version> libcurl/<version>. */
static int default_user_agent(lua_State *L, hcdl_optval *ua)
{
    char text[128];
    curl_version_info_data *v = curl_version_info(CURLVERSION_NOW);
    snprintf(text, sizeof text, "hcdl/%s libcurl/%s", HCDL_VERSION, v != NULL ? v->version : "?");
    ua->str = malloc(strlen(text) + 1);
    if (ua->str == NULL)
        return luaL_error(L, "hcdl: out of memory");
    strcpy(ua->str, text);
    ua->set = 1;
    return 0;
}

int hcdl_net_read(lua_State *L, int idx, hcdl_net *n)
{
    int rc = hcdl_options_read(L, idx, HCDL_PER_CLIENT, 1, n->v);
    if (rc == 0 && !n->v[HCDL_OPT_USER_AGENT].set)
        rc = default_user_agent(L, &n->v[HCDL_OPT_USER_AGENT]);
    if (rc != 0)
        hcdl_net_free(n);
    return rc;
}

void hcdl_net_free(hcdl_net *n)
{
    hcdl_options_free(n->v);
}

long long hcdl_net_num(const hcdl_net *n, hcdl_opt_id id)
{
    return n->v[id].set ? n->v[id].num : 0;
}

/*
 * The curl options every transfer gets: the fixed ones, then the client's
 * rows of the option table.  Why each fixed one: NOSIGNAL - threads, and
 * signals belong to the host; no redirects - neither the APIs nor the
 * links redirect, and following one could leak a signature to another
 * host; http/https only; PATH_AS_IS - links are sent byte for byte, dot
 * segments included (they are signed); keep-alive probes so idle pooled
 * connections notice a dead peer.
 */
CURLcode hcdl_net_apply(CURL *easy, const hcdl_net *n)
{
    CURLcode rc = CURLE_OK;
#define SET(opt, val)                                                          \
    do {                                                                       \
        if (rc == CURLE_OK)                                                    \
            rc = curl_easy_setopt(easy, opt, val);                             \
    } while (0)
    SET(CURLOPT_NOSIGNAL, 1L);
    SET(CURLOPT_FOLLOWLOCATION, 0L);
    SET(CURLOPT_PROTOCOLS_STR, "http,https");
    SET(CURLOPT_PATH_AS_IS, 1L);
    SET(CURLOPT_TCP_KEEPALIVE, 1L);
#undef SET
    if (rc == CURLE_OK)
        rc = hcdl_options_apply(easy, n->v, HCDL_PER_CLIENT);
    return rc;
}

/* ---- answers ---------------------------------------------------------------- */

/* Pushes {name(lower-case) = value} from the raw header block. */
void hcdl_http_push_headers(lua_State *L, const hcdl_buf *h)
{
    const char *p = h->data, *end = h->data + h->len;
    lua_newtable(L);
    if (p == NULL)
        return;
    /* skip the status line */
    while (p < end && *p != '\n')
        p++;
    while (p < end) {
        const char *line = ++p, *colon, *eol, *v, *ve;
        char name[256];
        size_t nlen, i;
        while (p < end && *p != '\n')
            p++;
        eol = p;
        colon = memchr(line, ':', (size_t)(eol - line));
        if (colon == NULL || colon == line)
            continue;
        nlen = (size_t)(colon - line);
        if (nlen >= sizeof name)
            continue;
        for (i = 0; i < nlen; i++) {
            char c = line[i];
            name[i] = (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
        }
        v = colon + 1;
        ve = eol;
        while (v < ve && (*v == ' ' || *v == '\t'))
            v++;
        while (ve > v && (ve[-1] == '\r' || ve[-1] == ' ' || ve[-1] == '\t'))
            ve--;
        lua_pushlstring(L, name, nlen);
        lua_pushvalue(L, -1);
        lua_rawget(L, -3);
        if (lua_isnil(L, -1)) {
            lua_pop(L, 1);
            lua_pushlstring(L, v, (size_t)(ve - v));
        } else {
            /* repeated header: join as HTTP allows */
            lua_pushlstring(L, ", ", 2);
            lua_pushlstring(L, v, (size_t)(ve - v));
            lua_concat(L, 3);
        }
        lua_rawset(L, -3);
    }
}

/* The request never reached a server, so another endpoint may be tried:
 * a name that does not resolve, a refused or unreachable address, a failed
 * TLS handshake or certificate check, or a timeout before the transfer
 * began (began < 0: not known).  Nothing local (a proxy, a CA file) is
 * here: another endpoint would not help. */
static int never_reached(CURLcode rc, int began)
{
    if (rc == CURLE_OPERATION_TIMEDOUT)
        return began == 0;
    return rc == CURLE_COULDNT_RESOLVE_HOST || rc == CURLE_COULDNT_CONNECT ||
           rc == CURLE_SSL_CONNECT_ERROR || rc == CURLE_PEER_FAILED_VERIFICATION ||
           rc == CURLE_SSL_ISSUER_ERROR || rc == CURLE_SSL_INVALIDCERTSTATUS;
}

void hcdl_http_push_curl_error(lua_State *L, CURLcode rc, const char *errbuf, int began)
{
    /* trying again cannot fix these */
    int retryable = !(rc == CURLE_SSL_CACERT_BADFILE || rc == CURLE_PEER_FAILED_VERIFICATION ||
                      rc == CURLE_SSL_CERTPROBLEM || rc == CURLE_UNSUPPORTED_PROTOCOL ||
                      rc == CURLE_URL_MALFORMAT);
    if (errbuf != NULL && errbuf[0] != '\0') {
        hcdl_redact_push_links(L, errbuf);
        lua_pushfstring(L, "%s (%s)", curl_easy_strerror(rc), lua_tostring(L, -1));
        lua_remove(L, -2);
    } else {
        lua_pushstring(L, curl_easy_strerror(rc));
    }
    hcdl_error_push(L, rc == CURLE_OPERATION_TIMEDOUT ? "timeout" : "network",
                    lua_tostring(L, -1));
    lua_remove(L, -2);
    lua_pushboolean(L, retryable);
    lua_setfield(L, -2, "retryable");
    hcdl_pushinteger(L, (int)rc);
    lua_setfield(L, -2, "curl_code");
    if (never_reached(rc, began)) {
        lua_pushboolean(L, 1);
        lua_setfield(L, -2, "failover");
    }
}

int hcdl_http_curl_version(lua_State *L)
{
    lua_pushstring(L, curl_version());
    return 1;
}
