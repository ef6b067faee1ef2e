/*
 * status.h - what an HTTP error answer means: its error kind, whether
 * trying again may help, and whether it is throttling.  One table decides
 * it for API calls (api_parse.c), downloads (hcdl.download) and credential
 * fetches (hcdl.iam, hcdl.credentials.temporary).
 */
#ifndef HCDL_STATUS_H
#define HCDL_STATUS_H

#include <lua.h>

typedef struct {
    const char *kind; /* "throttled", "auth" or "http" (never NULL) */
    int retryable;    /* trying the same request again may succeed */
    int throttled;    /* the server asks to slow down: the keys are fine */
} hcdl_status_class;

/*
 * The class of an answer with HTTP `status` and the service's error code
 * `code` (NULL when the body names none).  Callers with a richer name for
 * an "http" answer (api_parse.c: "api" when the service gave a code) refine the
 * kind; they never change retryable or throttled.
 */
hcdl_status_class hcdl_status_classify(long status, const char *code);

/* Lua: core.classify_status(status[, code]) -> kind, retryable, throttled */
int hcdl_status_lua(lua_State *L);

#endif
