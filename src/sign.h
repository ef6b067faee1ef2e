/*
 * sign.h - SDK-HMAC-SHA256 request signing, as the official Huawei Cloud
 * SDKs do it (facts and sources: docs/apis.md "Signing").  No I/O.
 *
 * Two doors: core.sign (a Lua table in, a Lua table out), and the C one
 * src/api_build.c uses, which fills an hcdl_sign_req from strings it
 * already holds, so an API call's request never goes through a Lua table
 * to be signed.
 */
#ifndef HCDL_SIGN_H
#define HCDL_SIGN_H

#include <stddef.h>

#include <lua.h>

#define HCDL_SIGN_DATE_LEN 16 /* YYYYMMDDTHHMMSSZ */

/* Per-lua_State hashing context and output buffer (an upvalue, never
 * global). */
typedef struct hcdl_crypto hcdl_crypto;

typedef struct {
    const char *name;  /* as the caller spelled it (sent like that) */
    size_t name_len;
    const char *value; /* trimmed of leading/trailing blanks */
    size_t value_len;
    const char *lname; /* lower-cased name, for sorting and signing */
    int signed_;       /* part of SignedHeaders */
} hcdl_header;

typedef struct {
    const char *key;
    size_t key_len;
    const char *value;
    size_t value_len;
} hcdl_param;

typedef struct {
    char method[17];
    const char *host;
    size_t host_len;
    const char *path; /* raw, not yet percent-encoded; starts with '/' */
    size_t path_len;
    hcdl_param *query; /* sorted in place */
    size_t nquery;
    /* Room for nheaders + 2: the signer adds Host and X-Sdk-Date. */
    hcdl_header *headers;
    size_t nheaders;
    const char *body;
    size_t body_len;
    const char *ak;
    size_t ak_len;
    const char *sk;
    size_t sk_len;
    char date[HCDL_SIGN_DATE_LEN + 1];
} hcdl_sign_req;

/* A piece of the signer's output buffer. */
typedef struct {
    const char *s;
    size_t n;
} hcdl_span;

/* What signing gives; the spans point into the context's buffer and live
 * until its next use. */
typedef struct {
    hcdl_span wire_path;    /* percent-encoded path, as sent */
    hcdl_span query_string; /* canonical query == wire query */
    hcdl_span signed_headers, canonical_request, string_to_sign, authorization;
    char signature[65];
} hcdl_sign_out;

/* Pushes a new crypto context userdata; raises if OpenSSL cannot give one. */
hcdl_crypto *hcdl_crypto_new(lua_State *L);

/* Pushes the table of result keys core.sign keeps as its upvalue 2. */
void hcdl_sign_push_keys(lua_State *L);

/* Lua: core.sign(req) -> result table | nil, err.
 * Upvalue 1: crypto context; upvalue 2: hcdl_sign_push_keys' table. */
int hcdl_sign_lua(lua_State *L);

/* The wire path and query only (token mode: nothing is signed).  Returns
 * NULL or what failed. */
const char *hcdl_sign_encode(hcdl_crypto *c, hcdl_sign_req *r, hcdl_sign_out *o);

/* Encodes and signs r (its date set): NULL, or a static message naming
 * what failed (out of memory, OpenSSL). */
const char *hcdl_sign_compute(hcdl_crypto *c, hcdl_sign_req *r, hcdl_sign_out *o);

/* The current time as X-Sdk-Date: 0, or -1 when the clock cannot say. */
int hcdl_sign_date_now(char out[HCDL_SIGN_DATE_LEN + 1]);

/* The checks core.sign makes of an access key and a header value, for
 * values that reach the signer without a table: 0, or pushes nil, the same
 * input error, and returns 2. */
int hcdl_sign_check_ak(lua_State *L, const char *ak, size_t n);
int hcdl_sign_check_header(lua_State *L, const char *name, const char *v, size_t n);

#endif
