/*
 * status.c - the one rule for HTTP error answers (see status.h).
 *
 * Retryable: 408, 429, 500, 502, 503, 504, and throttling whatever its
 * status.  These are the answers that describe a passing state of the
 * server or of the path to it (a request that took too long to arrive, a
 * rate limit, an overloaded or restarting backend, a gateway that lost its
 * upstream).  Every other status describes the request itself and comes
 * back the same on every attempt: 4xx, and the 5xx that are not transient,
 * 501 Not Implemented, 505 HTTP Version Not Supported, 506, 507
 * Insufficient Storage, 508, 510, 511, which retrying would only repeat
 * (and, with backoff, make the caller wait minutes for the same answer).
 * Network errors (no answer at all) are retryable too, but they are not
 * decided here: src/http.c classifies libcurl's codes.
 *
 * Throttling: 429, the API gateway's APIGW.0308/APIG.0308 whatever the
 * status (it answers 403 with it too), and the object store's SlowDown
 * (its 503 for "reduce your request rate").  Throttling is its own kind:
 * the keys are fine, so it is never "auth", and always retryable.
 *
 * Auth: 401 and 403 (the keys, the token or the link's signature were
 * refused, or do not allow this), and the gateway's other APIGW.03xx
 * codes and the services' invalid-token code DBS.280056 whatever the
 * status.  An expired download link (403 "Request has expired") is told
 * apart by hcdl.download before it gets here.
 *
 * Everything else is "http".
 */
#include <lauxlib.h>
#include <string.h>

#include "status.h"

/* A code row: `code` exactly, or any code starting with it (prefix = 1).
 * The first row that matches wins, so exact rows come before prefixes. */
typedef struct {
    const char *code;
    int prefix;
    const char *kind;
} code_row;

static const code_row CODE_ROWS[] = {
    {"APIGW.0308", 0, "throttled"},
    {"APIG.0308", 0, "throttled"},
    {"SlowDown", 0, "throttled"},
    {"APIGW.03", 1, "auth"},
    {"APIG.03", 1, "auth"},
    {"DBS.280056", 0, "auth"},
};

/* A status row: statuses lo..hi. */
typedef struct {
    long lo, hi;
    const char *kind;
    int retryable;
} status_row;

static const status_row STATUS_ROWS[] = {
    {401, 401, "auth", 0},
    {403, 403, "auth", 0},
    {408, 408, "http", 1},
    {429, 429, "throttled", 1},
    {500, 500, "http", 1},
    {502, 504, "http", 1},
};

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

static const char *code_kind(const char *code)
{
    size_t i;
    if (code == NULL)
        return NULL;
    for (i = 0; i < COUNT(CODE_ROWS); i++) {
        const code_row *r = &CODE_ROWS[i];
        if (r->prefix ? strncmp(code, r->code, strlen(r->code)) == 0 : strcmp(code, r->code) == 0)
            return r->kind;
    }
    return NULL;
}

hcdl_status_class hcdl_status_classify(long status, const char *code)
{
    hcdl_status_class c = {"http", 0, 0};
    const char *by_code = code_kind(code);
    size_t i;
    for (i = 0; i < COUNT(STATUS_ROWS); i++) {
        if (status >= STATUS_ROWS[i].lo && status <= STATUS_ROWS[i].hi) {
            c.kind = STATUS_ROWS[i].kind;
            c.retryable = STATUS_ROWS[i].retryable;
            break;
        }
    }
    /* the code is the more precise word: a throttling code on a 403 is not
     * an auth failure, an auth code on a 400 is not a bad request */
    if (by_code != NULL && strcmp(c.kind, "throttled") != 0)
        c.kind = by_code;
    c.throttled = strcmp(c.kind, "throttled") == 0;
    if (c.throttled)
        c.retryable = 1;
    return c;
}

int hcdl_status_lua(lua_State *L)
{
    lua_Number n = luaL_checknumber(L, 1);
    const char *code = luaL_optstring(L, 2, NULL);
    hcdl_status_class c;
    if (n != n || n < 0 || n > 999 || n != (lua_Number)(long)n)
        return luaL_argerror(L, 1, "an HTTP status (an integer from 0 to 999)");
    c = hcdl_status_classify((long)n, code);
    lua_pushstring(L, c.kind);
    lua_pushboolean(L, c.retryable);
    lua_pushboolean(L, c.throttled);
    return 3;
}
