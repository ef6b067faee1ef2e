/*
 * sign.h - SDK-HMAC-SHA256 request signing, as the official Huawei Cloud
 * SDKs do it (facts: shared/spec/api-facts.md section A).  No I/O.
 */
#ifndef HCDL_SIGN_H
#define HCDL_SIGN_H

#include <stddef.h>

#include <lua.h>

#include "arena.h"

#define HCDL_SIGN_DATE_LEN 16 /* YYYYMMDDTHHMMSSZ */

typedef struct {
    const char *name;  /* as the caller spelled it (sent like that) */
    size_t name_len;
    const char *value; /* trimmed of leading/trailing blanks */
    size_t value_len;
    char *lname;       /* lower-cased name, for sorting and signing */
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

typedef struct {
    char *wire_path;           /* percent-encoded path, as sent */
    size_t wire_path_len;
    char *query_string;        /* canonical query == wire query */
    size_t query_len;
    char *canonical_request;
    size_t canonical_request_len;
    char *signed_headers;
    size_t signed_headers_len;
    char *string_to_sign;
    size_t string_to_sign_len;
    char signature[65];
    char *authorization;
    size_t authorization_len;
} hcdl_sign_out;

/* Per-lua_State hashing context (kept as an upvalue, never global). */
typedef struct hcdl_crypto hcdl_crypto;

/* Pushes a new crypto context userdata; raises if OpenSSL cannot give one. */
hcdl_crypto *hcdl_crypto_new(lua_State *L);

/*
 * Computes the signature.  Returns NULL on success or a static message
 * naming what failed (an OpenSSL failure; inputs are validated before).
 */
const char *hcdl_sign_compute(hcdl_crypto *c, hcdl_arena *a, hcdl_sign_req *r,
                              hcdl_sign_out *o);

/* Writes the current UTC time as YYYYMMDDTHHMMSSZ; returns 0 on success. */
int hcdl_sign_now(char out[HCDL_SIGN_DATE_LEN + 1]);

/* 1 if s (len bytes) is a valid YYYYMMDDTHHMMSSZ date. */
int hcdl_sign_date_valid(const char *s, size_t len);

/* Pushes the table of result keys core.sign keeps as its upvalue 2. */
void hcdl_sign_push_keys(lua_State *L);

/* Lua: core.sign(req) -> result table | nil, err.
 * Upvalue 1: crypto context; upvalue 2: hcdl_sign_push_keys' table. */
int hcdl_sign_lua(lua_State *L);

#endif
