/*
 * http.c - libcurl sessions (see http.h).
 *
 * A session owns one easy handle, so consecutive calls reuse the kept-alive
 * connection.  Nothing in a transfer touches Lua: the request is read from
 * the spec table first, libcurl runs with plain C callbacks writing into
 * buffers owned by the session, and only then are results pushed.  So a Lua
 * error (out of memory while pushing) can never strand a malloc'd block,
 * and the callbacks never longjmp through libcurl.
 *
 * curl_global_init runs once per process, guarded by pthread_once, on the
 * first session (never at load time), as libcurl requires.
 */
#define _POSIX_C_SOURCE 200809L

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>
#include <lauxlib.h>

#include "compat.h"
#include "error.h"
#include "http.h"

#ifndef HCDL_VERSION
#define HCDL_VERSION "0.0.0"
#endif

#define DEFAULT_MAX_BODY (16u * 1024u * 1024u)

typedef struct {
    CURL *easy;
    char errbuf[CURL_ERROR_SIZE];
    hcdl_buf body;
    hcdl_buf headers;    /* raw header lines of the last response */
    size_t max_body;
    int body_overflow;
    int alloc_failed;
    long timeout_ms;    /* default total time per request; 0 = none */
} session;

static pthread_once_t global_once = PTHREAD_ONCE_INIT;
static CURLcode global_rc = CURLE_FAILED_INIT; /* written once, under the once */

static void global_init(void)
{
    global_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

int hcdl_http_global_init(void)
{
    pthread_once(&global_once, global_init);
    return global_rc == CURLE_OK ? 0 : -1;
}

/* ---- buffers ------------------------------------------------------------ */

int hcdl_buf_append(hcdl_buf *b, const char *p, size_t n)
{
    if (n > ((size_t)-1) - b->len - 1)
        return -1;
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        char *q;
        while (cap < b->len + n + 1)
            cap = cap > ((size_t)-1) / 2 ? b->len + n + 1 : cap * 2;
        q = realloc(b->data, cap);
        if (q == NULL)
            return -1;
        b->data = q;
        b->cap = cap;
    }
    memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
    return 0;
}

void hcdl_buf_reset(hcdl_buf *b, size_t keep)
{
    b->len = 0;
    /* Don't hold on to a huge buffer after one big answer. */
    if (b->cap > keep) {
        free(b->data);
        b->data = NULL;
        b->cap = 0;
    }
}

void hcdl_buf_free(hcdl_buf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

/* ---- libcurl callbacks (plain C, no Lua) -------------------------------- */

static size_t on_body(char *ptr, size_t size, size_t nmemb, void *ud)
{
    session *s = ud;
    size_t n = size * nmemb;
    if (s->body.len + n > s->max_body) {
        s->body_overflow = 1;
        return 0; /* aborts the transfer with CURLE_WRITE_ERROR */
    }
    if (hcdl_buf_append(&s->body, ptr, n) != 0) {
        s->alloc_failed = 1;
        return 0;
    }
    return n;
}

static size_t on_header(char *ptr, size_t size, size_t nmemb, void *ud)
{
    session *s = ud;
    size_t n = size * nmemb;
    /* A new status line starts a new response (1xx, proxy CONNECT). */
    if (n >= 5 && memcmp(ptr, "HTTP/", 5) == 0)
        s->headers.len = 0;
    if (s->headers.len + n > 1024 * 1024 || hcdl_buf_append(&s->headers, ptr, n) != 0) {
        s->alloc_failed = 1;
        return 0;
    }
    return n;
}

/* ---- session ------------------------------------------------------------ */

static session *check_session(lua_State *L, int idx)
{
    session *s = luaL_checkudata(L, idx, HCDL_SESSION_MT);
    if (s->easy == NULL)
        luaL_argerror(L, idx, "session is closed");
    return s;
}

static void session_release(session *s)
{
    if (s->easy != NULL) {
        curl_easy_cleanup(s->easy);
        s->easy = NULL;
    }
    hcdl_buf_free(&s->body);
    hcdl_buf_free(&s->headers);
}

static int session_gc(lua_State *L)
{
    session *s = luaL_checkudata(L, 1, HCDL_SESSION_MT);
    session_release(s);
    return 0;
}

static int session_close(lua_State *L)
{
    session *s = luaL_checkudata(L, 1, HCDL_SESSION_MT);
    session_release(s);
    return 0;
}

/* Reads an optional number field (seconds) as milliseconds; -1 when absent. */
static int opt_ms(lua_State *L, int t, const char *field, long *out)
{
    lua_Number v;
    lua_getfield(L, t, field);
    if (lua_isnil(L, -1)) {
        lua_pop(L, 1);
        *out = -1;
        return 0;
    }
    if (lua_type(L, -1) != LUA_TNUMBER) {
        lua_pop(L, 1);
        return hcdl_error_input(L, field, "must be a number of seconds");
    }
    v = lua_tonumber(L, -1);
    lua_pop(L, 1);
    if (!(v >= 0 && v <= 86400.0 * 30))
        return hcdl_error_input(L, field, "must be between 0 and 2592000 seconds");
    *out = (long)(v * 1000.0 + 0.5);
    if (*out == 0 && v > 0)
        *out = 1; /* 0 would mean "no limit" to libcurl */
    return 0;
}

static int opt_string(lua_State *L, int t, const char *field, const char **out)
{
    lua_getfield(L, t, field);
    if (lua_isnil(L, -1)) {
        lua_pop(L, 1);
        *out = NULL;
        return 0;
    }
    if (lua_type(L, -1) != LUA_TSTRING) {
        lua_pop(L, 1);
        return hcdl_error_input(L, field, "must be a string");
    }
    *out = lua_tostring(L, -1);
    lua_pop(L, 1); /* alive: it is a field of the options table */
    return 0;
}

#define SETOPT(opt, val)                                                     \
    do {                                                                     \
        if ((rc = curl_easy_setopt(s->easy, opt, val)) != CURLE_OK)          \
            goto setopt_failed;                                              \
    } while (0)

/*
 * core.session{ timeout =, connect_timeout =, low_speed_limit =,
 *   low_speed_time =, cafile =, verify_tls =, proxy =, user_agent =,
 *   max_body = } -> session | nil, err
 */
int hcdl_http_session(lua_State *L)
{
    session *s;
    long timeout_ms, connect_ms, low_time_ms;
    const char *cafile, *proxy, *user_agent;
    lua_Integer low_speed = 0, max_body = DEFAULT_MAX_BODY;
    int verify = 1, rc_lua;
    CURLcode rc;
    char ua[128];

    if (lua_isnoneornil(L, 1)) {
        lua_settop(L, 0);
        lua_newtable(L);
    }
    luaL_checktype(L, 1, LUA_TTABLE);
    lua_settop(L, 1);

    if ((rc_lua = opt_ms(L, 1, "timeout", &timeout_ms)) != 0 ||
        (rc_lua = opt_ms(L, 1, "connect_timeout", &connect_ms)) != 0 ||
        (rc_lua = opt_ms(L, 1, "low_speed_time", &low_time_ms)) != 0 ||
        (rc_lua = opt_string(L, 1, "cafile", &cafile)) != 0 ||
        (rc_lua = opt_string(L, 1, "proxy", &proxy)) != 0 ||
        (rc_lua = opt_string(L, 1, "user_agent", &user_agent)) != 0)
        return rc_lua;
    lua_getfield(L, 1, "verify_tls");
    if (!lua_isnil(L, -1)) {
        if (!lua_isboolean(L, -1))
            return hcdl_error_input(L, "verify_tls", "must be a boolean");
        verify = lua_toboolean(L, -1);
    }
    lua_pop(L, 1);
    lua_getfield(L, 1, "low_speed_limit");
    if (!lua_isnil(L, -1)) {
        if (lua_type(L, -1) != LUA_TNUMBER || lua_tonumber(L, -1) < 0)
            return hcdl_error_input(L, "low_speed_limit", "must be a number of "
                                    "bytes per second >= 0");
        low_speed = (lua_Integer)lua_tonumber(L, -1);
    }
    lua_pop(L, 1);
    lua_getfield(L, 1, "max_body");
    if (!lua_isnil(L, -1)) {
        if (lua_type(L, -1) != LUA_TNUMBER || lua_tonumber(L, -1) < 1)
            return hcdl_error_input(L, "max_body", "must be a number of bytes >= 1");
        max_body = (lua_Integer)lua_tonumber(L, -1);
    }
    lua_pop(L, 1);

    if (hcdl_http_global_init() != 0) {
        lua_pushnil(L);
        hcdl_error_push(L, "network", "libcurl could not be initialised");
        return 2;
    }

    s = lua_newuserdata(L, sizeof *s);
    memset(s, 0, sizeof *s);
    luaL_getmetatable(L, HCDL_SESSION_MT);
    lua_setmetatable(L, -2);
    s->max_body = (size_t)max_body;
    s->timeout_ms = timeout_ms < 0 ? 0 : timeout_ms;
    s->easy = curl_easy_init();
    if (s->easy == NULL) {
        lua_pushnil(L);
        hcdl_error_push(L, "network", "libcurl could not create a handle");
        return 2;
    }

    SETOPT(CURLOPT_NOSIGNAL, 1L);          /* threads: no SIGALRM for DNS */
    SETOPT(CURLOPT_FOLLOWLOCATION, 0L);    /* API calls never follow redirects */
    SETOPT(CURLOPT_PROTOCOLS_STR, "http,https");
    SETOPT(CURLOPT_ERRORBUFFER, s->errbuf);
    SETOPT(CURLOPT_WRITEFUNCTION, on_body);
    SETOPT(CURLOPT_WRITEDATA, s);
    SETOPT(CURLOPT_HEADERFUNCTION, on_header);
    SETOPT(CURLOPT_HEADERDATA, s);
    SETOPT(CURLOPT_TCP_KEEPALIVE, 1L);
    SETOPT(CURLOPT_CONNECTTIMEOUT_MS, connect_ms < 0 ? 10000L : connect_ms);
    SETOPT(CURLOPT_SSL_VERIFYPEER, verify ? 1L : 0L);
    SETOPT(CURLOPT_SSL_VERIFYHOST, verify ? 2L : 0L);
    if (low_speed > 0) {
        SETOPT(CURLOPT_LOW_SPEED_LIMIT, (long)low_speed);
        SETOPT(CURLOPT_LOW_SPEED_TIME, low_time_ms < 0 ? 30L : (low_time_ms + 999) / 1000);
    }
    if (cafile != NULL)
        SETOPT(CURLOPT_CAINFO, cafile);
    if (proxy != NULL)
        SETOPT(CURLOPT_PROXY, proxy);
    if (user_agent == NULL) {
        curl_version_info_data *v = curl_version_info(CURLVERSION_NOW);
        snprintf(ua, sizeof ua, "hcdl/%s libcurl/%s", HCDL_VERSION,
                 v != NULL ? v->version : "?");
        user_agent = ua;
    }
    SETOPT(CURLOPT_USERAGENT, user_agent); /* libcurl copies option strings */
    return 1;

setopt_failed:
    lua_pushnil(L);
    hcdl_error_push(L, "network", curl_easy_strerror(rc));
    return 2;
}

/* Drops everything from the first '?' on: link queries hold signatures. */
void hcdl_http_push_scrubbed(lua_State *L, const char *msg)
{
    const char *q = strchr(msg, '?');
    if (q == NULL) {
        lua_pushstring(L, msg);
    } else {
        lua_pushlstring(L, msg, (size_t)(q - msg));
        lua_pushliteral(L, "?<query hidden>");
        lua_concat(L, 2);
    }
}

static int push_transfer_error(lua_State *L, session *s, CURLcode rc)
{
    lua_pushnil(L);
    if (s->body_overflow) {
        lua_pushfstring(L, "response body larger than %d bytes", (int)s->max_body);
        hcdl_error_push(L, "http", lua_tostring(L, -1));
        lua_remove(L, -2);
        lua_pushboolean(L, 0);
        lua_setfield(L, -2, "retryable");
        return 2;
    }
    if (s->alloc_failed) {
        hcdl_error_push(L, "network", "out of memory while receiving");
        return 2;
    }
    hcdl_http_push_curl_error(L, rc, s->errbuf);
    return 2;
}

void hcdl_http_push_curl_error(lua_State *L, CURLcode rc, const char *errbuf)
{
    /* trying again cannot fix these */
    int retryable = !(rc == CURLE_SSL_CACERT_BADFILE || rc == CURLE_PEER_FAILED_VERIFICATION ||
                      rc == CURLE_SSL_CERTPROBLEM || rc == CURLE_UNSUPPORTED_PROTOCOL ||
                      rc == CURLE_URL_MALFORMAT);
    if (errbuf[0] != '\0') {
        hcdl_http_push_scrubbed(L, errbuf);
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
}

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

static int valid_header_text(const char *p, size_t n)
{
    size_t i;
    for (i = 0; i < n; i++)
        if (p[i] == '\r' || p[i] == '\n' || p[i] == '\0')
            return 0;
    return 1;
}

/*
 * session:perform{ method =, url =, headers = {name = value}, body =,
 *   timeout = } -> {status =, headers =, body =} | nil, err
 */
static int session_perform(lua_State *L)
{
    session *s = check_session(L, 1);
    const char *method, *url, *body = NULL;
    size_t body_len = 0, url_len;
    struct curl_slist *list = NULL, *tmp;
    long timeout_ms = -1, status = 0;
    CURLcode rc;
    int rc_lua;
    char line[8192];

    luaL_checktype(L, 2, LUA_TTABLE);
    lua_settop(L, 2);

    lua_getfield(L, 2, "method");
    if (lua_type(L, -1) != LUA_TSTRING)
        return hcdl_error_input(L, "method", "required, a string");
    method = lua_tostring(L, -1);
    lua_pop(L, 1);
    lua_getfield(L, 2, "url");
    if (lua_type(L, -1) != LUA_TSTRING)
        return hcdl_error_input(L, "url", "required, a string");
    url = lua_tolstring(L, -1, &url_len);
    lua_pop(L, 1);
    if (!valid_header_text(url, url_len))
        return hcdl_error_input(L, "url", "must not contain CR, LF or NUL");
    lua_getfield(L, 2, "body");
    if (!lua_isnil(L, -1)) {
        if (lua_type(L, -1) != LUA_TSTRING)
            return hcdl_error_input(L, "body", "must be a string");
        body = lua_tolstring(L, -1, &body_len);
    }
    lua_pop(L, 1);
    if ((rc_lua = opt_ms(L, 2, "timeout", &timeout_ms)) != 0)
        return rc_lua;

    /* Header list: the only malloc'd state; freed right after the transfer. */
    lua_getfield(L, 2, "headers");
    if (!lua_isnil(L, -1)) {
        if (!lua_istable(L, -1))
            return hcdl_error_input(L, "headers", "must be a table");
        lua_pushnil(L);
        while (lua_next(L, -2) != 0) {
            const char *k, *v;
            size_t kl, vl;
            if (lua_type(L, -2) != LUA_TSTRING || lua_type(L, -1) != LUA_TSTRING) {
                curl_slist_free_all(list);
                return hcdl_error_input(L, "headers", "names and values must be "
                                        "strings");
            }
            k = lua_tolstring(L, -2, &kl);
            v = lua_tolstring(L, -1, &vl);
            if (kl + vl + 3 > sizeof line || !valid_header_text(k, kl) ||
                !valid_header_text(v, vl) || memchr(k, ':', kl) != NULL) {
                curl_slist_free_all(list);
                return hcdl_error_input(L, "headers", "header %s is malformed or "
                                        "too long", k);
            }
            memcpy(line, k, kl);
            line[kl] = ':';
            line[kl + 1] = ' ';
            memcpy(line + kl + 2, v, vl);
            line[kl + 2 + vl] = '\0';
            if (vl == 0) {
                /* "Name;" is curl's way to send a header with an empty value */
                line[kl] = ';';
                line[kl + 1] = '\0';
            }
            tmp = curl_slist_append(list, line);
            if (tmp == NULL) {
                curl_slist_free_all(list);
                return luaL_error(L, "hcdl: out of memory");
            }
            list = tmp;
            lua_pop(L, 1);
        }
    }
    lua_pop(L, 1);
    /* Never let curl add "Expect: 100-continue" (an extra round trip). */
    tmp = curl_slist_append(list, "Expect:");
    if (tmp == NULL) {
        curl_slist_free_all(list);
        return luaL_error(L, "hcdl: out of memory");
    }
    list = tmp;

    hcdl_buf_reset(&s->body, 1024 * 1024);
    hcdl_buf_reset(&s->headers, 64 * 1024);
    s->body_overflow = 0;
    s->alloc_failed = 0;
    s->errbuf[0] = '\0';

    if ((rc = curl_easy_setopt(s->easy, CURLOPT_URL, url)) != CURLE_OK ||
        (rc = curl_easy_setopt(s->easy, CURLOPT_HTTPHEADER, list)) != CURLE_OK ||
        (rc = curl_easy_setopt(s->easy, CURLOPT_TIMEOUT_MS,
                               timeout_ms >= 0 ? timeout_ms : s->timeout_ms)) != CURLE_OK)
        goto done;
    if (strcmp(method, "GET") == 0 && body == NULL) {
        rc = curl_easy_setopt(s->easy, CURLOPT_HTTPGET, 1L);
        if (rc == CURLE_OK)
            rc = curl_easy_setopt(s->easy, CURLOPT_CUSTOMREQUEST, (char *)NULL);
    } else if (strcmp(method, "HEAD") == 0) {
        rc = curl_easy_setopt(s->easy, CURLOPT_NOBODY, 1L);
        if (rc == CURLE_OK)
            rc = curl_easy_setopt(s->easy, CURLOPT_CUSTOMREQUEST, (char *)NULL);
    } else {
        rc = curl_easy_setopt(s->easy, CURLOPT_POST, 1L);
        if (rc == CURLE_OK)
            rc = curl_easy_setopt(s->easy, CURLOPT_POSTFIELDSIZE_LARGE,
                                  (curl_off_t)body_len);
        if (rc == CURLE_OK)
            rc = curl_easy_setopt(s->easy, CURLOPT_POSTFIELDS, body ? body : "");
        if (rc == CURLE_OK)
            rc = curl_easy_setopt(s->easy, CURLOPT_CUSTOMREQUEST,
                                  strcmp(method, "POST") == 0 ? NULL : method);
    }
    if (rc != CURLE_OK)
        goto done;

    rc = curl_easy_perform(s->easy);
    if (rc == CURLE_OK)
        rc = curl_easy_getinfo(s->easy, CURLINFO_RESPONSE_CODE, &status);

done:
    /* The easy handle must not keep pointers into freed or Lua memory. */
    curl_easy_setopt(s->easy, CURLOPT_HTTPHEADER, (struct curl_slist *)NULL);
    curl_easy_setopt(s->easy, CURLOPT_POSTFIELDS, (char *)NULL);
    curl_easy_setopt(s->easy, CURLOPT_NOBODY, 0L);
    curl_slist_free_all(list);

    if (rc != CURLE_OK)
        return push_transfer_error(L, s, rc);

    lua_createtable(L, 0, 3);
    hcdl_pushinteger(L, status);
    lua_setfield(L, -2, "status");
    hcdl_http_push_headers(L, &s->headers);
    lua_setfield(L, -2, "headers");
    lua_pushlstring(L, s->body.data ? s->body.data : "", s->body.len);
    lua_setfield(L, -2, "body");
    return 1;
}

int hcdl_http_curl_version(lua_State *L)
{
    lua_pushstring(L, curl_version());
    return 1;
}

void hcdl_http_init(lua_State *L)
{
    static const luaL_Reg methods[] = {
        {"perform", session_perform},
        {"close", session_close},
        {NULL, NULL},
    };
    if (luaL_newmetatable(L, HCDL_SESSION_MT)) {
        lua_pushcfunction(L, session_gc);
        lua_setfield(L, -2, "__gc");
#if LUA_VERSION_NUM >= 504
        lua_pushcfunction(L, session_close);
        lua_setfield(L, -2, "__close");
#endif
        lua_newtable(L);
        hcdl_setfuncs(L, methods, 0);
        lua_setfield(L, -2, "__index");
    }
    lua_pop(L, 1);
}
