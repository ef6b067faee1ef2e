/*
 * sign.h - SDK-HMAC-SHA256 request signing, as the official Huawei Cloud
 * SDKs do it (facts and sources: docs/apis.md "Signing").  No I/O.
 */
#ifndef HCDL_SIGN_H
#define HCDL_SIGN_H

#include <lua.h>

/* Per-lua_State hashing context (kept as an upvalue, never global). */
typedef struct hcdl_crypto hcdl_crypto;

/* Pushes a new crypto context userdata; raises if OpenSSL cannot give one. */
hcdl_crypto *hcdl_crypto_new(lua_State *L);

/* Pushes the table of result keys core.sign keeps as its upvalue 2. */
void hcdl_sign_push_keys(lua_State *L);

/* Lua: core.sign(req) -> result table | nil, err.
 * Upvalue 1: crypto context; upvalue 2: hcdl_sign_push_keys' table. */
int hcdl_sign_lua(lua_State *L);

#endif
