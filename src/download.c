/*
 * download.c - bytes from links to files, in C: one curl multi handle runs
 * many transfers (ranges of one file, or many files) at once, each written
 * with pwrite at its own offset, never passing through Lua strings.
 *
 * Lua decides policy (which ranges, resume, verification, renaming); this
 * file only moves bytes and reports exactly what happened to each transfer.
 *
 * Safety rules it keeps:
 * - a transfer only writes to its file when the answer is the one asked
 *   for: 206 with a Content-Range starting at the requested byte, or 200
 *   when the whole object was asked for.  A 200 to a range request (the
 *   server ignored Range) or a Content-Range elsewhere is aborted before a
 *   byte is written, so nothing is ever appended at the wrong place;
 * - error answers (403 expired, 5xx) go to a small memory buffer, not the
 *   file;
 * - every resource (easy handles, the multi handle, file descriptors,
 *   buffers, digests) belongs to a job userdata whose __gc releases what
 *   is left, so a Lua error anywhere (out of memory, the progress function
 *   raising) leaks nothing;
 * - Lua is called (the progress function) only from the driving loop,
 *   never from inside a libcurl callback.
 */
/* _GNU_SOURCE for sync_file_range (Linux): start writeback while receiving. */
#define _GNU_SOURCE

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <lauxlib.h>
#include <openssl/evp.h>

#include "compat.h"
#include "download.h"
#include "error.h"
#include "http.h"

#define JOB_MT "hcdl.fetch_job"
#define MAX_ERROR_BODY (64 * 1024)
#define DEFAULT_BUFFER (512 * 1024)
#define WRITEBACK_CHUNK (8LL * 1024 * 1024)

enum { MODE_UNDECIDED, MODE_FILE, MODE_MEMORY, MODE_REFUSED };

typedef struct job job;

typedef struct {
    /* request */
    const char *url;         /* alive: a field of the transfers table */
    const char *path;
    long long file_offset;   /* where the first byte goes in the file */
    long long range_start;   /* -1: no Range header (the whole object) */
    long long range_end;     /* -1: open-ended */
    int want_md5;
    long long md5_prefix;    /* hash this many bytes of the file first */
    int writeback;           /* start writing to disk early (the file will be fsync'd) */
    long long flushed;       /* bytes (from file_offset) handed to writeback */
    /* state */
    CURL *easy;
    int fd;
    int mode;
    int started, finished;
    long long written;
    EVP_MD_CTX *md5;
    hcdl_buf headers;
    hcdl_buf body;           /* error answers only */
    long status;
    long long cr_start, cr_end, cr_total; /* Content-Range; -1 when absent */
    char refused_reason[96];
    int io_errno;            /* errno of a failed write/open */
    CURLcode rc;
    char errbuf[CURL_ERROR_SIZE];
    char md5_hex[33];
    const EVP_MD *md5_alg;   /* the job's, for starting a digest */
} transfer;

struct job {
    CURLM *multi;
    transfer *t;
    size_t n;
    EVP_MD *md5_alg;
};

/* ---- cleanup -------------------------------------------------------------- */

static void transfer_release(job *j, transfer *t)
{
    if (t->easy != NULL) {
        if (j->multi != NULL)
            curl_multi_remove_handle(j->multi, t->easy);
        curl_easy_cleanup(t->easy);
        t->easy = NULL;
    }
    if (t->fd >= 0) {
        close(t->fd);
        t->fd = -1;
    }
    if (t->md5 != NULL) {
        EVP_MD_CTX_free(t->md5);
        t->md5 = NULL;
    }
}

static void job_release(job *j)
{
    size_t i;
    if (j->t != NULL) {
        for (i = 0; i < j->n; i++) {
            transfer_release(j, &j->t[i]);
            hcdl_buf_free(&j->t[i].headers);
            hcdl_buf_free(&j->t[i].body);
        }
        free(j->t);
        j->t = NULL;
    }
    if (j->multi != NULL) {
        curl_multi_cleanup(j->multi);
        j->multi = NULL;
    }
    if (j->md5_alg != NULL) {
        EVP_MD_free(j->md5_alg);
        j->md5_alg = NULL;
    }
}

static int job_gc(lua_State *L)
{
    job_release(luaL_checkudata(L, 1, JOB_MT));
    return 0;
}

/* ---- libcurl callbacks (plain C) ----------------------------------------- */

static long long parse_ll(const char *p, const char *end, const char **next)
{
    long long v = 0;
    int any = 0;
    while (p < end && *p >= '0' && *p <= '9') {
        if (v > (LLONG_MAX - 9) / 10)
            return -1;
        v = v * 10 + (*p - '0');
        p++;
        any = 1;
    }
    *next = p;
    return any ? v : -1;
}

static size_t on_header(char *ptr, size_t size, size_t nmemb, void *ud)
{
    transfer *t = ud;
    size_t n = size * nmemb;
    if (n >= 5 && memcmp(ptr, "HTTP/", 5) == 0) {
        t->headers.len = 0;
        t->cr_start = t->cr_end = t->cr_total = -1;
    }
    if (t->headers.len + n > 256 * 1024 || hcdl_buf_append(&t->headers, ptr, n) != 0)
        return 0;
    /* Content-Range: bytes a-b/total  (or bytes * /total on 416) */
    if (n > 14 && strncasecmp(ptr, "content-range:", 14) == 0) {
        const char *p = ptr + 14, *end = ptr + n, *q = ptr + n;
        while (p < end && (*p == ' ' || *p == '\t'))
            p++;
        if (end - p > 6 && strncasecmp(p, "bytes ", 6) == 0) {
            p += 6;
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
    }
    return n;
}

static int hash_prefix(transfer *t);

/* 1 if the response's ETag is a quoted MD5 (32 hex digits): then, and only
 * then, hashing the bytes can verify them (multipart ETags are not MD5s). */
static int etag_is_md5(const hcdl_buf *h)
{
    const char *p = h->data, *end = h->data + h->len;
    while (p != NULL && p < end) {
        if ((size_t)(end - p) > 5 && strncasecmp(p, "etag:", 5) == 0) {
            int n = 0;
            p += 5;
            while (p < end && (*p == ' ' || *p == '\t'))
                p++;
            if (p < end && *p == '"')
                p++;
            while (p < end && n < 33 && ((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f') ||
                                         (*p >= 'A' && *p <= 'F'))) {
                p++;
                n++;
            }
            return n == 32 && (p >= end || *p == '"' || *p == '\r' || *p == '\n');
        }
        p = memchr(p, '\n', (size_t)(end - p));
        if (p != NULL)
            p++;
    }
    return 0;
}

/* Starts the MD5 of the bytes (and of what is already on disk before them). */
static int start_md5(transfer *t)
{
    t->md5 = EVP_MD_CTX_new();
    if (t->md5 == NULL || EVP_DigestInit_ex(t->md5, t->md5_alg, NULL) != 1 ||
        hash_prefix(t) != 0) {
        if (t->io_errno == 0)
            t->io_errno = EIO;
        return -1;
    }
    return 0;
}

/* Decides, on the first body bytes, whether they may go into the file. */
static void decide(transfer *t)
{
    curl_easy_getinfo(t->easy, CURLINFO_RESPONSE_CODE, &t->status);
    if (t->status < 200 || t->status >= 300) {
        t->mode = MODE_MEMORY;
        return;
    }
    if (t->range_start >= 0) {
        if (t->status != 206) {
            snprintf(t->refused_reason, sizeof t->refused_reason,
                     "HTTP %ld to a range request (the server ignored Range)", t->status);
            t->mode = MODE_REFUSED;
            return;
        }
        if (t->cr_start != t->range_start) {
            snprintf(t->refused_reason, sizeof t->refused_reason,
                     "Content-Range starts at %lld, not at the requested %lld",
                     t->cr_start, t->range_start);
            t->mode = MODE_REFUSED;
            return;
        }
    } else if (t->status != 200) {
        snprintf(t->refused_reason, sizeof t->refused_reason,
                 "HTTP %ld to a request for the whole object", t->status);
        t->mode = MODE_REFUSED;
        return;
    }
    t->mode = MODE_FILE;
    /* MD5 costs about as much CPU as receiving: only when it can verify */
    if (t->want_md5 && etag_is_md5(&t->headers) && start_md5(t) != 0)
        t->mode = MODE_REFUSED;
}

static size_t on_body(char *ptr, size_t size, size_t nmemb, void *ud)
{
    transfer *t = ud;
    size_t n = size * nmemb, done = 0;
    if (t->mode == MODE_UNDECIDED)
        decide(t);
    if (t->mode == MODE_REFUSED || t->io_errno != 0)
        return 0; /* aborts the transfer: nothing written */
    if (t->mode == MODE_MEMORY) {
        size_t room = MAX_ERROR_BODY - t->body.len;
        if (room > 0 && hcdl_buf_append(&t->body, ptr, n < room ? n : room) != 0)
            return 0;
        return n;
    }
    if (t->range_end >= 0 && t->range_start + t->written + (long long)n >
                                 t->range_end + 1) {
        snprintf(t->refused_reason, sizeof t->refused_reason,
                 "the server sent more than the requested range");
        t->mode = MODE_REFUSED;
        return 0;
    }
    while (done < n) {
        ssize_t w = pwrite(t->fd, ptr + done, n - done,
                           (off_t)(t->file_offset + t->written));
        if (w < 0) {
            if (errno == EINTR)
                continue;
            t->io_errno = errno;
            return 0;
        }
        done += (size_t)w;
        t->written += w;
    }
    if (t->md5 != NULL && EVP_DigestUpdate(t->md5, ptr, n) != 1) {
        t->io_errno = EIO;
        return 0;
    }
#ifdef SYNC_FILE_RANGE_WRITE
    /* The caller fsyncs the finished file; starting writeback of every
     * 8 MiB now overlaps the disk with the network, so that final fsync
     * has little left to wait for.  Asynchronous: it does not block. */
    if (t->writeback && t->written - t->flushed >= WRITEBACK_CHUNK) {
        sync_file_range(t->fd, (off_t)(t->file_offset + t->flushed),
                        (off_t)(t->written - t->flushed), SYNC_FILE_RANGE_WRITE);
        t->flushed = t->written;
    }
#endif
    return n;
}

/* ---- setup ---------------------------------------------------------------- */

typedef struct {
    long connect_timeout_ms, low_speed_limit, low_speed_time, buffer_size;
    long timeout_ms;
    const char *cafile, *proxy, *user_agent;
    int verify_tls;
} fetch_opts;

/* Hashes the first `len` bytes of the file into the transfer's MD5. */
static int hash_prefix(transfer *t)
{
    char buf[1 << 16];
    long long left = t->md5_prefix, pos = 0;
    while (left > 0) {
        ssize_t r = pread(t->fd, buf, (size_t)(left < (long long)sizeof buf ? left : (long long)sizeof buf),
                          (off_t)pos);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            t->io_errno = r < 0 ? errno : EIO;
            return -1;
        }
        if (EVP_DigestUpdate(t->md5, buf, (size_t)r) != 1)
            return -1;
        left -= r;
        pos += r;
    }
    return 0;
}

static int start_transfer(job *j, transfer *t, const fetch_opts *o)
{
    char range[64];
    CURLcode rc = CURLE_OK;

    t->started = 1;
    t->fd = open(t->path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (t->fd < 0) {
        t->io_errno = errno;
        t->finished = 1;
        return 0;
    }
    t->easy = curl_easy_init();
    if (t->easy == NULL)
        return -1;
#define SET(opt, val)                                              \
    if (rc == CURLE_OK)                                            \
    rc = curl_easy_setopt(t->easy, opt, val)
    SET(CURLOPT_URL, t->url);
    SET(CURLOPT_PRIVATE, (void *)t);
    SET(CURLOPT_NOSIGNAL, 1L);
    SET(CURLOPT_FOLLOWLOCATION, 0L);
    SET(CURLOPT_PROTOCOLS_STR, "http,https");
    SET(CURLOPT_ERRORBUFFER, t->errbuf);
    SET(CURLOPT_WRITEFUNCTION, on_body);
    SET(CURLOPT_WRITEDATA, (void *)t);
    SET(CURLOPT_HEADERFUNCTION, on_header);
    SET(CURLOPT_HEADERDATA, (void *)t);
    SET(CURLOPT_BUFFERSIZE, o->buffer_size);
    SET(CURLOPT_TCP_KEEPALIVE, 1L);
    SET(CURLOPT_CONNECTTIMEOUT_MS, o->connect_timeout_ms);
    SET(CURLOPT_SSL_VERIFYPEER, o->verify_tls ? 1L : 0L);
    SET(CURLOPT_SSL_VERIFYHOST, o->verify_tls ? 2L : 0L);
    if (o->timeout_ms > 0)
        SET(CURLOPT_TIMEOUT_MS, o->timeout_ms);
    if (o->low_speed_limit > 0) {
        SET(CURLOPT_LOW_SPEED_LIMIT, o->low_speed_limit);
        SET(CURLOPT_LOW_SPEED_TIME, o->low_speed_time);
    }
    if (o->cafile != NULL)
        SET(CURLOPT_CAINFO, o->cafile);
    if (o->proxy != NULL)
        SET(CURLOPT_PROXY, o->proxy);
    if (o->user_agent != NULL)
        SET(CURLOPT_USERAGENT, o->user_agent);
    /* Links are sent byte for byte: no Content-Type, no encoding asked. */
    if (t->range_start >= 0) {
        if (t->range_end >= 0)
            snprintf(range, sizeof range, "%lld-%lld", t->range_start, t->range_end);
        else
            snprintf(range, sizeof range, "%lld-", t->range_start);
        SET(CURLOPT_RANGE, range); /* libcurl copies it */
    }
#undef SET
    if (rc != CURLE_OK) {
        t->rc = rc;
        t->finished = 1;
        return 0;
    }
    if (curl_multi_add_handle(j->multi, t->easy) != CURLM_OK)
        return -1;
    return 0;
}

static void finish_transfer(job *j, transfer *t, CURLcode rc)
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0, i;
    t->rc = rc;
    t->finished = 1;
    if (t->status == 0 && t->easy != NULL)
        curl_easy_getinfo(t->easy, CURLINFO_RESPONSE_CODE, &t->status);
    if (t->md5 != NULL && rc == CURLE_OK && t->mode == MODE_FILE &&
        EVP_DigestFinal_ex(t->md5, md, &mdlen) == 1) {
        for (i = 0; i < mdlen && i < 16; i++)
            snprintf(t->md5_hex + 2 * i, 3, "%02x", md[i]);
    }
    transfer_release(j, t);
}

/* ---- Lua interface ---------------------------------------------------------- */

static long long opt_int(lua_State *L, int t, const char *k, long long dflt)
{
    long long v;
    lua_getfield(L, t, k);
    if (lua_isnil(L, -1)) {
        lua_pop(L, 1);
        return dflt;
    }
    if (lua_type(L, -1) != LUA_TNUMBER)
        luaL_error(L, "hcdl.fetch: %s must be a number", k);
    v = (long long)lua_tonumber(L, -1);
    lua_pop(L, 1);
    return v;
}

static const char *opt_str(lua_State *L, int t, const char *k)
{
    const char *s = NULL;
    lua_getfield(L, t, k);
    if (lua_type(L, -1) == LUA_TSTRING)
        s = lua_tostring(L, -1);
    else if (!lua_isnil(L, -1))
        luaL_error(L, "hcdl.fetch: %s must be a string", k);
    lua_pop(L, 1);
    return s; /* alive: a field of the options table */
}

static void push_result(lua_State *L, transfer *t)
{
    lua_createtable(L, 0, 12);
    hcdl_pushinteger(L, t->status);
    lua_setfield(L, -2, "status");
    hcdl_pushinteger(L, t->written);
    lua_setfield(L, -2, "bytes");
    hcdl_http_push_headers(L, &t->headers);
    lua_setfield(L, -2, "headers");
    if (t->cr_total >= 0 || t->cr_start >= 0) {
        hcdl_pushinteger(L, t->cr_start);
        lua_setfield(L, -2, "range_start");
        hcdl_pushinteger(L, t->cr_total);
        lua_setfield(L, -2, "range_total");
    }
    if (t->md5_hex[0] != '\0') {
        lua_pushstring(L, t->md5_hex);
        lua_setfield(L, -2, "md5");
    }
    if (t->mode == MODE_MEMORY && t->body.len > 0) {
        lua_pushlstring(L, t->body.data, t->body.len);
        lua_setfield(L, -2, "body");
    }
    if (t->io_errno != 0) {
        lua_pushstring(L, t->io_errno == ENOSPC ? "no space left on the device"
                                                : strerror(t->io_errno));
        hcdl_error_push(L, "io", lua_tostring(L, -1));
        lua_remove(L, -2);
        lua_pushstring(L, t->path);
        lua_setfield(L, -2, "path");
        hcdl_pushinteger(L, t->io_errno);
        lua_setfield(L, -2, "errno");
        lua_setfield(L, -2, "error");
    } else if (t->mode == MODE_REFUSED) {
        hcdl_error_push(L, "http", t->refused_reason);
        hcdl_pushinteger(L, t->status);
        lua_setfield(L, -2, "status");
        lua_pushboolean(L, 1);
        lua_setfield(L, -2, "retryable");
        lua_pushboolean(L, 1);
        lua_setfield(L, -2, "refused");
        lua_setfield(L, -2, "error");
    } else if (t->rc != CURLE_OK) {
        hcdl_http_push_curl_error(L, t->rc, t->errbuf);
        lua_setfield(L, -2, "error");
    }
    lua_pushboolean(L, t->rc == CURLE_OK && t->io_errno == 0 && t->mode == MODE_FILE);
    lua_setfield(L, -2, "ok");
}

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/*
 * core.fetch{ transfers = { {url=, path=, offset=, range_start=, range_end=,
 *   md5=, md5_prefix=}, ... }, concurrency =, buffer_size =,
 *   connect_timeout =, timeout =, low_speed_limit =, low_speed_time =,
 *   cafile =, verify_tls =, proxy =, user_agent =,
 *   progress = function(bytes) [-> false to cancel], progress_interval = }
 * -> { result, ... } (one per transfer, same order), cancelled
 */
int hcdl_download_fetch(lua_State *L)
{
    job *j;
    fetch_opts o;
    size_t n, i, next = 0, active = 0;
    long long concurrency;
    double interval, last_progress;
    int cancelled = 0, has_progress;

    luaL_checktype(L, 1, LUA_TTABLE);
    lua_settop(L, 1);
    lua_getfield(L, 1, "transfers");
    luaL_argcheck(L, lua_istable(L, 2), 1, "transfers must be a list");
    n = hcdl_rawlen(L, 2);

    concurrency = opt_int(L, 1, "concurrency", 8);
    luaL_argcheck(L, concurrency >= 1 && concurrency <= 256, 1, "concurrency must be 1-256");
    o.buffer_size = (long)opt_int(L, 1, "buffer_size", DEFAULT_BUFFER);
    luaL_argcheck(L, o.buffer_size >= 1024 && o.buffer_size <= CURL_MAX_READ_SIZE, 1,
                  "buffer_size out of range");
    {
        lua_Number ct, to;
        lua_getfield(L, 1, "connect_timeout");
        ct = lua_isnil(L, -1) ? 10 : luaL_checknumber(L, -1);
        lua_getfield(L, 1, "timeout");
        to = lua_isnil(L, -1) ? 0 : luaL_checknumber(L, -1);
        lua_getfield(L, 1, "progress_interval");
        interval = lua_isnil(L, -1) ? 0.1 : luaL_checknumber(L, -1);
        lua_pop(L, 3);
        o.connect_timeout_ms = (long)(ct * 1000);
        o.timeout_ms = (long)(to * 1000);
    }
    o.low_speed_limit = (long)opt_int(L, 1, "low_speed_limit", 1);
    o.low_speed_time = (long)opt_int(L, 1, "low_speed_time", 60);
    o.cafile = opt_str(L, 1, "cafile");
    o.proxy = opt_str(L, 1, "proxy");
    o.user_agent = opt_str(L, 1, "user_agent");
    lua_getfield(L, 1, "verify_tls");
    o.verify_tls = lua_isnil(L, -1) ? 1 : lua_toboolean(L, -1);
    lua_pop(L, 1);
    lua_getfield(L, 1, "progress");
    has_progress = lua_isfunction(L, -1);
    lua_pop(L, 1);

    if (hcdl_http_global_init() != 0)
        return luaL_error(L, "hcdl: libcurl could not be initialised");

    j = lua_newuserdata(L, sizeof *j); /* index 3 */
    memset(j, 0, sizeof *j);
    luaL_getmetatable(L, JOB_MT);
    lua_setmetatable(L, -2);
    j->t = calloc(n ? n : 1, sizeof *j->t);
    if (j->t == NULL)
        return luaL_error(L, "hcdl: out of memory");
    j->n = n;
    for (i = 0; i < n; i++)
        j->t[i].fd = -1;

    for (i = 0; i < n; i++) {
        transfer *t = &j->t[i];
        lua_rawgeti(L, 2, (int)i + 1);
        luaL_argcheck(L, lua_istable(L, -1), 1, "each transfer must be a table");
        lua_getfield(L, -1, "url");
        lua_getfield(L, -2, "path");
        if (lua_type(L, -2) != LUA_TSTRING || lua_type(L, -1) != LUA_TSTRING)
            return luaL_error(L, "hcdl.fetch: transfer %d needs url and path strings", (int)i + 1);
        t->url = lua_tostring(L, -2); /* alive: fields of the transfers table */
        t->path = lua_tostring(L, -1);
        lua_pop(L, 2);
        t->file_offset = opt_int(L, lua_gettop(L), "offset", 0);
        t->range_start = opt_int(L, lua_gettop(L), "range_start", -1);
        t->range_end = opt_int(L, lua_gettop(L), "range_end", -1);
        t->md5_prefix = opt_int(L, lua_gettop(L), "md5_prefix", 0);
        lua_getfield(L, -1, "md5");
        t->want_md5 = lua_toboolean(L, -1);
        lua_getfield(L, -2, "writeback");
        t->writeback = lua_toboolean(L, -1);
        lua_pop(L, 3);
        t->cr_start = t->cr_end = t->cr_total = -1;
        t->md5_alg = NULL;
        if (t->file_offset < 0 || t->md5_prefix < 0 ||
            (t->range_end >= 0 && t->range_end < t->range_start))
            return luaL_error(L, "hcdl.fetch: transfer %d has a bad offset or range", (int)i + 1);
    }

    j->multi = curl_multi_init();
    j->md5_alg = EVP_MD_fetch(NULL, "MD5", NULL);
    if (j->multi == NULL || j->md5_alg == NULL)
        return luaL_error(L, "hcdl: cannot create a transfer engine");
    curl_multi_setopt(j->multi, CURLMOPT_MAX_HOST_CONNECTIONS, (long)concurrency);
    for (i = 0; i < n; i++)
        j->t[i].md5_alg = j->md5_alg;

    last_progress = now_seconds();
    for (;;) {
        int running = 0, msgs = 0, numfds = 0;
        CURLMsg *m;

        while (!cancelled && active < (size_t)concurrency && next < n) {
            transfer *t = &j->t[next++];
            if (start_transfer(j, t, &o) != 0)
                return luaL_error(L, "hcdl: cannot start a transfer (out of memory)");
            if (!t->finished)
                active++;
        }
        if (active == 0 && (next >= n || cancelled))
            break;
        if (curl_multi_perform(j->multi, &running) != CURLM_OK)
            return luaL_error(L, "hcdl: the transfer engine failed");
        while ((m = curl_multi_info_read(j->multi, &msgs)) != NULL) {
            char *priv = NULL;
            if (m->msg != CURLMSG_DONE)
                continue;
            curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, &priv);
            finish_transfer(j, (transfer *)(void *)priv, m->data.result);
            active--;
        }
        if (has_progress && now_seconds() - last_progress >= interval) {
            double total = 0;
            last_progress = now_seconds();
            for (i = 0; i < n; i++)
                total += (double)j->t[i].written;
            lua_getfield(L, 1, "progress");
            lua_pushnumber(L, total);
            lua_call(L, 1, 1); /* a raising progress function: __gc cleans up */
            if (lua_type(L, -1) == LUA_TBOOLEAN && !lua_toboolean(L, -1)) {
                cancelled = 1;
                for (i = 0; i < n; i++) {
                    if (j->t[i].started && !j->t[i].finished) {
                        finish_transfer(j, &j->t[i], CURLE_ABORTED_BY_CALLBACK);
                        active--;
                    }
                }
            }
            lua_pop(L, 1);
        }
        if (active > 0 &&
            curl_multi_poll(j->multi, NULL, 0, 100, &numfds) != CURLM_OK)
            return luaL_error(L, "hcdl: the transfer engine failed");
    }

    lua_createtable(L, (int)n, 0);
    for (i = 0; i < n; i++) {
        if (!j->t[i].started) {
            /* cancelled before it started */
            j->t[i].rc = CURLE_ABORTED_BY_CALLBACK;
        }
        push_result(L, &j->t[i]);
        lua_rawseti(L, -2, (int)i + 1);
    }
    job_release(j);
    lua_pushboolean(L, cancelled);
    return 2;
}

void hcdl_download_init(lua_State *L)
{
    if (luaL_newmetatable(L, JOB_MT)) {
        lua_pushcfunction(L, job_gc);
        lua_setfield(L, -2, "__gc");
    }
    lua_pop(L, 1);
}
