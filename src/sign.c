/*
 * sign.c - SDK-HMAC-SHA256, byte-identical to the official SDK signers.
 *
 *   CanonicalRequest = METHOD \n CanonicalURI \n CanonicalQuery \n
 *                      CanonicalHeaders \n SignedHeaders \n HexPayloadHash
 *   StringToSign     = "SDK-HMAC-SHA256" \n X-Sdk-Date \n hex(SHA256(CR))
 *   Signature        = hex(HMAC-SHA256(SK, StringToSign))
 *
 * The rules (docs/apis.md "Signing"; tests/data/signing-vectors.json checks them):
 * - every byte outside A-Z a-z 0-9 - _ . ~ is percent-encoded with
 *   upper-case hex, in path segments, query keys and query values;
 * - the canonical URI gets a trailing '/' when it lacks one (the wire path
 *   does not);
 * - query pairs sort by raw key bytes, then raw value bytes; the wire
 *   query string is the canonical one, so what is signed is what is sent;
 * - headers: lower-cased names, sorted, "name:trimmed value\n"; names with
 *   '_' are sent but not signed (as the Python SDK does); Host and
 *   X-Sdk-Date are always signed;
 * - payload hash: the value of X-Sdk-Content-Sha256 when given, else the
 *   SHA-256 of the exact body bytes.
 */
#define _POSIX_C_SOURCE 200809L

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <lauxlib.h>
#include <openssl/evp.h>
#include <openssl/core_names.h>
#include <openssl/params.h>

#include "arena.h"
#include "clock.h"
#include "compat.h"
#include "error.h"
#include "sign.h"

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

#define ALGORITHM "SDK-HMAC-SHA256"
#define EMPTY_SHA256 \
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
#define CRYPTO_MT "hcdl.crypto"

/* Inputs above this size are refused: they cannot be a sane request. */
#define MAX_FIELD (16u * 1024u * 1024u)

/*
 * OpenSSL 3 looks algorithms up by name (locks, string compares) on every
 * one-shot call; fetching once per lua_State and reusing the contexts makes
 * a signature several times cheaper.  The contexts are reused because one
 * lua_State never runs two calls at once.
 */
struct hcdl_crypto {
    EVP_MD *sha256;
    EVP_MD_CTX *mdctx;
    EVP_MAC *hmac;
    EVP_MAC_CTX *macctx; /* HMAC with digest SHA256 */
};

static const char hexdigits_upper[] = "0123456789ABCDEF";
/* The names of the two headers the signer adds (compared by address). */
static const char host_name[] = "Host";
static const char date_name[] = "X-Sdk-Date";
static const char hexdigits_lower[] = "0123456789abcdef";

/* 1 for the unreserved bytes A-Z a-z 0-9 - _ . ~ (never encoded). */
static const unsigned char unreserved[256] = {
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0,
    0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 1,
    0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 1, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
};

#define is_unreserved(c) (unreserved[(unsigned char)(c)])

static size_t encoded_len(const char *s, size_t n)
{
    size_t i, len = 0;
    for (i = 0; i < n; i++)
        len += is_unreserved((unsigned char)s[i]) ? 1 : 3;
    return len;
}

static char *encode_into(char *out, const char *s, size_t n)
{
    size_t i;
    for (i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (is_unreserved(c)) {
            *out++ = (char)c;
        } else {
            *out++ = '%';
            *out++ = hexdigits_upper[c >> 4];
            *out++ = hexdigits_upper[c & 15];
        }
    }
    return out;
}

static void hex_lower(char *out, const unsigned char *in, size_t n)
{
    size_t i;
    for (i = 0; i < n; i++) {
        out[2 * i] = hexdigits_lower[in[i] >> 4];
        out[2 * i + 1] = hexdigits_lower[in[i] & 15];
    }
    out[2 * n] = '\0';
}

static int bytes_cmp(const char *a, size_t al, const char *b, size_t bl)
{
    int c = memcmp(a, b, al < bl ? al : bl);
    if (c != 0)
        return c;
    return al < bl ? -1 : (al > bl ? 1 : 0);
}

static int param_cmp(const void *pa, const void *pb)
{
    const hcdl_param *a = pa, *b = pb;
    int c = bytes_cmp(a->key, a->key_len, b->key, b->key_len);
    return c != 0 ? c : bytes_cmp(a->value, a->value_len, b->value, b->value_len);
}

static int header_cmp(const void *pa, const void *pb)
{
    const hcdl_header *a = pa, *b = pb;
    return bytes_cmp(a->lname, a->name_len, b->lname, b->name_len);
}

/*
 * Requests have a handful of headers and parameters: a typed insertion sort
 * beats qsort there (glibc's qsort allocates and calls through pointers).
 * Large inputs still go to qsort.
 */
static void sort_params(hcdl_param *p, size_t n)
{
    size_t i, j;
    if (n > 32) {
        qsort(p, n, sizeof *p, param_cmp);
        return;
    }
    for (i = 1; i < n; i++) {
        hcdl_param tmp = p[i];
        for (j = i; j > 0 && param_cmp(&p[j - 1], &tmp) > 0; j--)
            p[j] = p[j - 1];
        p[j] = tmp;
    }
}

static void sort_headers(hcdl_header *h, size_t n)
{
    size_t i, j;
    if (n > 32) {
        qsort(h, n, sizeof *h, header_cmp);
        return;
    }
    for (i = 1; i < n; i++) {
        hcdl_header tmp = h[i];
        for (j = i; j > 0 && header_cmp(&h[j - 1], &tmp) > 0; j--)
            h[j] = h[j - 1];
        h[j] = tmp;
    }
}

/* ---- crypto context --------------------------------------------------- */

static int crypto_gc(lua_State *L)
{
    hcdl_crypto *c = luaL_checkudata(L, 1, CRYPTO_MT);
    EVP_MAC_CTX_free(c->macctx);
    EVP_MAC_free(c->hmac);
    EVP_MD_CTX_free(c->mdctx);
    EVP_MD_free(c->sha256);
    c->macctx = NULL;
    c->hmac = NULL;
    c->mdctx = NULL;
    c->sha256 = NULL;
    return 0;
}

hcdl_crypto *hcdl_crypto_new(lua_State *L)
{
    OSSL_PARAM params[2];
    char digest[] = "SHA256";
    hcdl_crypto *c = lua_newuserdata(L, sizeof *c);
    memset(c, 0, sizeof *c);
    if (luaL_newmetatable(L, CRYPTO_MT)) {
        lua_pushcfunction(L, crypto_gc);
        lua_setfield(L, -2, "__gc");
    }
    lua_setmetatable(L, -2);
    c->sha256 = EVP_MD_fetch(NULL, "SHA256", NULL);
    c->mdctx = EVP_MD_CTX_new();
    c->hmac = EVP_MAC_fetch(NULL, "HMAC", NULL);
    c->macctx = c->hmac != NULL ? EVP_MAC_CTX_new(c->hmac) : NULL;
    params[0] = OSSL_PARAM_construct_utf8_string("digest", digest, 0);
    params[1] = OSSL_PARAM_construct_end();
    if (c->sha256 == NULL || c->mdctx == NULL || c->macctx == NULL ||
        EVP_MAC_CTX_set_params(c->macctx, params) != 1)
        luaL_error(L, "hcdl.core: OpenSSL cannot provide SHA-256 and HMAC");
    return c;
}

static int sha256_hex(hcdl_crypto *c, const char *data, size_t n, char out[65])
{
    unsigned char md[32];
    unsigned int mdlen = 0;
    if (EVP_DigestInit_ex(c->mdctx, c->sha256, NULL) != 1 ||
        EVP_DigestUpdate(c->mdctx, data, n) != 1 ||
        EVP_DigestFinal_ex(c->mdctx, md, &mdlen) != 1 || mdlen != 32)
        return -1;
    hex_lower(out, md, 32);
    return 0;
}

/* ---- the signature ---------------------------------------------------- */

/*
 * Computes the signature.  Returns NULL on success or a static message
 * naming what failed (an OpenSSL failure; inputs are validated before).
 */
static const char *sign_compute(hcdl_crypto *c, hcdl_arena *a, hcdl_sign_req *r,
                                hcdl_sign_out *o)
{
    size_t i, n, len, method_len = strlen(r->method);
    char payload_hash[65], cr_hash[65];
    const char *payload = NULL;
    size_t payload_len = 64;
    unsigned char mac[32];
    size_t maclen = 0;
    char *p;
    size_t seg_start;

    /* Host and X-Sdk-Date join the caller's headers; all sort together. */
    n = r->nheaders;
    r->headers[n].name = host_name;
    r->headers[n].name_len = 4;
    r->headers[n].value = r->host;
    r->headers[n].value_len = r->host_len;
    r->headers[n].lname = "host";
    r->headers[n].signed_ = 1;
    n++;
    r->headers[n].name = date_name;
    r->headers[n].name_len = 10;
    r->headers[n].value = r->date;
    r->headers[n].value_len = HCDL_SIGN_DATE_LEN;
    r->headers[n].lname = "x-sdk-date";
    r->headers[n].signed_ = 1;
    n++;
    sort_headers(r->headers, n);

    for (i = 0; i < n; i++) {
        if (r->headers[i].signed_ && r->headers[i].name_len == 20 &&
            memcmp(r->headers[i].lname, "x-sdk-content-sha256", 20) == 0) {
            payload = r->headers[i].value;
            payload_len = r->headers[i].value_len;
        }
    }
    if (payload == NULL) {
        if (r->body_len == 0) {
            memcpy(payload_hash, EMPTY_SHA256, 65);
        } else if (sha256_hex(c, r->body, r->body_len, payload_hash) != 0) {
            return "SHA-256 of the body failed (OpenSSL)";
        }
        payload = payload_hash;
        payload_len = 64;
    }

    /* Wire path: each '/'-separated segment encoded; '/' kept. */
    len = 0;
    for (i = 0; i < r->path_len; i++)
        len += (r->path[i] == '/' || is_unreserved((unsigned char)r->path[i])) ? 1 : 3;
    o->wire_path = hcdl_arena_alloc(a, len + 2);
    p = o->wire_path;
    seg_start = 0;
    for (i = 0; i <= r->path_len; i++) {
        if (i == r->path_len || r->path[i] == '/') {
            p = encode_into(p, r->path + seg_start, i - seg_start);
            if (i < r->path_len)
                *p++ = '/';
            seg_start = i + 1;
        }
    }
    o->wire_path_len = (size_t)(p - o->wire_path);
    *p = '\0';

    /* Canonical (and wire) query string. */
    sort_params(r->query, r->nquery);
    len = 0;
    for (i = 0; i < r->nquery; i++)
        len += encoded_len(r->query[i].key, r->query[i].key_len) + 1 +
               encoded_len(r->query[i].value, r->query[i].value_len) + 1;
    o->query_string = hcdl_arena_alloc(a, len + 1);
    p = o->query_string;
    for (i = 0; i < r->nquery; i++) {
        if (i > 0)
            *p++ = '&';
        p = encode_into(p, r->query[i].key, r->query[i].key_len);
        *p++ = '=';
        p = encode_into(p, r->query[i].value, r->query[i].value_len);
    }
    o->query_len = (size_t)(p - o->query_string);
    *p = '\0';

    /* Signed header names. */
    len = 0;
    for (i = 0; i < n; i++)
        if (r->headers[i].signed_)
            len += r->headers[i].name_len + 1;
    o->signed_headers = hcdl_arena_alloc(a, len + 1);
    p = o->signed_headers;
    for (i = 0; i < n; i++) {
        if (!r->headers[i].signed_)
            continue;
        if (p != o->signed_headers)
            *p++ = ';';
        memcpy(p, r->headers[i].lname, r->headers[i].name_len);
        p += r->headers[i].name_len;
    }
    o->signed_headers_len = (size_t)(p - o->signed_headers);
    *p = '\0';

    /* Canonical request. */
    len = method_len + 1 + o->wire_path_len + 2 + o->query_len + 1;
    for (i = 0; i < n; i++)
        if (r->headers[i].signed_)
            len += r->headers[i].name_len + 1 + r->headers[i].value_len + 1;
    len += 1 + o->signed_headers_len + 1 + payload_len;
    o->canonical_request = hcdl_arena_alloc(a, len + 1);
    p = o->canonical_request;
    memcpy(p, r->method, method_len);
    p += method_len;
    *p++ = '\n';
    memcpy(p, o->wire_path, o->wire_path_len);
    p += o->wire_path_len;
    if (o->wire_path_len == 0 || o->wire_path[o->wire_path_len - 1] != '/')
        *p++ = '/';
    *p++ = '\n';
    memcpy(p, o->query_string, o->query_len);
    p += o->query_len;
    *p++ = '\n';
    for (i = 0; i < n; i++) {
        if (!r->headers[i].signed_)
            continue;
        memcpy(p, r->headers[i].lname, r->headers[i].name_len);
        p += r->headers[i].name_len;
        *p++ = ':';
        memcpy(p, r->headers[i].value, r->headers[i].value_len);
        p += r->headers[i].value_len;
        *p++ = '\n';
    }
    *p++ = '\n';
    memcpy(p, o->signed_headers, o->signed_headers_len);
    p += o->signed_headers_len;
    *p++ = '\n';
    memcpy(p, payload, payload_len);
    p += payload_len;
    o->canonical_request_len = (size_t)(p - o->canonical_request);
    *p = '\0';

    /* String to sign and signature. */
    if (sha256_hex(c, o->canonical_request, o->canonical_request_len, cr_hash) != 0)
        return "SHA-256 of the canonical request failed (OpenSSL)";
    len = sizeof ALGORITHM - 1 + 1 + HCDL_SIGN_DATE_LEN + 1 + 64;
    o->string_to_sign = hcdl_arena_alloc(a, len + 1);
    p = o->string_to_sign;
    memcpy(p, ALGORITHM "\n", sizeof ALGORITHM);
    p += sizeof ALGORITHM;
    memcpy(p, r->date, HCDL_SIGN_DATE_LEN);
    p += HCDL_SIGN_DATE_LEN;
    *p++ = '\n';
    memcpy(p, cr_hash, 64);
    p += 64;
    *p = '\0';
    o->string_to_sign_len = len;

    if (EVP_MAC_init(c->macctx, (const unsigned char *)r->sk, r->sk_len,
                     NULL) != 1 ||
        EVP_MAC_update(c->macctx, (const unsigned char *)o->string_to_sign,
                       o->string_to_sign_len) != 1 ||
        EVP_MAC_final(c->macctx, mac, &maclen, sizeof mac) != 1 || maclen != 32)
        return "HMAC-SHA256 failed (OpenSSL)";
    hex_lower(o->signature, mac, 32);

    /* Authorization: ALGORITHM Access=AK, SignedHeaders=..., Signature=... */
    len = sizeof ALGORITHM - 1 + 8 + r->ak_len + 16 + o->signed_headers_len +
          12 + 64;
    o->authorization = hcdl_arena_alloc(a, len + 1);
    p = o->authorization;
    memcpy(p, ALGORITHM " Access=", sizeof ALGORITHM - 1 + 8);
    p += sizeof ALGORITHM - 1 + 8;
    memcpy(p, r->ak, r->ak_len);
    p += r->ak_len;
    memcpy(p, ", SignedHeaders=", 16);
    p += 16;
    memcpy(p, o->signed_headers, o->signed_headers_len);
    p += o->signed_headers_len;
    memcpy(p, ", Signature=", 12);
    p += 12;
    memcpy(p, o->signature, 64);
    p += 64;
    *p = '\0';
    o->authorization_len = (size_t)(p - o->authorization);
    return NULL;
}

/* ---- dates ------------------------------------------------------------ */

static int digits(const char *s, int n, int *out)
{
    int i, v = 0;
    for (i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return 0;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return 1;
}

static int date_valid(const char *s, size_t len)
{
    static const int mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int y, mo, d, h, mi, se;
    if (len != HCDL_SIGN_DATE_LEN || s[8] != 'T' || s[15] != 'Z')
        return 0;
    if (!digits(s, 4, &y) || !digits(s + 4, 2, &mo) || !digits(s + 6, 2, &d) ||
        !digits(s + 9, 2, &h) || !digits(s + 11, 2, &mi) ||
        !digits(s + 13, 2, &se))
        return 0;
    if (y < 1970 || mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1] || h > 23 ||
        mi > 59 || se > 60)
        return 0;
    if (mo == 2 && d == 29 && !((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
        return 0;
    return 1;
}

/*
 * The date is formatted by hand because glibc's gmtime_r takes a
 * process-wide lock and strftime consults the locale: both cost more than
 * the arithmetic (hcdl_civil_from_days), on every call.
 */
static void put2(char *p, int v)
{
    p[0] = (char)('0' + v / 10);
    p[1] = (char)('0' + v % 10);
}

static int date_now(char out[HCDL_SIGN_DATE_LEN + 1])
{
    long long t = (long long)time(NULL), days, secs;
    int y, m, d;
    if (t < 0)
        return -1;
    days = t / 86400;
    secs = t % 86400;
    hcdl_civil_from_days(days, &y, &m, &d);
    if (y > 9999)
        return -1;
    put2(out, y / 100);
    put2(out + 2, y % 100);
    put2(out + 4, m);
    put2(out + 6, d);
    out[8] = 'T';
    put2(out + 9, (int)(secs / 3600));
    put2(out + 11, (int)(secs / 60 % 60));
    put2(out + 13, (int)(secs % 60));
    out[15] = 'Z';
    out[16] = '\0';
    return 0;
}

/* ---- reading the Lua request table ------------------------------------ */

/*
 * Each reader returns 0 when the field is good, or pushes `nil, err` and
 * returns 2.  The lua_CFunction then returns those two values from the top
 * of the stack, whatever lies below them, so readers never need to unwind.
 */

static int is_token_char(unsigned char c)
{
    /* RFC 9110 tchar */
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
           (c >= '0' && c <= '9') || (c != 0 && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

static int has_ctl(const char *s, size_t n)
{
    size_t i;
    for (i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '\r' || c == '\n' || c == '\0')
            return 1;
    }
    return 0;
}

/* The request fields, in the order they are checked (errors are stable). */
enum {
    F_METHOD, F_HOST, F_PATH, F_AK, F_SK, F_BODY, F_QUERY, F_HEADERS, F_DATE,
    F_COUNT
};
static const char *const field_names[F_COUNT] = {
    "method", "host", "path", "ak", "sk", "body", "query", "headers", "date",
};
/* Stack slot of each field's value: slot 1 is the request table. */
#define SLOT(f) (2 + (f))

/*
 * One pass over the request table puts each field's value in its slot, so
 * no field is looked up by name (a C-string lookup costs a string compare
 * on every call).  Unknown fields are refused: a typo such as `heders`
 * must not silently produce a request signed without its headers.
 */
static int collect_fields(lua_State *L)
{
    int f;
    for (f = 0; f < F_COUNT; f++)
        lua_pushnil(L);
    lua_pushnil(L);
    while (lua_next(L, 1) != 0) {
        const char *k;
        size_t klen;
        if (lua_type(L, -2) != LUA_TSTRING)
            return hcdl_error_input(L, "req", "keys must be field names such as "
                                    "method, host, path");
        k = lua_tolstring(L, -2, &klen);
        for (f = 0; f < F_COUNT; f++) {
            if (strlen(field_names[f]) == klen && memcmp(field_names[f], k, klen) == 0)
                break;
        }
        if (f == F_COUNT)
            return hcdl_error_input(L, "req", "unknown field '%s' (known: method, "
                                    "host, path, query, headers, body, ak, sk, "
                                    "date)", k);
        lua_replace(L, SLOT(f));
    }
    return 0;
}

static int read_string(lua_State *L, int f, int required, const char **out,
                       size_t *len)
{
    const char *field = field_names[f];
    int t = lua_type(L, SLOT(f));
    *out = NULL;
    *len = 0;
    if (t == LUA_TNIL) {
        if (required)
            return hcdl_error_input(L, field, "required, a non-empty string");
        return 0;
    }
    if (t != LUA_TSTRING)
        return hcdl_error_input(L, field, "must be a string, got %s",
                                lua_typename(L, t));
    /* The string stays alive: it is a field of the request table. */
    *out = lua_tolstring(L, SLOT(f), len);
    if (*len > MAX_FIELD)
        return hcdl_error_input(L, field, "longer than %d bytes", (int)MAX_FIELD);
    if (required && *len == 0)
        return hcdl_error_input(L, field, "required, a non-empty string");
    return 0;
}

/* Decimal digits of v into buf (no sprintf: it is slow and locale-bound). */
static size_t format_int(char *buf, long long v)
{
    char tmp[24];
    size_t n = 0, i = 0;
    unsigned long long u = v < 0 ? 0ULL - (unsigned long long)v : (unsigned long long)v;
    do {
        tmp[n++] = (char)('0' + u % 10);
        u /= 10;
    } while (u != 0);
    if (v < 0)
        buf[i++] = '-';
    while (n > 0)
        buf[i++] = tmp[--n];
    buf[i] = '\0';
    return i;
}

/*
 * Converts the value at the top of the stack to a query string in place
 * (numbers with an integer value and booleans are accepted).  The converted
 * string is stored in the anchor so its bytes stay alive.  Returns 0 or
 * pushes nil, err.
 */
static int query_value(lua_State *L, hcdl_arena *a, const char *key,
                       const char **out, size_t *len)
{
    int t = lua_type(L, -1);
    if (t == LUA_TSTRING) {
        *out = lua_tolstring(L, -1, len);
        return 0;
    }
    if (t == LUA_TBOOLEAN) {
        *out = lua_toboolean(L, -1) ? "true" : "false";
        *len = strlen(*out);
        return 0;
    }
    if (t == LUA_TNUMBER) {
        lua_Number v = lua_tonumber(L, -1);
        if (v == v && v >= -9007199254740992.0 && v <= 9007199254740992.0 &&
            v == (lua_Number)(long long)v) {
            char *copy = hcdl_arena_alloc(a, 24);
            *len = format_int(copy, (long long)v);
            *out = copy;
            return 0;
        }
        return hcdl_error_input(L, "query", "value of '%s' must be an integer, "
                                "not a fraction", key);
    }
    return hcdl_error_input(L, "query", "value of '%s' must be a string, "
                            "integer or boolean, got %s", key, lua_typename(L, t));
}

/*
 * query = { {"k", "v"}, ... }            list of pairs, order irrelevant
 *       | { k = "v", k2 = {"a", "b"} }   map; a list value repeats the key
 */
static int read_query(lua_State *L, hcdl_arena *a, hcdl_sign_req *r)
{
    size_t count = 0, i, n;
    int qi, rc;

    r->query = NULL;
    r->nquery = 0;
    qi = SLOT(F_QUERY);
    if (lua_isnil(L, qi))
        return 0;
    if (!lua_istable(L, qi))
        return hcdl_error_input(L, "query", "must be a table, got %s",
                                lua_typename(L, lua_type(L, qi)));

    /* Count entries (map values that are lists count once per item). */
    n = hcdl_rawlen(L, qi);
    lua_pushnil(L);
    while (lua_next(L, qi) != 0) {
        if (n == 0 && lua_istable(L, -1))
            count += hcdl_rawlen(L, -1);
        else
            count++;
        lua_pop(L, 1);
    }
    if (n > 0 && count != n)
        return hcdl_error_input(L, "query", "mixes a list of pairs with named "
                                "keys; use one form");
    if (count > 100000)
        return hcdl_error_input(L, "query", "more than 100000 parameters");
    r->query = hcdl_arena_alloc(a, (count ? count : 1) * sizeof *r->query);

    if (n > 0) {
        for (i = 1; i <= n; i++) {
            hcdl_param *q = &r->query[r->nquery];
            lua_rawgeti(L, qi, (int)i);
            if (!lua_istable(L, -1)) {
                lua_pop(L, 2);
                return hcdl_error_input(L, "query", "item %d must be a "
                                        "{key, value} pair", (int)i);
            }
            lua_rawgeti(L, -1, 1);
            if (lua_type(L, -1) != LUA_TSTRING || hcdl_rawlen(L, -1) == 0) {
                lua_pop(L, 3);
                return hcdl_error_input(L, "query", "item %d: the key must be "
                                        "a non-empty string", (int)i);
            }
            q->key = lua_tolstring(L, -1, &q->key_len);
            lua_pop(L, 1);
            lua_rawgeti(L, -1, 2);
            rc = query_value(L, a, q->key, &q->value, &q->value_len);
            if (rc)
                return rc; /* nil, err are on top: that is what is returned */
            lua_pop(L, 2); /* value (alive via the pair), pair */
            r->nquery++;
        }
        return 0;
    }

    lua_pushnil(L);
    while (lua_next(L, qi) != 0) {
        const char *key;
        size_t key_len;
        if (lua_type(L, -2) != LUA_TSTRING || hcdl_rawlen(L, -2) == 0) {
            lua_pop(L, 3);
            return hcdl_error_input(L, "query", "keys must be non-empty strings");
        }
        key = lua_tolstring(L, -2, &key_len);
        if (lua_istable(L, -1)) {
            size_t m = hcdl_rawlen(L, -1), j;
            for (j = 1; j <= m; j++) {
                hcdl_param *q = &r->query[r->nquery];
                lua_rawgeti(L, -1, (int)j);
                rc = query_value(L, a, key, &q->value, &q->value_len);
                if (rc)
                    return rc;
                lua_pop(L, 1);
                q->key = key;
                q->key_len = key_len;
                r->nquery++;
            }
        } else {
            hcdl_param *q = &r->query[r->nquery];
            rc = query_value(L, a, key, &q->value, &q->value_len);
            if (rc)
                return rc;
            q->key = key;
            q->key_len = key_len;
            r->nquery++;
        }
        lua_pop(L, 1);
    }
    return 0;
}

static int lname_is(const hcdl_header *h, const char *lower)
{
    size_t n = strlen(lower);
    return h->name_len == n && memcmp(h->lname, lower, n) == 0;
}

static int read_headers(lua_State *L, hcdl_arena *a, hcdl_sign_req *r,
                        const char **date_header, size_t *date_header_len)
{
    size_t count = 0, i, k;
    int hi;

    *date_header = NULL;
    *date_header_len = 0;
    hi = SLOT(F_HEADERS);
    if (lua_isnil(L, hi)) {
        r->headers = hcdl_arena_alloc(a, 2 * sizeof *r->headers);
        r->nheaders = 0;
        return 0;
    }
    if (!lua_istable(L, hi))
        return hcdl_error_input(L, "headers", "must be a table of name = value, "
                                "got %s", lua_typename(L, lua_type(L, hi)));
    lua_pushnil(L);
    while (lua_next(L, hi) != 0) {
        count++;
        lua_pop(L, 1);
    }
    if (count > 1000)
        return hcdl_error_input(L, "headers", "more than 1000 headers");
    r->headers = hcdl_arena_alloc(a, (count + 2) * sizeof *r->headers);
    r->nheaders = 0;

    lua_pushnil(L);
    while (lua_next(L, hi) != 0) {
        hcdl_header *h = &r->headers[r->nheaders];
        const char *v;
        size_t vlen;
        if (lua_type(L, -2) != LUA_TSTRING) {
            lua_pop(L, 3);
            return hcdl_error_input(L, "headers", "names must be strings");
        }
        h->name = lua_tolstring(L, -2, &h->name_len);
        if (h->name_len == 0 || h->name_len > 256) {
            lua_pop(L, 3);
            return hcdl_error_input(L, "headers", "a name must be 1 to 256 "
                                    "characters");
        }
        for (i = 0; i < h->name_len; i++) {
            if (!is_token_char((unsigned char)h->name[i])) {
                lua_pop(L, 3);
                return hcdl_error_input(L, "headers", "name '%s' has a character "
                                        "not allowed in a header name", h->name);
            }
        }
        if (lua_type(L, -1) != LUA_TSTRING) {
            int t = lua_type(L, -1);
            lua_pop(L, 3);
            return hcdl_error_input(L, "headers", "value of %s must be a string, "
                                    "got %s", h->name, lua_typename(L, t));
        }
        v = lua_tolstring(L, -1, &vlen);
        if (vlen > MAX_FIELD || has_ctl(v, vlen)) {
            lua_pop(L, 3);
            /* The value itself is never echoed: it may be a token. */
            return hcdl_error_input(L, "headers", "value of %s must not contain "
                                    "CR, LF or NUL", h->name);
        }
        while (vlen > 0 && (*v == ' ' || *v == '\t')) {
            v++;
            vlen--;
        }
        while (vlen > 0 && (v[vlen - 1] == ' ' || v[vlen - 1] == '\t'))
            vlen--;
        h->value = v;
        h->value_len = vlen;
        h->lname = hcdl_arena_alloc(a, h->name_len + 1);
        for (i = 0; i < h->name_len; i++) {
            char c = h->name[i];
            h->lname[i] = (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
        }
        h->lname[h->name_len] = '\0';
        h->signed_ = memchr(h->name, '_', h->name_len) == NULL;
        lua_pop(L, 1);

        if (lname_is(h, "host")) {
            lua_pop(L, 2);
            return hcdl_error_input(L, "headers", "Host comes from the host field; "
                                    "do not set it as a header");
        }
        if (lname_is(h, "authorization")) {
            lua_pop(L, 2);
            return hcdl_error_input(L, "headers", "Authorization is computed by "
                                    "the signer; do not set it");
        }
        if (lname_is(h, "x-sdk-date")) {
            /* Reused when no date field is given, like the SDKs do. */
            *date_header = h->value;
            *date_header_len = h->value_len;
            continue; /* the signer adds its own X-Sdk-Date */
        }
        for (k = 0; k < r->nheaders; k++) {
            if (r->headers[k].name_len == h->name_len &&
                memcmp(r->headers[k].lname, h->lname, h->name_len) == 0) {
                lua_pop(L, 2);
                return hcdl_error_input(L, "headers", "%s is given twice (header "
                                        "names are case-insensitive)", h->name);
            }
        }
        r->nheaders++;
    }
    return 0;
}

/*
 * Result keys, interned once per lua_State in an upvalue table: setting a
 * field by C string would look the string up (and compare it) every call.
 */
enum {
    K_AUTHORIZATION = 1, K_SIGNATURE, K_SIGNED_HEADERS, K_CANONICAL_REQUEST,
    K_STRING_TO_SIGN, K_QUERY_STRING, K_PATH, K_DATE, K_METHOD, K_HEADERS,
    K_HOST, K_X_SDK_DATE, K_AUTHORIZATION_HEADER, K_COUNT
};
static const char *const result_keys[K_COUNT] = {
    NULL, "authorization", "signature", "signed_headers", "canonical_request",
    "string_to_sign", "query_string", "path", "date", "method", "headers",
    "Host", "X-Sdk-Date", "Authorization",
};

void hcdl_sign_push_keys(lua_State *L)
{
    int k;
    lua_createtable(L, K_COUNT - 1, 0);
    for (k = 1; k < K_COUNT; k++) {
        lua_pushstring(L, result_keys[k]);
        lua_rawseti(L, -2, k);
    }
}

static void push_key(lua_State *L, int k)
{
    lua_rawgeti(L, lua_upvalueindex(2), k);
}

static void set_string(lua_State *L, int table, int k, const char *v, size_t n)
{
    lua_rawgeti(L, lua_upvalueindex(2), k);
    lua_pushlstring(L, v, n);
    lua_rawset(L, table);
}

int hcdl_sign_lua(lua_State *L)
{
    hcdl_crypto *c = lua_touserdata(L, lua_upvalueindex(1));
    hcdl_arena arena;
    hcdl_sign_req r;
    hcdl_sign_out o;
    const char *s, *date_header, *failure;
    size_t len, i, date_header_len;
    int rc, auth, res, hdrs;

    luaL_checktype(L, 1, LUA_TTABLE);
    lua_settop(L, 1);
    if ((rc = collect_fields(L)) != 0)
        return rc;
    hcdl_arena_init(&arena, L);
    memset(&r, 0, sizeof r);

    if ((rc = read_string(L, F_METHOD, 1, &s, &len)) != 0)
        return rc;
    if (len > 16)
        return hcdl_error_input(L, "method", "must be an HTTP method such as GET "
                                "or POST");
    for (i = 0; i < len; i++) {
        char ch = s[i];
        if (ch >= 'a' && ch <= 'z')
            ch = (char)(ch - 'a' + 'A');
        if (ch < 'A' || ch > 'Z')
            return hcdl_error_input(L, "method", "must be an HTTP method such as "
                                    "GET or POST");
        r.method[i] = ch;
    }
    r.method[len] = '\0';

    if ((rc = read_string(L, F_HOST, 1, &r.host, &r.host_len)) != 0)
        return rc;
    for (i = 0; i < r.host_len; i++) {
        unsigned char ch = (unsigned char)r.host[i];
        if (ch <= ' ' || ch >= 0x7f || ch == '/' || ch == '?' || ch == '#' ||
            ch == '@')
            return hcdl_error_input(L, "host", "must be a host name with an "
                                    "optional :port, no scheme or path");
    }

    if ((rc = read_string(L, F_PATH, 1, &r.path, &r.path_len)) != 0)
        return rc;
    if (r.path[0] != '/')
        return hcdl_error_input(L, "path", "must start with '/'");

    if ((rc = read_string(L, F_AK, 1, &r.ak, &r.ak_len)) != 0)
        return rc;
    for (i = 0; i < r.ak_len; i++) {
        unsigned char ch = (unsigned char)r.ak[i];
        if (ch <= ' ' || ch >= 0x7f || ch == ',')
            return hcdl_error_input(L, "ak", "must be printable ASCII without "
                                    "spaces or commas");
    }
    if ((rc = read_string(L, F_SK, 1, &r.sk, &r.sk_len)) != 0)
        return rc;

    if ((rc = read_string(L, F_BODY, 0, &r.body, &r.body_len)) != 0)
        return rc;
    if (r.body == NULL)
        r.body = "";

    if ((rc = read_query(L, &arena, &r)) != 0)
        return rc;
    if ((rc = read_headers(L, &arena, &r, &date_header, &date_header_len)) != 0)
        return rc;

    if ((rc = read_string(L, F_DATE, 0, &s, &len)) != 0)
        return rc;
    if (s != NULL) {
        if (!date_valid(s, len))
            return hcdl_error_input(L, "date", "must be a UTC time as "
                                    "YYYYMMDDTHHMMSSZ, e.g. 20240101T000000Z");
        memcpy(r.date, s, HCDL_SIGN_DATE_LEN);
    } else if (date_header != NULL) {
        if (!date_valid(date_header, date_header_len))
            return hcdl_error_input(L, "headers", "X-Sdk-Date must be a UTC time "
                                    "as YYYYMMDDTHHMMSSZ");
        memcpy(r.date, date_header, HCDL_SIGN_DATE_LEN);
    } else if (date_now(r.date) != 0) {
        lua_pushnil(L);
        hcdl_error_push(L, "input", "date: the system clock cannot be read");
        return 2;
    }
    r.date[HCDL_SIGN_DATE_LEN] = '\0';

    failure = sign_compute(c, &arena, &r, &o);
    if (failure != NULL)
        return luaL_error(L, "hcdl.sign: %s", failure);

    /* One Authorization string serves s.authorization and s.headers. */
    lua_pushlstring(L, o.authorization, o.authorization_len);
    auth = lua_gettop(L);
    lua_createtable(L, 0, 10);
    res = lua_gettop(L);
    push_key(L, K_AUTHORIZATION);
    lua_pushvalue(L, auth);
    lua_rawset(L, res);
    set_string(L, res, K_SIGNATURE, o.signature, 64);
    set_string(L, res, K_SIGNED_HEADERS, o.signed_headers, o.signed_headers_len);
    set_string(L, res, K_CANONICAL_REQUEST, o.canonical_request,
               o.canonical_request_len);
    set_string(L, res, K_STRING_TO_SIGN, o.string_to_sign, o.string_to_sign_len);
    set_string(L, res, K_QUERY_STRING, o.query_string, o.query_len);
    set_string(L, res, K_PATH, o.wire_path, o.wire_path_len);
    set_string(L, res, K_DATE, r.date, HCDL_SIGN_DATE_LEN);
    set_string(L, res, K_METHOD, r.method, strlen(r.method));

    /* Everything to send: the caller's headers, Host, X-Sdk-Date, Authorization. */
    push_key(L, K_HEADERS);
    lua_createtable(L, 0, (int)r.nheaders + 3);
    hdrs = lua_gettop(L);
    for (i = 0; i < r.nheaders + 2; i++) {
        if (r.headers[i].name == host_name)
            push_key(L, K_HOST);
        else if (r.headers[i].name == date_name)
            push_key(L, K_X_SDK_DATE);
        else
            lua_pushlstring(L, r.headers[i].name, r.headers[i].name_len);
        lua_pushlstring(L, r.headers[i].value, r.headers[i].value_len);
        lua_rawset(L, hdrs);
    }
    push_key(L, K_AUTHORIZATION_HEADER);
    lua_pushvalue(L, auth);
    lua_rawset(L, hdrs);
    lua_rawset(L, res); /* res.headers = hdrs */
    return 1;
}
