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
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include "arena.h"
#include "buf.h"
#include "clock.h"
#include "compat.h"
#include "error.h"
#include "sign.h"

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
    hcdl_buf out;        /* every string one signature makes, reused */
    /* The key macctx holds (a copy of the last SK, cleansed when replaced):
     * signing again with the same SK re-initialises the HMAC without
     * hashing the key into its pads again. */
    unsigned char *key;
    size_t key_len;
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

static void forget_key(hcdl_crypto *c)
{
    if (c->key != NULL) {
        OPENSSL_cleanse(c->key, c->key_len);
        free(c->key);
    }
    c->key = NULL;
    c->key_len = 0;
}

/* Starts an HMAC with key sk: the pads macctx holds when sk is the key it
 * was last given, else sk's (kept for the next call). 1 on success. */
static int hmac_start(hcdl_crypto *c, const char *sk, size_t sk_len)
{
    if (c->key != NULL && c->key_len == sk_len && memcmp(c->key, sk, sk_len) == 0 &&
        EVP_MAC_init(c->macctx, NULL, 0, NULL) == 1)
        return 1;
    forget_key(c);
    if (EVP_MAC_init(c->macctx, (const unsigned char *)sk, sk_len, NULL) != 1)
        return 0;
    if (sk_len > 0 && (c->key = malloc(sk_len)) != NULL) {
        memcpy(c->key, sk, sk_len);
        c->key_len = sk_len;
    }
    return 1;
}

static int crypto_gc(lua_State *L)
{
    hcdl_crypto *c = luaL_checkudata(L, 1, CRYPTO_MT);
    forget_key(c);
    EVP_MAC_CTX_free(c->macctx);
    EVP_MAC_free(c->hmac);
    EVP_MD_CTX_free(c->mdctx);
    EVP_MD_free(c->sha256);
    hcdl_buf_free(&c->out);
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

/* ---- the signature ----------------------------------------------------
 *
 * Every string one signature makes is appended to the context's buffer (a
 * strbuf in lua-cjson's manner, kept across calls), and each is then a
 * span of it: no allocation per call once the buffer has grown, and
 * nothing to free on any path.  Offsets are kept while appending, since
 * the buffer may move as it grows.
 */

typedef struct {
    size_t wire_path, query, signed_headers, canonical_request, string_to_sign,
        authorization, end;
} sign_marks;

#define OUT_KEEP (64u * 1024u) /* a buffer grown larger is given back */

/* Appends s percent-encoded; '/' kept as is when keep_slash. */
static int put_encoded(hcdl_buf *b, const char *s, size_t n, int keep_slash)
{
    size_t i, len = 0;
    char *p;
    for (i = 0; i < n; i++)
        len += (is_unreserved(s[i]) || (keep_slash && s[i] == '/')) ? 1 : 3;
    if ((p = hcdl_buf_room(b, len)) == NULL)
        return -1;
    for (i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (is_unreserved(c) || (keep_slash && c == '/')) {
            *p++ = (char)c;
        } else {
            *p++ = '%';
            *p++ = hexdigits_upper[c >> 4];
            *p++ = hexdigits_upper[c & 15];
        }
    }
    b->len += len;
    b->data[b->len] = '\0';
    return 0;
}

static int put(hcdl_buf *b, const char *s, size_t n)
{
    return hcdl_buf_append(b, s, n);
}

/* Appends n bytes the buffer already holds at offset from: room is made
 * first, since growing may move the bytes. */
static int put_again(hcdl_buf *b, size_t from, size_t n)
{
    if (hcdl_buf_room(b, n) == NULL)
        return -1;
    memcpy(b->data + b->len, b->data + from, n);
    b->len += n;
    b->data[b->len] = '\0';
    return 0;
}

/* The canonical (and wire) query string: pairs sorted, then encoded. */
static int put_query(hcdl_buf *b, hcdl_sign_req *r)
{
    size_t i;
    int rc = 0;
    sort_params(r->query, r->nquery);
    for (i = 0; i < r->nquery; i++) {
        if (i > 0)
            rc |= put(b, "&", 1);
        rc |= put_encoded(b, r->query[i].key, r->query[i].key_len, 0);
        rc |= put(b, "=", 1);
        rc |= put_encoded(b, r->query[i].value, r->query[i].value_len, 0);
    }
    return rc;
}

/* Host and X-Sdk-Date join the caller's headers; all sort together.
 * Returns the number of headers. */
static size_t add_signer_headers(hcdl_sign_req *r)
{
    size_t n = r->nheaders;
    hcdl_header *h = r->headers;
    h[n].name = host_name;
    h[n].name_len = 4;
    h[n].value = r->host;
    h[n].value_len = r->host_len;
    h[n].lname = "host";
    h[n].signed_ = 1;
    n++;
    h[n].name = date_name;
    h[n].name_len = 10;
    h[n].value = r->date;
    h[n].value_len = HCDL_SIGN_DATE_LEN;
    h[n].lname = "x-sdk-date";
    h[n].signed_ = 1;
    n++;
    sort_headers(h, n);
    return n;
}

/* The payload hash: X-Sdk-Content-Sha256 when given, else SHA-256 of the
 * body (into own[]).  NULL on an OpenSSL failure. */
static const char *payload_hash(hcdl_crypto *c, const hcdl_sign_req *r, size_t n,
                                char own[65], size_t *len)
{
    const char *given = NULL;
    size_t i;
    for (i = 0; i < n; i++) {
        const hcdl_header *h = &r->headers[i];
        if (h->signed_ && h->name_len == 20 && memcmp(h->lname, "x-sdk-content-sha256", 20) == 0) {
            given = h->value;
            *len = h->value_len;
        }
    }
    if (given != NULL)
        return given;
    *len = 64;
    if (r->body_len == 0) {
        memcpy(own, EMPTY_SHA256, 65);
        return own;
    }
    return sha256_hex(c, r->body, r->body_len, own) == 0 ? own : NULL;
}

static int put_signed_names(hcdl_buf *b, const hcdl_sign_req *r, size_t n)
{
    size_t i, start = b->len;
    int rc = 0;
    for (i = 0; i < n; i++) {
        if (!r->headers[i].signed_)
            continue;
        if (b->len != start)
            rc |= put(b, ";", 1);
        rc |= put(b, r->headers[i].lname, r->headers[i].name_len);
    }
    return rc;
}

/* METHOD \n URI/ \n query \n headers \n \n names \n payload-hash */
static int put_canonical_request(hcdl_buf *b, const hcdl_sign_req *r, size_t n,
                                 const sign_marks *m, const char *payload, size_t payload_len)
{
    size_t i, path_len = m->query - m->wire_path;
    int rc = put(b, r->method, strlen(r->method));
    rc |= put(b, "\n", 1);
    rc |= put_again(b, m->wire_path, path_len);
    if (rc == 0 && (path_len == 0 || b->data[m->wire_path + path_len - 1] != '/'))
        rc |= put(b, "/", 1);
    rc |= put(b, "\n", 1);
    rc |= put_again(b, m->query, m->signed_headers - m->query);
    rc |= put(b, "\n", 1);
    for (i = 0; i < n; i++) {
        if (!r->headers[i].signed_)
            continue;
        rc |= put(b, r->headers[i].lname, r->headers[i].name_len);
        rc |= put(b, ":", 1);
        rc |= put(b, r->headers[i].value, r->headers[i].value_len);
        rc |= put(b, "\n", 1);
    }
    rc |= put(b, "\n", 1);
    rc |= put_again(b, m->signed_headers, m->canonical_request - m->signed_headers);
    rc |= put(b, "\n", 1);
    return rc | put(b, payload, payload_len);
}

static hcdl_span span_of(const hcdl_buf *b, size_t from, size_t to)
{
    hcdl_span s;
    s.s = b->data + from;
    s.n = to - from;
    return s;
}

const char *hcdl_sign_encode(hcdl_crypto *c, hcdl_sign_req *r, hcdl_sign_out *o)
{
    hcdl_buf *b = &c->out;
    size_t mid;
    int rc;
    hcdl_buf_reset(b, OUT_KEEP);
    rc = put_encoded(b, r->path, r->path_len, 1);
    mid = b->len;
    rc |= put_query(b, r);
    if (rc != 0 || hcdl_buf_room(b, 0) == NULL)
        return "out of memory";
    o->wire_path = span_of(b, 0, mid);
    o->query_string = span_of(b, mid, b->len);
    return NULL;
}

/* Wire path, query, signed names and the canonical request, appended. */
static const char *put_request_parts(hcdl_crypto *c, hcdl_sign_req *r, size_t n,
                                     sign_marks *m)
{
    hcdl_buf *b = &c->out;
    char own[65];
    size_t payload_len;
    const char *payload = payload_hash(c, r, n, own, &payload_len);
    int rc;
    if (payload == NULL)
        return "SHA-256 of the body failed (OpenSSL)";
    hcdl_buf_reset(b, OUT_KEEP);
    m->wire_path = 0;
    rc = put_encoded(b, r->path, r->path_len, 1);
    m->query = b->len;
    rc |= put_query(b, r);
    m->signed_headers = b->len;
    rc |= put_signed_names(b, r, n);
    m->canonical_request = b->len;
    if (rc != 0 || put_canonical_request(b, r, n, m, payload, payload_len) != 0)
        return "out of memory";
    m->string_to_sign = b->len;
    return NULL;
}

/* String to sign, signature and the Authorization value, appended. */
static const char *put_signature(hcdl_crypto *c, const hcdl_sign_req *r, sign_marks *m,
                                 char signature[65])
{
    hcdl_buf *b = &c->out;
    char cr_hash[65];
    unsigned char mac[32];
    size_t maclen = 0;
    int rc;
    if (sha256_hex(c, b->data + m->canonical_request, m->string_to_sign - m->canonical_request,
                   cr_hash) != 0)
        return "SHA-256 of the canonical request failed (OpenSSL)";
    rc = put(b, ALGORITHM "\n", sizeof ALGORITHM);
    rc |= put(b, r->date, HCDL_SIGN_DATE_LEN);
    rc |= put(b, "\n", 1);
    rc |= put(b, cr_hash, 64);
    m->authorization = b->len;
    if (rc != 0)
        return "out of memory";
    if (hmac_start(c, r->sk, r->sk_len) != 1 ||
        EVP_MAC_update(c->macctx, (const unsigned char *)b->data + m->string_to_sign,
                       m->authorization - m->string_to_sign) != 1 ||
        EVP_MAC_final(c->macctx, mac, &maclen, sizeof mac) != 1 || maclen != 32)
        return "HMAC-SHA256 failed (OpenSSL)";
    hex_lower(signature, mac, 32);
    /* ALGORITHM Access=AK, SignedHeaders=..., Signature=... */
    rc = put(b, ALGORITHM " Access=", sizeof ALGORITHM - 1 + 8);
    rc |= put(b, r->ak, r->ak_len);
    rc |= put(b, ", SignedHeaders=", 16);
    rc |= put_again(b, m->signed_headers, m->canonical_request - m->signed_headers);
    rc |= put(b, ", Signature=", 12);
    rc |= put(b, signature, 64);
    m->end = b->len;
    return rc != 0 ? "out of memory" : NULL;
}

const char *hcdl_sign_compute(hcdl_crypto *c, hcdl_sign_req *r, hcdl_sign_out *o)
{
    sign_marks m;
    size_t n = add_signer_headers(r);
    const char *failure = put_request_parts(c, r, n, &m);
    const hcdl_buf *b = &c->out;
    if (failure == NULL)
        failure = put_signature(c, r, &m, o->signature);
    if (failure != NULL)
        return failure;
    o->wire_path = span_of(b, m.wire_path, m.query);
    o->query_string = span_of(b, m.query, m.signed_headers);
    o->signed_headers = span_of(b, m.signed_headers, m.canonical_request);
    o->canonical_request = span_of(b, m.canonical_request, m.string_to_sign);
    o->string_to_sign = span_of(b, m.string_to_sign, m.authorization);
    o->authorization = span_of(b, m.authorization, m.end);
    return NULL;
}

/* ---- dates (the calendar itself: src/clock.c) ------------------------- */

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

/* YYYYMMDDTHHMMSSZ naming a real moment (a leap second allowed). */
static int date_valid(const char *s, size_t len)
{
    int y, mo, d, h, mi, se;
    long long epoch;
    if (len != HCDL_SIGN_DATE_LEN || s[8] != 'T' || s[15] != 'Z')
        return 0;
    if (!digits(s, 4, &y) || !digits(s + 4, 2, &mo) || !digits(s + 6, 2, &d) ||
        !digits(s + 9, 2, &h) || !digits(s + 11, 2, &mi) || !digits(s + 13, 2, &se))
        return 0;
    return hcdl_civil_epoch(y, mo, d, h, mi, se, 60, &epoch);
}

int hcdl_sign_date_now(char out[HCDL_SIGN_DATE_LEN + 1])
{
    char buf[HCDL_TIME_MAX];
    long long t = (long long)time(NULL);
    if (t < 0 || hcdl_format_epoch(t, HCDL_TIME_SDK, buf) != HCDL_SIGN_DATE_LEN)
        return -1;
    memcpy(out, buf, HCDL_SIGN_DATE_LEN + 1);
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

int hcdl_sign_check_ak(lua_State *L, const char *ak, size_t n)
{
    size_t i;
    for (i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)ak[i];
        if (ch <= ' ' || ch >= 0x7f || ch == ',')
            return hcdl_error_input(L, "ak", "must be printable ASCII without "
                                    "spaces or commas");
    }
    return 0;
}

int hcdl_sign_check_header(lua_State *L, const char *name, const char *v, size_t n)
{
    if (n > MAX_FIELD || has_ctl(v, n))
        /* The value itself is never echoed: it may be a token. */
        return hcdl_error_input(L, "headers", "value of %s must not contain "
                                "CR, LF or NUL", name);
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

/* query as a list of {key, value} pairs. */
static int read_query_pairs(lua_State *L, hcdl_arena *a, hcdl_sign_req *r, int qi, size_t n)
{
    size_t i;
    int rc;
    for (i = 1; i <= n; i++) {
        hcdl_param *q = &r->query[r->nquery];
        lua_rawgeti(L, qi, (int)i);
        if (!lua_istable(L, -1))
            return hcdl_error_input(L, "query", "item %d must be a {key, value} pair", (int)i);
        lua_rawgeti(L, -1, 1);
        if (lua_type(L, -1) != LUA_TSTRING || hcdl_rawlen(L, -1) == 0)
            return hcdl_error_input(L, "query", "item %d: the key must be a non-empty string",
                                    (int)i);
        q->key = lua_tolstring(L, -1, &q->key_len);
        lua_pop(L, 1);
        lua_rawgeti(L, -1, 2);
        if ((rc = query_value(L, a, q->key, &q->value, &q->value_len)) != 0)
            return rc; /* nil, err are on top: that is what is returned */
        lua_pop(L, 2); /* value (alive via the pair), pair */
        r->nquery++;
    }
    return 0;
}

/* One key of the map form, its value at the top: a list repeats the key. */
static int read_query_key(lua_State *L, hcdl_arena *a, hcdl_sign_req *r, const char *key,
                          size_t key_len)
{
    size_t m = 1, j;
    int list = lua_istable(L, -1), rc;
    if (list)
        m = hcdl_rawlen(L, -1);
    for (j = 1; j <= m; j++) {
        hcdl_param *q = &r->query[r->nquery];
        if (list)
            lua_rawgeti(L, -1, (int)j);
        if ((rc = query_value(L, a, key, &q->value, &q->value_len)) != 0)
            return rc;
        if (list)
            lua_pop(L, 1);
        q->key = key;
        q->key_len = key_len;
        r->nquery++;
    }
    return 0;
}

/*
 * query = { {"k", "v"}, ... }            list of pairs, order irrelevant
 *       | { k = "v", k2 = {"a", "b"} }   map; a list value repeats the key
 */
static int read_query(lua_State *L, hcdl_arena *a, hcdl_sign_req *r)
{
    size_t count = 0, n;
    int qi = SLOT(F_QUERY), rc;

    r->query = NULL;
    r->nquery = 0;
    if (lua_isnil(L, qi))
        return 0;
    if (!lua_istable(L, qi))
        return hcdl_error_input(L, "query", "must be a table, got %s",
                                lua_typename(L, lua_type(L, qi)));

    /* Count entries (map values that are lists count once per item). */
    n = hcdl_rawlen(L, qi);
    lua_pushnil(L);
    while (lua_next(L, qi) != 0) {
        count += (n == 0 && lua_istable(L, -1)) ? hcdl_rawlen(L, -1) : 1;
        lua_pop(L, 1);
    }
    if (n > 0 && count != n)
        return hcdl_error_input(L, "query", "mixes a list of pairs with named "
                                "keys; use one form");
    if (count > 100000)
        return hcdl_error_input(L, "query", "more than 100000 parameters");
    r->query = hcdl_arena_alloc(a, (count ? count : 1) * sizeof *r->query);
    if (n > 0)
        return read_query_pairs(L, a, r, qi, n);

    lua_pushnil(L);
    while (lua_next(L, qi) != 0) {
        const char *key;
        size_t key_len;
        if (lua_type(L, -2) != LUA_TSTRING || hcdl_rawlen(L, -2) == 0)
            return hcdl_error_input(L, "query", "keys must be non-empty strings");
        key = lua_tolstring(L, -2, &key_len);
        if ((rc = read_query_key(L, a, r, key, key_len)) != 0)
            return rc;
        lua_pop(L, 1);
    }
    return 0;
}

static int lname_is(const hcdl_header *h, const char *lower)
{
    size_t n = strlen(lower);
    return h->name_len == n && memcmp(h->lname, lower, n) == 0;
}

/*
 * Reads the header at the top of the stack (key below it) into h: name
 * checked, value checked and trimmed, the lower-case name made.  0, or
 * pushes nil, err and returns 2.
 */
static int read_header(lua_State *L, hcdl_arena *a, hcdl_header *h)
{
    const char *v;
    char *lname;
    size_t vlen, i;
    if (lua_type(L, -2) != LUA_TSTRING)
        return hcdl_error_input(L, "headers", "names must be strings");
    h->name = lua_tolstring(L, -2, &h->name_len);
    if (h->name_len == 0 || h->name_len > 256)
        return hcdl_error_input(L, "headers", "a name must be 1 to 256 characters");
    for (i = 0; i < h->name_len; i++)
        if (!is_token_char((unsigned char)h->name[i]))
            return hcdl_error_input(L, "headers", "name '%s' has a character "
                                    "not allowed in a header name", h->name);
    if (lua_type(L, -1) != LUA_TSTRING)
        return hcdl_error_input(L, "headers", "value of %s must be a string, got %s",
                                h->name, lua_typename(L, lua_type(L, -1)));
    v = lua_tolstring(L, -1, &vlen);
    if (hcdl_sign_check_header(L, h->name, v, vlen) != 0)
        return 2;
    while (vlen > 0 && (*v == ' ' || *v == '\t')) {
        v++;
        vlen--;
    }
    while (vlen > 0 && (v[vlen - 1] == ' ' || v[vlen - 1] == '\t'))
        vlen--;
    h->value = v;
    h->value_len = vlen;
    lname = hcdl_arena_alloc(a, h->name_len + 1);
    for (i = 0; i < h->name_len; i++) {
        char c = h->name[i];
        lname[i] = (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
    }
    lname[h->name_len] = '\0';
    h->lname = lname;
    h->signed_ = memchr(h->name, '_', h->name_len) == NULL;
    return 0;
}

/* Host and Authorization are the signer's; a name may not come twice. */
static int check_header_name(lua_State *L, const hcdl_sign_req *r, const hcdl_header *h)
{
    size_t k;
    if (lname_is(h, "host"))
        return hcdl_error_input(L, "headers", "Host comes from the host field; "
                                "do not set it as a header");
    if (lname_is(h, "authorization"))
        return hcdl_error_input(L, "headers", "Authorization is computed by "
                                "the signer; do not set it");
    for (k = 0; k < r->nheaders; k++)
        if (r->headers[k].name_len == h->name_len &&
            memcmp(r->headers[k].lname, h->lname, h->name_len) == 0)
            return hcdl_error_input(L, "headers", "%s is given twice (header "
                                    "names are case-insensitive)", h->name);
    return 0;
}

static int read_headers(lua_State *L, hcdl_arena *a, hcdl_sign_req *r,
                        const char **date_header, size_t *date_header_len)
{
    size_t count = 0;
    int hi = SLOT(F_HEADERS), rc;

    *date_header = NULL;
    *date_header_len = 0;
    r->nheaders = 0;
    if (lua_isnil(L, hi)) {
        r->headers = hcdl_arena_alloc(a, 2 * sizeof *r->headers);
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
    lua_pushnil(L);
    while (lua_next(L, hi) != 0) {
        hcdl_header *h = &r->headers[r->nheaders];
        if ((rc = read_header(L, a, h)) != 0)
            return rc; /* nil, err on top: what is returned */
        lua_pop(L, 1);
        if (lname_is(h, "x-sdk-date")) {
            /* Reused when no date field is given, like the SDKs do; the
             * signer adds its own X-Sdk-Date */
            *date_header = h->value;
            *date_header_len = h->value_len;
            continue;
        }
        if ((rc = check_header_name(L, r, h)) != 0)
            return rc;
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

/* method, host, path, ak, sk and body, checked in that order. */
static int read_scalars(lua_State *L, hcdl_sign_req *r)
{
    const char *s;
    size_t len, i;
    int rc;
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
        r->method[i] = ch;
    }
    r->method[len] = '\0';

    if ((rc = read_string(L, F_HOST, 1, &r->host, &r->host_len)) != 0)
        return rc;
    for (i = 0; i < r->host_len; i++) {
        unsigned char ch = (unsigned char)r->host[i];
        if (ch <= ' ' || ch >= 0x7f || ch == '/' || ch == '?' || ch == '#' ||
            ch == '@')
            return hcdl_error_input(L, "host", "must be a host name with an "
                                    "optional :port, no scheme or path");
    }

    if ((rc = read_string(L, F_PATH, 1, &r->path, &r->path_len)) != 0)
        return rc;
    if (r->path[0] != '/')
        return hcdl_error_input(L, "path", "must start with '/'");

    if ((rc = read_string(L, F_AK, 1, &r->ak, &r->ak_len)) != 0 ||
        (rc = hcdl_sign_check_ak(L, r->ak, r->ak_len)) != 0 ||
        (rc = read_string(L, F_SK, 1, &r->sk, &r->sk_len)) != 0 ||
        (rc = read_string(L, F_BODY, 0, &r->body, &r->body_len)) != 0)
        return rc;
    if (r->body == NULL)
        r->body = "";
    return 0;
}

/* The date field, else an X-Sdk-Date header, else now. */
static int read_date(lua_State *L, hcdl_sign_req *r, const char *date_header,
                     size_t date_header_len)
{
    const char *s;
    size_t len;
    int rc;
    if ((rc = read_string(L, F_DATE, 0, &s, &len)) != 0)
        return rc;
    if (s != NULL) {
        if (!date_valid(s, len))
            return hcdl_error_input(L, "date", "must be a UTC time as "
                                    "YYYYMMDDTHHMMSSZ, e.g. 20240101T000000Z");
        memcpy(r->date, s, HCDL_SIGN_DATE_LEN);
    } else if (date_header != NULL) {
        if (!date_valid(date_header, date_header_len))
            return hcdl_error_input(L, "headers", "X-Sdk-Date must be a UTC time "
                                    "as YYYYMMDDTHHMMSSZ");
        memcpy(r->date, date_header, HCDL_SIGN_DATE_LEN);
    } else if (hcdl_sign_date_now(r->date) != 0) {
        lua_pushnil(L);
        hcdl_error_push(L, "input", "date: the system clock cannot be read");
        return 2;
    }
    r->date[HCDL_SIGN_DATE_LEN] = '\0';
    return 0;
}

/* Pushes core.sign's result table. */
static void push_result(lua_State *L, const hcdl_sign_req *r, const hcdl_sign_out *o)
{
    int auth, res, hdrs;
    size_t i;
    /* One Authorization string serves s.authorization and s.headers. */
    lua_pushlstring(L, o->authorization.s, o->authorization.n);
    auth = lua_gettop(L);
    lua_createtable(L, 0, 10);
    res = lua_gettop(L);
    push_key(L, K_AUTHORIZATION);
    lua_pushvalue(L, auth);
    lua_rawset(L, res);
    set_string(L, res, K_SIGNATURE, o->signature, 64);
    set_string(L, res, K_SIGNED_HEADERS, o->signed_headers.s, o->signed_headers.n);
    set_string(L, res, K_CANONICAL_REQUEST, o->canonical_request.s, o->canonical_request.n);
    set_string(L, res, K_STRING_TO_SIGN, o->string_to_sign.s, o->string_to_sign.n);
    set_string(L, res, K_QUERY_STRING, o->query_string.s, o->query_string.n);
    set_string(L, res, K_PATH, o->wire_path.s, o->wire_path.n);
    set_string(L, res, K_DATE, r->date, HCDL_SIGN_DATE_LEN);
    set_string(L, res, K_METHOD, r->method, strlen(r->method));

    /* Everything to send: the caller's headers, Host, X-Sdk-Date, Authorization. */
    push_key(L, K_HEADERS);
    lua_createtable(L, 0, (int)r->nheaders + 3);
    hdrs = lua_gettop(L);
    for (i = 0; i < r->nheaders + 2; i++) {
        if (r->headers[i].name == host_name)
            push_key(L, K_HOST);
        else if (r->headers[i].name == date_name)
            push_key(L, K_X_SDK_DATE);
        else
            lua_pushlstring(L, r->headers[i].name, r->headers[i].name_len);
        lua_pushlstring(L, r->headers[i].value, r->headers[i].value_len);
        lua_rawset(L, hdrs);
    }
    push_key(L, K_AUTHORIZATION_HEADER);
    lua_pushvalue(L, auth);
    lua_rawset(L, hdrs);
    lua_rawset(L, res); /* res.headers = hdrs */
}

int hcdl_sign_lua(lua_State *L)
{
    hcdl_crypto *c = lua_touserdata(L, lua_upvalueindex(1));
    hcdl_arena arena;
    hcdl_sign_req r;
    hcdl_sign_out o;
    const char *date_header, *failure;
    size_t date_header_len;
    int rc;

    luaL_checktype(L, 1, LUA_TTABLE);
    lua_settop(L, 1);
    if ((rc = collect_fields(L)) != 0)
        return rc;
    hcdl_arena_init(&arena, L);
    memset(&r, 0, sizeof r);
    if ((rc = read_scalars(L, &r)) != 0 || (rc = read_query(L, &arena, &r)) != 0 ||
        (rc = read_headers(L, &arena, &r, &date_header, &date_header_len)) != 0 ||
        (rc = read_date(L, &r, date_header, date_header_len)) != 0)
        return rc;
    failure = hcdl_sign_compute(c, &r, &o);
    if (failure != NULL)
        return luaL_error(L, "hcdl.sign: %s", failure);
    push_result(L, &r, &o);
    return 1;
}
