/*
 * transfer.c - see transfer.h.
 *
 * Safety rules a download keeps, whatever the server says:
 * - bytes reach the file (or the stream) only when the answer is the one
 *   asked for: 206 with a Content-Range starting at the requested byte, or
 *   200 when the whole object was asked for.  A 200 to a range request (the
 *   server ignored Range, or If-Range said the object changed) or a
 *   Content-Range elsewhere is refused before a byte is written;
 * - when the caller knows what the object was (its ETag, its size), an
 *   answer about another object is refused the same way: the caller
 *   restarts from zero instead of splicing two objects;
 * - never more than the requested range is written;
 * - error answers (403 expired, 5xx) go to a small memory buffer;
 * - the checks (MD5, multipart ETag, CRC-64, the file's format) cover
 *   exactly the bytes on disk from offset 0: the prefix is read back from
 *   the file itself, then every byte written after it.  A range transfer
 *   checks only the CRC-64 of its own bytes (the caller combines them).
 */
/* _GNU_SOURCE for sync_file_range (Linux): start write-back while receiving. */
#define _GNU_SOURCE

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <lauxlib.h>

#include "compat.h"
#include "error.h"
#include "fileio.h"
#include "hasher.h"
#include "method.h"
#include "thread.h"
#include "transfer.h"

#define MAX_ERROR_BODY (64 * 1024)
#define MEMORY_BUFFER_SIZE 16384 /* bytes: libcurl's default receive buffer */
#define MAX_HEADERS (256 * 1024)
#define DEFAULT_MAX_BODY (16u * 1024u * 1024u)
#define DEFAULT_STREAM_LIMIT (4u * 1024u * 1024u)
/* below this, digesting on the receiving thread costs less than a thread */
#define PIPELINE_FROM (1024LL * 1024)
#define WRITEBACK_CHUNK (8LL * 1024 * 1024)

/* ---- reading the spec (host thread) --------------------------------------- */

static char *copy_string(const char *s, size_t n)
{
    char *c = malloc(n + 1);
    if (c != NULL) {
        memcpy(c, s, n);
        c[n] = '\0';
    }
    return c;
}

/* A link is sent byte for byte: refuse what no server would take as
 * given, rather than letting libcurl encode or truncate it. */
static int url_is_sendable(const char *u, size_t n)
{
    size_t i;
    if (!((n > 7 && strncasecmp(u, "http://", 7) == 0) || (n > 8 && strncasecmp(u, "https://", 8) == 0)))
        return 0;
    for (i = 0; i < n; i++) {
        unsigned char c = (unsigned char)u[i];
        if (c <= 0x20 || c == 0x7f)
            return 0;
    }
    return 1;
}

static int header_text_ok(const char *p, size_t n)
{
    size_t i;
    for (i = 0; i < n; i++)
        if (p[i] == '\r' || p[i] == '\n' || p[i] == '\0')
            return 0;
    return 1;
}

static int add_header(hcdl_transfer *t, const char *name, size_t nl, const char *value, size_t vl)
{
    struct curl_slist *tmp;
    char small[512]; /* an API request's headers fit: no allocation of its own */
    char *line = nl + vl + 3 <= sizeof small ? small : malloc(nl + vl + 3);
    if (line == NULL)
        return -1;
    memcpy(line, name, nl);
    if (vl == 0) {
        line[nl] = ';'; /* curl's way to send a header with an empty value */
        line[nl + 1] = '\0';
    } else {
        line[nl] = ':';
        line[nl + 1] = ' ';
        memcpy(line + nl + 2, value, vl);
        line[nl + 2 + vl] = '\0';
    }
    tmp = curl_slist_append(t->headers, line); /* copies it */
    if (line != small)
        free(line);
    if (tmp == NULL)
        return -1;
    t->headers = tmp;
    return 0;
}

/* The defaults of a transfer read from a spec (no file, no range). */
static void set_defaults(hcdl_transfer *t)
{
    t->fd = -1;
    t->range_start = t->range_end = t->expect_total = -1;
    t->cr_start = t->cr_end = t->cr_total = t->content_length = -1;
}

static long timeout_ms(double timeout)
{
    long ms = timeout > 0 ? (long)(timeout * 1000.0 + 0.5) : 0;
    return timeout > 0 && ms == 0 ? 1 : ms;
}

/* Bytes of the request block: the node array, then url, method, body and
 * the header lines ("Name: value" or "Name;"), each NUL-terminated. */
static size_t block_size(size_t nodes, const hcdl_transfer_call *c)
{
    size_t i, n = nodes * sizeof(struct curl_slist) + c->url_len + strlen(c->method) + c->body_len + 3;
    for (i = 0; i < c->nheaders; i++)
        n += c->headers[i].name_len + c->headers[i].value_len + 3;
    return n + sizeof "Expect;";
}

static char *put(char **p, const char *s, size_t n)
{
    char *at = *p;
    memcpy(at, s, n);
    at[n] = '\0';
    *p += n + 1;
    return at;
}

/* The header line of h at *p, as add_header writes it. */
static char *put_header(char **p, const hcdl_header *h)
{
    char *at = *p;
    memcpy(at, h->name, h->name_len);
    if (h->value_len == 0) {
        memcpy(at + h->name_len, ";", 2); /* curl's way to send it empty */
        *p += h->name_len + 2;
        return at;
    }
    memcpy(at + h->name_len, ": ", 2);
    memcpy(at + h->name_len + 2, h->value, h->value_len);
    at[h->name_len + 2 + h->value_len] = '\0';
    *p += h->name_len + h->value_len + 3;
    return at;
}

int hcdl_transfer_request(hcdl_transfer *t, const hcdl_transfer_call *c)
{
    /* Never let curl add "Expect: 100-continue" (an extra round trip) to a
     * request with a body; one without a body gets no Expect at all. */
    int expect = hcdl_method_send(c->method, c->body_len) == HCDL_SEND_BODY;
    size_t nodes = c->nheaders + (size_t)expect, i;
    struct curl_slist *node;
    char *p;
    set_defaults(t);
    t->sink = SINK_MEMORY;
    t->max_body = c->max_body > 0 ? (size_t)c->max_body : DEFAULT_MAX_BODY;
    t->stream_limit = DEFAULT_STREAM_LIMIT;
    t->timeout_ms = timeout_ms(c->timeout);
    /* one allocation holds the whole request (libcurl reads the header
     * list as it is given), freed at once by hcdl_transfer_free */
    t->block = malloc(block_size(nodes, c));
    if (t->block == NULL)
        return -1;
    node = (struct curl_slist *)(void *)t->block;
    p = t->block + nodes * sizeof *node;
    t->url = put(&p, c->url, c->url_len);
    t->method = put(&p, c->method, strlen(c->method));
    t->body = put(&p, c->body, c->body_len);
    t->body_len = c->body_len;
    for (i = 0; i < c->nheaders; i++)
        node[i].data = put_header(&p, &c->headers[i]);
    if (expect)
        node[i].data = put(&p, "Expect;", 7);
    for (i = 0; i < nodes; i++)
        node[i].next = i + 1 < nodes ? &node[i + 1] : NULL;
    t->headers = nodes > 0 ? node : NULL;
    return 0;
}

static int read_headers(lua_State *L, int spec, hcdl_transfer *t)
{
    lua_getfield(L, spec, "headers");
    if (!lua_isnil(L, -1)) {
        if (!lua_istable(L, -1)) {
            lua_pop(L, 1);
            return hcdl_error_input(L, "headers", "must be a table of name = value");
        }
        lua_pushnil(L);
        while (lua_next(L, -2) != 0) {
            const char *k, *v;
            size_t kl, vl;
            if (lua_type(L, -2) != LUA_TSTRING || lua_type(L, -1) != LUA_TSTRING) {
                lua_pop(L, 3);
                return hcdl_error_input(L, "headers", "names and values must be strings");
            }
            k = lua_tolstring(L, -2, &kl);
            v = lua_tolstring(L, -1, &vl);
            if (kl == 0 || kl > 256 || vl > 256 * 1024 || !header_text_ok(k, kl) ||
                !header_text_ok(v, vl) || memchr(k, ':', kl) != NULL || memchr(k, ' ', kl) != NULL) {
                lua_pop(L, 3);
                return hcdl_error_input(L, "headers", "a header name or value is malformed or too long");
            }
            if (add_header(t, k, kl, v, vl) != 0)
                return luaL_error(L, "hcdl: out of memory");
            lua_pop(L, 1);
        }
    }
    lua_pop(L, 1);
    /* Never let curl add "Expect: 100-continue" (an extra round trip). */
    if (add_header(t, "Expect", 6, "", 0) != 0)
        return luaL_error(L, "hcdl: out of memory");
    return 0;
}

static int read_int(lua_State *L, int spec, const char *field, long long dflt, long long *out)
{
    lua_Number v;
    lua_getfield(L, spec, field);
    if (lua_isnil(L, -1)) {
        lua_pop(L, 1);
        *out = dflt;
        return 0;
    }
    if (lua_type(L, -1) != LUA_TNUMBER)
        return luaL_error(L, "hcdl transfer: %s must be a number", field);
    v = lua_tonumber(L, -1);
    lua_pop(L, 1);
    if (!(v >= -1 && v <= 9007199254740992.0) || v != (lua_Number)(long long)v)
        return luaL_error(L, "hcdl transfer: %s must be a whole number", field);
    *out = (long long)v;
    return 0;
}

static int read_opt_string(lua_State *L, int spec, const char *field, char **out)
{
    const char *s;
    size_t n;
    lua_getfield(L, spec, field);
    if (lua_isnil(L, -1)) {
        lua_pop(L, 1);
        return 0;
    }
    if (lua_type(L, -1) != LUA_TSTRING)
        return luaL_error(L, "hcdl transfer: %s must be a string", field);
    s = lua_tolstring(L, -1, &n);
    *out = copy_string(s, n);
    lua_pop(L, 1);
    if (*out == NULL)
        return luaL_error(L, "hcdl: out of memory");
    return 0;
}

/* expect_headers = { [name] = value }: names of header characters, values
 * without NUL; packed as "name\0value\0" pairs and a final "\0". */
static int read_expect_headers(lua_State *L, int spec, hcdl_transfer *t)
{
    hcdl_buf b;
    int bad = 0;
    memset(&b, 0, sizeof b);
    lua_getfield(L, spec, "expect_headers");
    if (lua_isnil(L, -1)) {
        lua_pop(L, 1);
        return 0;
    }
    luaL_checktype(L, -1, LUA_TTABLE);
    lua_pushnil(L);
    while (!bad && lua_next(L, -2) != 0) {
        size_t kn, vn;
        const char *k, *v;
        if (lua_type(L, -2) != LUA_TSTRING || lua_type(L, -1) != LUA_TSTRING) {
            bad = 1;
            lua_pop(L, 2);
            break;
        }
        k = lua_tolstring(L, -2, &kn);
        v = lua_tolstring(L, -1, &vn);
        if (kn == 0 || kn > 100 || strlen(k) != kn || strlen(v) != vn || strchr(k, ':') != NULL)
            bad = 1;
        else if (hcdl_buf_append(&b, k, kn + 1) != 0 || hcdl_buf_append(&b, v, vn + 1) != 0)
            bad = 2;
        lua_pop(L, 1);
    }
    lua_pop(L, 1);
    if (!bad && hcdl_buf_append(&b, "", 1) != 0)
        bad = 2;
    if (bad) {
        hcdl_buf_free(&b);
        return luaL_error(L, bad == 2 ? "hcdl: out of memory"
                                      : "hcdl transfer: expect_headers must map header names to values");
    }
    t->expect_headers = b.data; /* the buffer's memory is now the transfer's */
    return 0;
}

static int read_seconds(lua_State *L, int spec, const char *field, double *out)
{
    lua_getfield(L, spec, field);
    *out = 0;
    if (!lua_isnil(L, -1)) {
        lua_Number v = lua_tonumber(L, -1);
        if (lua_type(L, -1) != LUA_TNUMBER || !(v >= 0))
            return luaL_error(L, "hcdl transfer: %s must be a number of seconds >= 0", field);
        *out = v;
    }
    lua_pop(L, 1);
    return 0;
}

static int read_request(lua_State *L, int spec, hcdl_transfer *t)
{
    const char *s;
    size_t n;
    double timeout;
    int rc;

    lua_getfield(L, spec, "url");
    if (lua_type(L, -1) != LUA_TSTRING) {
        lua_pop(L, 1);
        return hcdl_error_input(L, "url", "required, a string");
    }
    s = lua_tolstring(L, -1, &n);
    if (!url_is_sendable(s, n)) {
        lua_pop(L, 1);
        return hcdl_error_input(L, "url", "must be an http:// or https:// link without spaces, "
                                "control characters or NUL bytes (links are sent byte for byte)");
    }
    t->url = copy_string(s, n);
    lua_pop(L, 1);
    if (t->url == NULL)
        return luaL_error(L, "hcdl: out of memory");

    lua_getfield(L, spec, "method");
    s = lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : NULL;
    if (lua_isnil(L, -1))
        s = "GET";
    if (s == NULL || strlen(s) == 0 || strlen(s) > 16 || strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZ") != strlen(s)) {
        lua_pop(L, 1);
        return hcdl_error_input(L, "method", "must be an HTTP method name in capitals");
    }
    t->method = copy_string(s, strlen(s));
    lua_pop(L, 1);
    if (t->method == NULL)
        return luaL_error(L, "hcdl: out of memory");

    lua_getfield(L, spec, "body");
    if (!lua_isnil(L, -1)) {
        if (lua_type(L, -1) != LUA_TSTRING) {
            lua_pop(L, 1);
            return hcdl_error_input(L, "body", "must be a string");
        }
        s = lua_tolstring(L, -1, &n);
        t->body = copy_string(s, n);
        t->body_len = n;
        if (t->body == NULL)
            return luaL_error(L, "hcdl: out of memory");
    }
    lua_pop(L, 1);
    if ((rc = read_headers(L, spec, t)) != 0)
        return rc;
    if ((rc = read_seconds(L, spec, "timeout", &timeout)) != 0 ||
        (rc = read_seconds(L, spec, "deadline", &t->deadline)) != 0 ||
        (rc = hcdl_options_read(L, spec, HCDL_PER_TRANSFER, 0, t->opt)) != 0)
        return rc;
    t->timeout_ms = timeout_ms(timeout);
    return 0;
}

static int read_sink(lua_State *L, int spec, hcdl_transfer *t)
{
    long long v;
    int rc;
    lua_getfield(L, spec, "file");
    if (!lua_isnil(L, -1)) {
        int fd = hcdl_file_fd(L, lua_gettop(L));
        t->sink = SINK_FILE;
        t->fd = fcntl(fd, F_DUPFD_CLOEXEC, 0);
        if (t->fd < 0)
            return luaL_error(L, "hcdl: cannot duplicate a file descriptor: %s", strerror(errno));
    }
    lua_pop(L, 1);
    lua_getfield(L, spec, "stream");
    if (lua_toboolean(L, -1)) {
        if (t->sink == SINK_FILE)
            return luaL_error(L, "hcdl transfer: file and stream are exclusive");
        t->sink = SINK_STREAM;
    }
    lua_pop(L, 1);
    if ((rc = read_int(L, spec, "offset", 0, &t->file_offset)) != 0 ||
        (rc = read_int(L, spec, "range_start", -1, &t->range_start)) != 0 ||
        (rc = read_int(L, spec, "range_end", -1, &t->range_end)) != 0 ||
        (rc = read_int(L, spec, "md5_prefix", 0, &t->md5_prefix)) != 0 ||
        (rc = read_int(L, spec, "sync_every", 0, &t->sync_every)) != 0 ||
        (rc = read_int(L, spec, "expect_total", -1, &t->expect_total)) != 0)
        return rc;
    if ((rc = read_int(L, spec, "max_body", DEFAULT_MAX_BODY, &v)) != 0)
        return rc;
    t->max_body = v > 0 ? (size_t)v : DEFAULT_MAX_BODY;
    if ((rc = read_int(L, spec, "stream_limit", DEFAULT_STREAM_LIMIT, &v)) != 0)
        return rc;
    t->stream_limit = v > 0 ? (size_t)v : DEFAULT_STREAM_LIMIT;
    if ((rc = read_expect_headers(L, spec, t)) != 0)
        return rc;
    if ((rc = read_opt_string(L, spec, "expect_etag", &t->expect_etag)) != 0 ||
        (rc = read_seconds(L, spec, "sync_interval", &t->sync_interval)) != 0)
        return rc;
    if (t->sync_every > 0 && t->sync_interval <= 0)
        t->sync_interval = 1.0;
    lua_getfield(L, spec, "md5");
    t->want_md5 = lua_toboolean(L, -1);
    lua_getfield(L, spec, "verify");
    t->want_verify = lua_toboolean(L, -1);
    lua_getfield(L, spec, "crc64");
    t->want_crc64 = lua_toboolean(L, -1);
    lua_pop(L, 2);
    lua_getfield(L, spec, "writeback");
    t->writeback = lua_toboolean(L, -1);
    lua_pop(L, 2);
    if (t->file_offset < 0 || t->md5_prefix < 0 || t->sync_every < 0 ||
        (t->range_end >= 0 && t->range_end < t->range_start) ||
        (t->md5_prefix > 0 && t->sink != SINK_FILE))
        return luaL_error(L, "hcdl transfer: bad offset, range or md5_prefix");
    return 0;
}

int hcdl_transfer_read(lua_State *L, int idx, hcdl_transfer *t)
{
    int rc;
    luaL_checktype(L, idx, LUA_TTABLE);
    idx = hcdl_absindex(L, idx);
    set_defaults(t);
    if ((rc = read_request(L, idx, t)) != 0 || (rc = read_sink(L, idx, t)) != 0)
        return rc;
    /* If-Range: the server sends the rest only if the object is the one
     * the caller started with, else the whole new object (which the range
     * check then refuses, so the caller restarts cleanly). */
    lua_getfield(L, idx, "if_range");
    if (!lua_isnil(L, -1)) {
        size_t n;
        const char *v = lua_tolstring(L, -1, &n);
        if (lua_type(L, -1) != LUA_TSTRING || !header_text_ok(v, n) || n == 0 || n > 200)
            return luaL_error(L, "hcdl transfer: if_range must be an ETag or an HTTP date");
        if (t->range_start >= 0 && add_header(t, "If-Range", 8, v, n) != 0)
            return luaL_error(L, "hcdl: out of memory");
    }
    lua_pop(L, 1);
    return 0;
}

/* ---- libcurl callbacks (worker thread, plain C) --------------------------- */

static long long parse_ll(const char *p, const char *end, const char **next)
{
    long long v = 0;
    int any = 0;
    while (p < end && *p >= '0' && *p <= '9') {
        if (v > (LLONG_MAX - 9) / 10) {
            *next = p;
            return -1;
        }
        v = v * 10 + (*p - '0');
        p++;
        any = 1;
    }
    *next = p;
    return any ? v : -1;
}

static const char *skip_space(const char *p, const char *end)
{
    while (p < end && (*p == ' ' || *p == '\t'))
        p++;
    return p;
}

/* Content-Range: bytes a-b/total  (or bytes * /total on 416) */
static void parse_content_range(hcdl_transfer *t, const char *p, const char *end)
{
    const char *q = end;
    p = skip_space(p, end);
    if (end - p <= 6 || strncasecmp(p, "bytes ", 6) != 0)
        return;
    p = skip_space(p + 6, end);
    if (p < end && *p == '*') {
        p++;
    } else {
        t->cr_start = parse_ll(p, end, &q);
        p = q;
        if (p < end && *p == '-') {
            t->cr_end = parse_ll(p + 1, end, &q);
            p = q;
        }
    }
    if (p < end && *p == '/')
        t->cr_total = parse_ll(p + 1, end, &q);
}

static size_t on_header(char *ptr, size_t size, size_t nmemb, void *ud)
{
    hcdl_transfer *t = ud;
    size_t n = size * nmemb;
    /* A new status line starts a new answer (1xx, a proxy's CONNECT). */
    if (n >= 5 && memcmp(ptr, "HTTP/", 5) == 0) {
        t->head.len = 0;
        t->cr_start = t->cr_end = t->cr_total = t->content_length = -1;
    }
    if (t->head.len + n > MAX_HEADERS || hcdl_buf_append(&t->head, ptr, n) != 0) {
        t->alloc_failed = 1;
        return 0;
    }
    if (n > 14 && strncasecmp(ptr, "content-range:", 14) == 0) {
        parse_content_range(t, ptr + 14, ptr + n);
    } else if (n > 15 && strncasecmp(ptr, "content-length:", 15) == 0) {
        const char *q;
        t->content_length = parse_ll(skip_space(ptr + 15, ptr + n), ptr + n, &q);
    }
    return n;
}

/* The value of header `name` (lower-case, with the colon) in the raw block,
 * or NULL; *len gets its length without surrounding blanks. */
static const char *find_header(const hcdl_buf *h, const char *name, size_t *len)
{
    const char *p = h->data, *end = h->data + h->len;
    size_t nl = strlen(name);
    while (p != NULL && p < end) {
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        if (eol == NULL)
            eol = end;
        if ((size_t)(eol - p) > nl && strncasecmp(p, name, nl) == 0) {
            const char *v = skip_space(p + nl, eol), *ve = eol;
            while (ve > v && (ve[-1] == '\r' || ve[-1] == ' ' || ve[-1] == '\t'))
                ve--;
            *len = (size_t)(ve - v);
            return v;
        }
        p = eol < end ? eol + 1 : NULL;
    }
    return NULL;
}

const char *hcdl_transfer_header(const hcdl_transfer *t, const char *name, size_t *len)
{
    const char *p = t->head.data, *end = t->head.data + t->head.len, *found = NULL;
    size_t nl = strlen(name);
    if (p == NULL)
        return NULL;
    p = memchr(p, '\n', (size_t)(end - p)); /* past the status line */
    while (p != NULL && ++p < end) {
        const char *eol = memchr(p, '\n', (size_t)(end - p)), *v, *ve;
        if (eol == NULL)
            eol = end;
        if ((size_t)(eol - p) > nl && strncasecmp(p, name, nl) == 0 && p[nl] == ':') {
            v = skip_space(p + nl + 1, eol);
            for (ve = eol; ve > v && (ve[-1] == '\r' || ve[-1] == ' ' || ve[-1] == '\t');)
                ve--;
            found = v;
            *len = (size_t)(ve - v);
        }
        p = eol < end ? eol : NULL;
    }
    return found;
}

/* 1 if the answer's ETag is a quoted MD5 (32 hex digits): then, and only
 * then, hashing the bytes verifies them (multipart ETags are not MD5s). */
static int etag_is_md5(const hcdl_buf *h)
{
    size_t n, i;
    const char *v = find_header(h, "etag:", &n);
    if (v == NULL)
        return 0;
    if (n >= 2 && v[0] == '"' && v[n - 1] == '"') {
        v++;
        n -= 2;
    }
    if (n != 32)
        return 0;
    for (i = 0; i < n; i++) {
        char c = v[i];
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')))
            return 0;
    }
    return 1;
}

/* Feeds the first md5_prefix bytes of the file to the checks. */
static int hash_prefix(hcdl_transfer *t)
{
    unsigned char buf[1 << 16];
    long long left = t->md5_prefix, pos = 0;
    while (left > 0) {
        size_t want = (size_t)(left < (long long)sizeof buf ? left : (long long)sizeof buf);
        ssize_t r = pread(t->fd, buf, want, (off_t)pos);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            t->io_errno = r < 0 ? errno : EIO; /* a file shorter than it was */
            return -1;
        }
        if (hcdl_verifier_update(&t->check, buf, (size_t)r) != 0) {
            t->io_errno = EIO;
            return -1;
        }
        left -= r;
        pos += r;
    }
    return 0;
}

/* 1 if the answer carries a CRC-64 of the object, in any spelling
 * (x-obs-hash-crc64ecma, x-obs-checksum-crc64ecma, x-amz-checksum-...,
 * metadata): the caller picks the value, this only decides to compute. */
static int has_crc64(const hcdl_buf *h)
{
    const char *p = h->data, *end = h->data + h->len;
    while (p != NULL && p < end) {
        const char *eol = memchr(p, '\n', (size_t)(end - p)), *colon;
        if (eol == NULL)
            eol = end;
        colon = memchr(p, ':', (size_t)(eol - p));
        if (colon != NULL && colon - p >= 9 && strncasecmp(colon - 9, "crc64ecma", 9) == 0)
            return 1;
        p = eol < end ? eol + 1 : NULL;
    }
    return 0;
}

static int start_checks(hcdl_transfer *t)
{
    hcdl_vconf c;
    size_t n = 0;
    memset(&c, 0, sizeof c);
    c.total = t->status == 206 ? t->cr_total : t->content_length;
    /* the checks see the file from its first byte on: parts can be read
     * back from it (etag_mp.h) */
    c.fd = t->sink == SINK_FILE && t->file_offset == t->md5_prefix ? t->fd : -1;
    c.md5 = t->want_md5 && etag_is_md5(&t->head);
    c.crc64 = t->want_crc64 || (t->want_verify && has_crc64(&t->head));
    if (t->want_verify) {
        c.etag = find_header(&t->head, "etag:", &n);
        c.etag_len = n;
        c.formats = 1;
    }
    if (!c.md5 && !c.crc64 && c.etag == NULL && !c.formats)
        return 0;
    if (hcdl_verifier_start(&t->check, &c, t->md5_alg) != 0) {
        t->io_errno = ENOMEM;
        return -1;
    }
    t->checking = 1;
    if (hash_prefix(t) != 0)
        return -1;
    /* MD5 work on a large file goes to a thread of its own (hasher.h);
     * without one (no memory, no thread) it stays here */
    if (t->sink == SINK_FILE && (c.md5 || t->check.mp_on) && c.total >= PIPELINE_FROM)
        t->hasher = hcdl_hasher_start(&t->check);
    return 0;
}

/* Refuses the answer: not a byte of its body goes anywhere. */
static void refuse(hcdl_transfer *t, const char *code, const char *message)
{
    t->mode = MODE_REFUSED;
    t->refused_code = code;
    snprintf(t->refused, sizeof t->refused, "%s", message);
}

/* The CRC-64 and version id of the first answer, when it had them. */
static int same_headers(hcdl_transfer *t)
{
    const char *p = t->expect_headers;
    char name[160], msg[160];
    while (p != NULL && *p != '\0') {
        const char *value = p + strlen(p) + 1, *v;
        size_t n;
        snprintf(name, sizeof name, "%s:", p);
        v = find_header(&t->head, name, &n);
        if (v == NULL || n != strlen(value) || memcmp(v, value, n) != 0) {
            snprintf(msg, sizeof msg, "the object's %s is not the one of the first answer: it changed", p);
            refuse(t, "changed", msg);
            return 0;
        }
        p = value + strlen(value) + 1;
    }
    return 1;
}

/* Is this answer about the object the caller started with? */
static int same_object(hcdl_transfer *t)
{
    long long total = t->status == 206 ? t->cr_total : t->content_length;
    char msg[160];
    if (t->expect_total >= 0 && total >= 0 && total != t->expect_total) {
        snprintf(msg, sizeof msg, "the object is now %lld bytes, it was %lld: it changed", total,
                 t->expect_total);
        refuse(t, "changed", msg);
        return 0;
    }
    if (t->expect_etag != NULL) {
        size_t n;
        const char *v = find_header(&t->head, "etag:", &n);
        if (v == NULL || n != strlen(t->expect_etag) || memcmp(v, t->expect_etag, n) != 0) {
            refuse(t, "changed", "the object's ETag is not the one of the first answer: it changed");
            return 0;
        }
    }
    return same_headers(t);
}

/* Decides, before the first body byte lands, where the body may go. */
static void decide(hcdl_transfer *t)
{
    char msg[160];
    curl_easy_getinfo(t->easy, CURLINFO_RESPONSE_CODE, &t->status);
    if (t->sink == SINK_MEMORY) {
        t->mode = MODE_BODY;
        return;
    }
    if (t->status < 200 || t->status >= 300) {
        t->mode = MODE_ERROR_BODY;
        return;
    }
    if (t->range_start >= 0) {
        if (t->status != 206) {
            snprintf(msg, sizeof msg, "HTTP %ld to a range request (the server ignored Range, "
                     "or the object changed)", t->status);
            refuse(t, "range", msg);
            return;
        }
        if (t->cr_start != t->range_start) {
            snprintf(msg, sizeof msg, "Content-Range starts at %lld, not at the requested %lld",
                     t->cr_start, t->range_start);
            refuse(t, "range", msg);
            return;
        }
    } else if (t->status != 200) {
        snprintf(msg, sizeof msg, "HTTP %ld to a request for the whole object", t->status);
        refuse(t, "range", msg);
        return;
    }
    if (!same_object(t))
        return;
    t->mode = MODE_BODY;
    /* MD5 costs about as much CPU as receiving: only what can verify */
    if (start_checks(t) != 0)
        t->mode = MODE_REFUSED;
    /* The caller records validators before the body ends (a killed run
     * must resume with them): the headers are shared now. */
    if (t->mode == MODE_BODY && pthread_mutex_lock(t->lock) == 0) {
        if (hcdl_buf_append(&t->shared_head, t->head.data != NULL ? t->head.data : "", t->head.len) != 0)
            t->alloc_failed = 1;
        pthread_mutex_unlock(t->lock);
    }
}

static size_t keep_error_body(hcdl_transfer *t, const char *ptr, size_t n)
{
    size_t room = MAX_ERROR_BODY > t->body_in.len ? MAX_ERROR_BODY - t->body_in.len : 0;
    if (room > 0 && hcdl_buf_append(&t->body_in, ptr, n < room ? n : room) != 0) {
        t->alloc_failed = 1;
        return 0;
    }
    return n;
}

static size_t to_memory(hcdl_transfer *t, const char *ptr, size_t n)
{
    if (t->body_in.len + n > t->max_body) {
        t->body_overflow = 1;
        return 0; /* aborts with CURLE_WRITE_ERROR */
    }
    if (hcdl_buf_append(&t->body_in, ptr, n) != 0) {
        t->alloc_failed = 1;
        return 0;
    }
    return n;
}

static void after_file_write(hcdl_transfer *t)
{
#ifdef SYNC_FILE_RANGE_WRITE
    /* Start write-back of every 8 MiB now: it overlaps the disk with the
     * network, so the final fsync has little left to wait for. */
    if (t->writeback && t->written - t->flushed >= WRITEBACK_CHUNK) {
        sync_file_range(t->fd, (off_t)(t->file_offset + t->flushed),
                        (off_t)(t->written - t->flushed), SYNC_FILE_RANGE_WRITE);
        t->flushed = t->written;
    }
#endif
    /* Progress the caller records as durable must be on disk first: a
     * durability point every sync_every bytes, or every sync_interval
     * seconds, whichever comes first. */
    if (t->sync_every > 0 && t->written > t->synced) {
        double now = hcdl_monotonic();
        if (t->last_sync == 0)
            t->last_sync = now;
        if (t->written - t->synced >= t->sync_every || now - t->last_sync >= t->sync_interval) {
            if (fdatasync(t->fd) != 0 && errno != EINVAL)
                t->io_errno = errno;
            else
                t->synced = t->written;
            t->last_sync = now;
        }
    }
}

static int check_bytes(hcdl_transfer *t, const unsigned char *p, size_t n)
{
    return t->hasher != NULL ? hcdl_hasher_feed(t->hasher, p, n) : hcdl_verifier_update(&t->check, p, n);
}

/* Ends the hasher thread, its bytes all digested (EIO when a digest failed). */
static void stop_hasher(hcdl_transfer *t)
{
    if (t->hasher == NULL)
        return;
    if (hcdl_hasher_stop(t->hasher) != 0 && t->io_errno == 0)
        t->io_errno = EIO;
    t->hasher = NULL;
}

static size_t to_file(hcdl_transfer *t, const char *ptr, size_t n)
{
    size_t done = 0;
    while (done < n) {
        ssize_t w = pwrite(t->fd, ptr + done, n - done, (off_t)(t->file_offset + t->written));
        if (w < 0) {
            if (errno == EINTR)
                continue;
            t->io_errno = errno;
            return 0;
        }
        if (t->checking && check_bytes(t, (const unsigned char *)ptr + done, (size_t)w) != 0) {
            t->io_errno = EIO;
            return 0;
        }
        done += (size_t)w;
        t->written += w;
    }
    after_file_write(t);
    return t->io_errno != 0 ? 0 : n;
}

static size_t to_stream(hcdl_transfer *t, const char *ptr, size_t n)
{
    size_t r = n;
    if (pthread_mutex_lock(t->lock) != 0)
        return 0;
    if (t->stream.len >= t->stream_limit) {
        /* Lua has not read what came before: hold the connection until it
         * does (curl delivers this same chunk again after unpausing). */
        t->paused = 1;
        r = CURL_WRITEFUNC_PAUSE;
    } else if (hcdl_buf_append(&t->stream, ptr, n) != 0) {
        t->alloc_failed = 1;
        r = 0;
    }
    pthread_mutex_unlock(t->lock);
    if (r == n) {
        if (t->checking && hcdl_verifier_update(&t->check, (const unsigned char *)ptr, n) != 0) {
            t->io_errno = EIO;
            return 0;
        }
        t->written += (long long)n;
    }
    return r;
}

static size_t on_body(char *ptr, size_t size, size_t nmemb, void *ud)
{
    hcdl_transfer *t = ud;
    size_t n = size * nmemb;
    if (t->mode == MODE_UNDECIDED)
        decide(t);
    if (t->mode == MODE_REFUSED || t->io_errno != 0)
        return 0; /* aborts the transfer: nothing written */
    if (t->mode == MODE_ERROR_BODY)
        return keep_error_body(t, ptr, n);
    if (t->sink == SINK_MEMORY)
        return to_memory(t, ptr, n);
    if (t->range_end >= 0 && t->range_start + t->written + (long long)n > t->range_end + 1) {
        refuse(t, "overflow", "the server sent more than the requested range");
        return 0;
    }
    return t->sink == SINK_FILE ? to_file(t, ptr, n) : to_stream(t, ptr, n);
}

/* ---- setup and finish ------------------------------------------------------- */

/* Whether a body goes out is src/method.c's rule; this only tells libcurl. */
static CURLcode set_method(hcdl_transfer *t)
{
    CURLcode rc;
    switch (hcdl_method_send(t->method, t->body_len)) {
    case HCDL_SEND_NONE: /* a GET */
        return curl_easy_setopt(t->easy, CURLOPT_HTTPGET, 1L);
    case HCDL_SEND_HEAD:
        return curl_easy_setopt(t->easy, CURLOPT_NOBODY, 1L);
    case HCDL_SEND_BODY:
        break;
    }
    rc = curl_easy_setopt(t->easy, CURLOPT_POST, 1L);
    if (rc == CURLE_OK)
        rc = curl_easy_setopt(t->easy, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)t->body_len);
    if (rc == CURLE_OK)
        rc = curl_easy_setopt(t->easy, CURLOPT_POSTFIELDS, t->body != NULL ? t->body : "");
    if (rc == CURLE_OK && strcmp(t->method, "POST") != 0)
        rc = curl_easy_setopt(t->easy, CURLOPT_CUSTOMREQUEST, t->method);
    return rc;
}

/* An option of this transfer: its own value, else the client's. */
long long hcdl_transfer_num(const hcdl_transfer *t, const hcdl_net *net, hcdl_opt_id id)
{
    return t->opt[id].set ? t->opt[id].num : hcdl_net_num(net, id);
}

/* Takes this transfer's pointers off a handle that keeps its settings, so
 * that nothing on it points into a freed transfer. */
static CURLcode forget_transfer(CURL *easy)
{
    CURLcode rc = curl_easy_setopt(easy, CURLOPT_HTTPHEADER, (struct curl_slist *)NULL);
    if (rc == CURLE_OK)
        rc = curl_easy_setopt(easy, CURLOPT_ERRORBUFFER, (char *)NULL);
    if (rc == CURLE_OK)
        rc = curl_easy_setopt(easy, CURLOPT_PRIVATE, (void *)NULL);
    if (rc == CURLE_OK)
        rc = curl_easy_setopt(easy, CURLOPT_WRITEDATA, (void *)NULL);
    if (rc == CURLE_OK)
        rc = curl_easy_setopt(easy, CURLOPT_HEADERDATA, (void *)NULL);
    return rc;
}

CURL *hcdl_transfer_give_back(hcdl_transfer *t, int *plain)
{
    CURL *easy = t->easy;
    t->easy = NULL;
    *plain = 0;
    if (easy == NULL)
        return NULL;
    if (t->plain && forget_transfer(easy) == CURLE_OK)
        *plain = 1;
    else
        curl_easy_reset(easy);
    return easy;
}

/* A transfer that needs only the baseline settings: an answer read into
 * memory by a bare GET (src/method.c), with no option, range or rate of
 * its own.  A handle that served one serves the next without a reset. */
static int is_plain(const hcdl_transfer *t, long long rate)
{
    int i;
    if (t->sink != SINK_MEMORY || t->range_start >= 0 || rate > 0 ||
        hcdl_method_send(t->method, t->body_len) != HCDL_SEND_NONE)
        return 0;
    for (i = 0; i < HCDL_OPT_COUNT; i++)
        if (t->opt[i].set)
            return 0;
    return 1;
}

/* What is this transfer's own on a handle: its URL, headers, pointers and
 * time limit (0: none). */
static CURLcode set_own(hcdl_transfer *t)
{
    CURLcode rc = curl_easy_setopt(t->easy, CURLOPT_URL, t->url);
    if (rc == CURLE_OK)
        rc = curl_easy_setopt(t->easy, CURLOPT_PRIVATE, (void *)t);
    if (rc == CURLE_OK)
        rc = curl_easy_setopt(t->easy, CURLOPT_ERRORBUFFER, t->errbuf);
    if (rc == CURLE_OK)
        rc = curl_easy_setopt(t->easy, CURLOPT_WRITEDATA, (void *)t);
    if (rc == CURLE_OK)
        rc = curl_easy_setopt(t->easy, CURLOPT_HEADERDATA, (void *)t);
    if (rc == CURLE_OK)
        rc = curl_easy_setopt(t->easy, CURLOPT_HTTPHEADER, t->headers);
    if (rc == CURLE_OK)
        rc = curl_easy_setopt(t->easy, CURLOPT_TIMEOUT_MS, t->timeout_ms);
    return rc;
}

CURLcode hcdl_transfer_setup(hcdl_transfer *t, CURL *spare, int spare_plain, const hcdl_net *net,
                             const EVP_MD *md5_alg)
{
    CURLcode rc;
    char range[64];
    long long rate = t->opt[HCDL_OPT_MAX_RATE].num, budget = hcdl_net_num(net, HCDL_OPT_MAX_RATE);
    long long buffer_size = hcdl_transfer_num(t, net, HCDL_OPT_BUFFER_SIZE);
    t->md5_alg = md5_alg;
    if (budget > 0 && (rate == 0 || budget < rate))
        rate = budget; /* the engine gives it a share of this at most (engine.c) */
    t->plain = is_plain(t, rate);
    t->easy = spare != NULL ? spare : curl_easy_init();
    if (t->easy == NULL)
        return CURLE_OUT_OF_MEMORY;
    if (spare_plain && t->plain)
        return set_own(t); /* the rest is on it already, as this one needs */
    if (spare_plain)
        curl_easy_reset(t->easy);
    rc = hcdl_net_apply(t->easy, net);
    if (rc == CURLE_OK)
        rc = set_own(t);
#define SET(opt, val)                                                          \
    do {                                                                       \
        if (rc == CURLE_OK)                                                    \
            rc = curl_easy_setopt(t->easy, opt, val);                          \
    } while (0)
    SET(CURLOPT_WRITEFUNCTION, on_body);
    SET(CURLOPT_HEADERFUNCTION, on_header);
    if (rc == CURLE_OK)
        rc = hcdl_options_apply(t->easy, t->opt, HCDL_PER_TRANSFER);
    /* An answer read into memory (an API call, a credential fetch) is small:
     * libcurl's own 16 KiB buffer reads it as fast, where the client's
     * buffer_size (512 KiB by default, sized for downloads) would be
     * allocated and freed by libcurl at every request. */
    if (t->sink == SINK_MEMORY && buffer_size > MEMORY_BUFFER_SIZE) {
        buffer_size = MEMORY_BUFFER_SIZE;
        if (rate == 0)
            SET(CURLOPT_BUFFERSIZE, (long)buffer_size);
    }
    if (rate > 0) {
        /* libcurl checks the rate between reads, and one read of a socket
         * with data waiting goes on for up to a hundred buffers: a buffer
         * of a thousandth of a second's bytes lets at most a tenth of a
         * second's through unpaced (1 KiB at least, libcurl's smallest;
         * the transfer's buffer_size at most) */
        long long buf = rate / 1000 < buffer_size ? rate / 1000 : buffer_size;
        SET(CURLOPT_BUFFERSIZE, buf < 1024 ? 1024L : (long)buf);
    }
    if (t->range_start >= 0) {
        if (t->range_end >= 0)
            snprintf(range, sizeof range, "%lld-%lld", t->range_start, t->range_end);
        else
            snprintf(range, sizeof range, "%lld-", t->range_start);
        SET(CURLOPT_RANGE, range); /* libcurl copies it */
    }
#undef SET
    if (rc == CURLE_OK)
        rc = set_method(t);
    return rc;
}

void hcdl_transfer_finish(hcdl_transfer *t, CURLcode rc)
{
    t->rc = rc;
    if (t->easy != NULL && t->status == 0)
        curl_easy_getinfo(t->easy, CURLINFO_RESPONSE_CODE, &t->status);
    if (t->easy != NULL) {
        curl_off_t pre = 0;
        t->began = curl_easy_getinfo(t->easy, CURLINFO_PRETRANSFER_TIME_T, &pre) == CURLE_OK ? pre > 0 : -1;
    } else {
        t->began = 0; /* never started (cancelled before, or no handle) */
    }
    /* An empty body never reached on_body: decide now (a 0-byte object). */
    if (rc == CURLE_OK && t->mode == MODE_UNDECIDED && t->easy != NULL)
        decide(t);
    stop_hasher(t);
    /* a range's CRC-64 counts even when it stopped early: the caller
     * combines the bytes it kept */
    if (t->checking && ((rc == CURLE_OK && t->mode == MODE_BODY) || t->want_crc64))
        hcdl_verifier_finish(&t->check);
    if (rc == CURLE_OK && t->mode == MODE_BODY && t->sink == SINK_FILE && t->sync_every > 0 &&
        t->synced < t->written) {
        if (fdatasync(t->fd) != 0 && errno != EINVAL)
            t->io_errno = errno;
        else
            t->synced = t->written;
    }
}

/* ---- results (host thread) -------------------------------------------------- */

int hcdl_transfer_push_error(lua_State *L, hcdl_transfer *t)
{
    if (t->io_errno != 0) {
        lua_pushstring(L, t->io_errno == ENOSPC ? "no space left on the device" : strerror(t->io_errno));
        hcdl_error_push(L, "io", lua_tostring(L, -1));
        lua_remove(L, -2);
        hcdl_pushinteger(L, t->io_errno);
        lua_setfield(L, -2, "errno");
    } else if (t->mode == MODE_REFUSED) {
        hcdl_error_push(L, "http", t->refused);
        hcdl_pushinteger(L, t->status);
        lua_setfield(L, -2, "status");
        lua_pushboolean(L, 1);
        lua_setfield(L, -2, "retryable");
        lua_pushstring(L, t->refused_code != NULL ? t->refused_code : "range");
        lua_setfield(L, -2, "refused");
    } else if (t->body_overflow) {
        lua_pushfstring(L, "the answer is larger than %d bytes", (int)t->max_body);
        hcdl_error_push(L, "http", lua_tostring(L, -1));
        lua_remove(L, -2);
    } else if (t->alloc_failed) {
        hcdl_error_push(L, "network", "out of memory while receiving");
    } else if (t->rc != CURLE_OK) {
        hcdl_http_push_curl_error(L, t->rc, t->errbuf, t->began);
    } else {
        return 0;
    }
    return 1;
}

static void push_error_field(lua_State *L, hcdl_transfer *t)
{
    if (hcdl_transfer_push_error(L, t))
        lua_setfield(L, -2, "error");
}

void hcdl_transfer_push_request(lua_State *L, const hcdl_transfer *t)
{
    const struct curl_slist *h;
    lua_createtable(L, 0, 1);
    lua_newtable(L);
    for (h = t->headers; h != NULL; h = h->next) {
        const char *colon = strchr(h->data, ':');
        if (colon == NULL || colon[1] != ' ')
            continue; /* "Expect;": a header sent empty */
        lua_pushlstring(L, h->data, (size_t)(colon - h->data));
        lua_pushstring(L, colon + 2);
        lua_rawset(L, -3);
    }
    lua_setfield(L, -2, "headers");
}

void hcdl_transfer_push_result(lua_State *L, hcdl_transfer *t)
{
    int ok = t->rc == CURLE_OK && t->io_errno == 0 && t->mode == MODE_BODY && !t->alloc_failed;
    lua_createtable(L, 0, 12);
    lua_pushboolean(L, ok);
    lua_setfield(L, -2, "ok");
    hcdl_pushinteger(L, t->status);
    lua_setfield(L, -2, "status");
    hcdl_pushinteger(L, t->written);
    lua_setfield(L, -2, "bytes");
    hcdl_pushinteger(L, t->synced);
    lua_setfield(L, -2, "synced");
    hcdl_http_push_headers(L, &t->head);
    lua_setfield(L, -2, "headers");
    if (t->cr_total >= 0 || t->cr_start >= 0) {
        hcdl_pushinteger(L, t->cr_start);
        lua_setfield(L, -2, "range_start");
        hcdl_pushinteger(L, t->cr_total);
        lua_setfield(L, -2, "range_total");
    }
    if (t->checking && t->check.finished) {
        if (t->check.md5_hex[0] != '\0') {
            lua_pushstring(L, t->check.md5_hex);
            lua_setfield(L, -2, "md5");
        }
        hcdl_verifier_push(L, &t->check);
        lua_setfield(L, -2, "checks");
    }
    if (t->sink == SINK_MEMORY || t->mode == MODE_ERROR_BODY) {
        lua_pushlstring(L, t->body_in.data != NULL ? t->body_in.data : "", t->body_in.len);
        lua_setfield(L, -2, "body");
    }
    push_error_field(L, t);
}

void hcdl_transfer_free(hcdl_transfer *t)
{
    if (t->easy != NULL) {
        curl_easy_cleanup(t->easy);
        t->easy = NULL;
    }
    if (t->fd >= 0) {
        close(t->fd);
        t->fd = -1;
    }
    stop_hasher(t);
    if (t->checking)
        hcdl_verifier_free(&t->check);
    t->checking = 0;
    if (t->block != NULL) {
        free(t->block); /* url, method, body and headers (hcdl_transfer_request) */
        t->block = NULL;
    } else {
        curl_slist_free_all(t->headers);
        free(t->url);
        free(t->method);
        free(t->body);
    }
    t->headers = NULL;
    free(t->expect_etag);
    free(t->expect_headers);
    hcdl_options_free(t->opt);
    t->url = t->method = t->body = t->expect_etag = t->expect_headers = NULL;
    hcdl_buf_free(&t->head);
    hcdl_buf_free(&t->body_in);
    hcdl_buf_free(&t->stream);
    hcdl_buf_free(&t->shared_head);
}
