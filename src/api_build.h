/*
 * api_build.h - an API call's request, made in C from the descriptor
 * (src/api_table.c), the parameters and the credentials, and signed by
 * src/sign.c without going through a Lua table.  core.build hands it to
 * Lua as a spec; nothing in it is I/O.
 */
#ifndef HCDL_API_BUILD_H
#define HCDL_API_BUILD_H

#include <stddef.h>

#include <lua.h>

#include "api_table.h"
#include "sign.h"

/* Content-Type, X-Project-Id, X-Language, X-Security-Token, Host,
 * X-Sdk-Date, and Authorization or X-Auth-Token. */
#define HCDL_API_MAX_HEADERS 8

typedef struct {
    const api_desc *api;
    hcdl_span url;
    hcdl_span body;                              /* "" when there are no body fields */
    hcdl_header headers[HCDL_API_MAX_HEADERS];   /* name, value: what is sent */
    size_t nheaders;
    char date[HCDL_SIGN_DATE_LEN + 1];
} hcdl_api_request;

/*
 * Builds and signs the request of API `a` from the params table at index
 * params and the auth table at index auth (core.build's arguments).
 * Returns 0 with *out filled, its strings alive on the Lua stack (above the
 * caller's top) or in c until c's next use; or pushes nil, an input error,
 * and returns 2.
 */
/* The arguments core.build and core.call share: params (nil: none, made
 * an empty table in place) and the auth fields, both tables. */
void hcdl_api_check_args(lua_State *L, int params, int auth);

int hcdl_api_prepare(lua_State *L, hcdl_crypto *c, const api_desc *a, int params, int auth,
                     hcdl_api_request *out);

#endif
