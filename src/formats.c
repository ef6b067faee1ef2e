/*
 * formats.c - see formats.h.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "formats.h"

#define XB_FIXED 14              /* magic 8, flags 1, type 1, path length 4 */
#define XB_PAYLOAD_FIELDS 20     /* length 8, offset 8, CRC-32 4 */
#define XB_MAX_PATH 4096
#define Z_OUT (64 * 1024)

enum { XB_HEADER, XB_PAYLOAD };

static int failf(hcdl_fmt *f, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(f->message, sizeof f->message, fmt, ap);
    va_end(ap);
    f->failed = 1;
    return -1;
}

static void unsupported(hcdl_fmt *f, const char *why)
{
    snprintf(f->message, sizeof f->message, "%s", why);
    f->unsupported = 1;
}

static uint64_t le64(const unsigned char *p)
{
    uint64_t v = 0;
    int i;
    for (i = 7; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

static uint32_t le32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* ---- Redis RDB: the last 8 bytes are held back from the CRC ---- */

static void rdb_crc(hcdl_fmt *f, const unsigned char *p, size_t n)
{
    f->rdb_crc = hcdl_crc64(HCDL_CRC64_JONES, f->jones, f->rdb_crc, p, n);
}

static int rdb_update(hcdl_fmt *f, const unsigned char *p, size_t n)
{
    size_t total = f->tail_len + n, out, from_tail, i;
    unsigned char next[8];
    if (total <= 8) {
        memcpy(f->tail + f->tail_len, p, n);
        f->tail_len = total;
        return 0;
    }
    out = total - 8;
    from_tail = out < f->tail_len ? out : f->tail_len;
    rdb_crc(f, f->tail, from_tail);
    if (out > from_tail)
        rdb_crc(f, p, out - from_tail);
    for (i = 0; i < 8; i++) {
        size_t at = out + i;
        next[i] = at < f->tail_len ? f->tail[at] : p[at - f->tail_len];
    }
    f->rdb_last = out > from_tail ? p[out - from_tail - 1] : f->tail[from_tail - 1];
    memcpy(f->tail, next, 8);
    f->tail_len = 8;
    return 0;
}

static int rdb_finish(hcdl_fmt *f)
{
    uint64_t trailer;
    if (f->rdb_version < 5) {
        /* no trailer: only the EOF opcode can be checked */
        if (f->tail_len == 0 || f->tail[f->tail_len - 1] != 0xFF)
            return failf(f, "the RDB file does not end with its EOF opcode");
        f->rdb_no_checksum = 1;
        return 0;
    }
    if (f->seen < 9 + 1 + 8)
        return failf(f, "the RDB file is too short (%lld bytes) to hold its checksum", f->seen);
    if (f->rdb_last != 0xFF)
        return failf(f, "the RDB file has no EOF opcode before its checksum (truncated or damaged)");
    trailer = le64(f->tail);
    if (trailer == 0) { /* saved with rdbchecksum no */
        f->rdb_no_checksum = 1;
        return 0;
    }
    if (trailer != f->rdb_crc)
        return failf(f, "the RDB checksum does not match: the file says %016llx, its bytes give %016llx",
                     (unsigned long long)trailer, (unsigned long long)f->rdb_crc);
    return 0;
}

/* ---- xbstream ---- */

static int xb_header_done(hcdl_fmt *f)
{
    const unsigned char *h = f->xb_hdr;
    char type = (char)h[9];
    uint32_t plen = le32(h + 10);
    if (f->xb_need == XB_FIXED) {
        if (memcmp(h, "XBSTCK01", 8) != 0)
            return failf(f, "xbstream chunk %lld has no XBSTCK01 magic", f->xb_chunks + 1);
        if (plen == 0 || plen > XB_MAX_PATH)
            return failf(f, "xbstream chunk %lld has a path length of %lu", f->xb_chunks + 1,
                         (unsigned long)plen);
        if (type != 'P' && type != 'E') {
            unsupported(f, "the xbstream has chunks of a type hcdl does not check");
            return 0;
        }
        f->xb_need = XB_FIXED + plen + (type == 'P' ? XB_PAYLOAD_FIELDS : 0);
        return 0;
    }
    f->xb_chunks++;
    f->xb_have = 0;
    f->xb_need = XB_FIXED;
    if (type == 'P') {
        const unsigned char *q = h + XB_FIXED + plen;
        uint64_t len = le64(q);
        if (len > (uint64_t)1 << 40)
            return failf(f, "xbstream chunk %lld announces %llu payload bytes", f->xb_chunks,
                         (unsigned long long)len);
        f->xb_left = (long long)len;
        f->xb_want = le32(q + 16);
        f->xb_crc = 0;
        f->xb_state = XB_PAYLOAD;
        if (f->xb_left == 0 && f->xb_want != 0)
            return failf(f, "xbstream chunk %lld: the CRC-32 of its payload does not match", f->xb_chunks);
        if (f->xb_left == 0)
            f->xb_state = XB_HEADER;
    }
    return 0;
}

static size_t xb_payload(hcdl_fmt *f, const unsigned char *p, size_t n)
{
    size_t k = (long long)n < f->xb_left ? n : (size_t)f->xb_left;
    f->xb_crc = hcdl_crc32(f->xb_crc, p, k);
    f->xb_left -= (long long)k;
    if (f->xb_left == 0) {
        f->xb_state = XB_HEADER;
        if (f->xb_crc != f->xb_want)
            failf(f, "xbstream chunk %lld: the CRC-32 of its payload is %08lx, the chunk says %08lx",
                  f->xb_chunks, (unsigned long)f->xb_crc, (unsigned long)f->xb_want);
    }
    return k;
}

static int xb_update(hcdl_fmt *f, const unsigned char *p, size_t n)
{
    if (f->xb_hdr == NULL) {
        f->xb_hdr = malloc(XB_FIXED + XB_MAX_PATH + XB_PAYLOAD_FIELDS);
        if (f->xb_hdr == NULL) {
            unsupported(f, "out of memory for the xbstream check");
            return 0;
        }
        f->xb_need = XB_FIXED;
    }
    while (n > 0 && !f->failed && !f->unsupported) {
        size_t k;
        if (f->xb_state == XB_PAYLOAD) {
            k = xb_payload(f, p, n);
        } else {
            k = f->xb_need - f->xb_have < n ? f->xb_need - f->xb_have : n;
            memcpy(f->xb_hdr + f->xb_have, p, k);
            f->xb_have += k;
            if (f->xb_have == f->xb_need && xb_header_done(f) != 0)
                return -1;
        }
        p += k;
        n -= k;
    }
    return f->failed ? -1 : 0;
}

static int xb_finish(hcdl_fmt *f)
{
    if (f->unsupported)
        return 0;
    if (f->xb_state != XB_HEADER || f->xb_have != 0)
        return failf(f, "the xbstream ends inside chunk %lld (truncated)", f->xb_chunks + 1);
    return 0;
}

/* ---- gzip ---- */

static int gz_start(hcdl_fmt *f)
{
    memset(&f->z, 0, sizeof f->z);
    f->z_out = malloc(Z_OUT);
    if (f->z_out == NULL || inflateInit2(&f->z, 15 + 16) != Z_OK) {
        unsupported(f, "cannot start inflating the gzip file");
        return -1;
    }
    f->z_ready = 1;
    return 0;
}

/* Between members: another member, or zero padding to the end. */
static int gz_between(hcdl_fmt *f)
{
    if (f->z_between == 2 || f->z.next_in[0] == 0) {
        while (f->z.avail_in > 0) {
            if (*f->z.next_in != 0)
                return failf(f, "data after the last gzip member is not zero padding");
            f->z.next_in++;
            f->z.avail_in--;
        }
        f->z_between = 2;
        return 0;
    }
    f->z_between = 0; /* inflate checks the magic itself */
    return 0;
}

static int gz_run(hcdl_fmt *f, int drain)
{
    int pending = drain;
    for (;;) {
        int rc;
        if (f->z_between && f->z.avail_in > 0 && gz_between(f) != 0)
            return -1;
        if (f->z_between || (f->z.avail_in == 0 && !pending))
            return 0;
        f->z.next_out = f->z_out;
        f->z.avail_out = Z_OUT;
        rc = inflate(&f->z, Z_NO_FLUSH);
        pending = f->z.avail_out == 0;
        if (rc == Z_STREAM_END) {
            f->z_members++;
            f->z_between = 1;
            if (inflateReset(&f->z) != Z_OK)
                return failf(f, "cannot continue after gzip member %d", f->z_members);
        } else if (rc == Z_BUF_ERROR) {
            return 0; /* needs more input */
        } else if (rc != Z_OK) {
            return failf(f, "gzip member %d is damaged (%s)", f->z_members + 1,
                         f->z.msg != NULL ? f->z.msg : "inflate failed");
        }
    }
}

static int gz_update(hcdl_fmt *f, const unsigned char *p, size_t n)
{
    if (!f->z_ready && gz_start(f) != 0)
        return 0;
    while (n > 0) {
        uInt k = n > 0x40000000u ? 0x40000000u : (uInt)n;
        f->z.next_in = (unsigned char *)(uintptr_t)p; /* zlib never writes its input */
        f->z.avail_in = k;
        if (gz_run(f, 0) != 0)
            return -1;
        p += k;
        n -= k;
    }
    return 0;
}

static int gz_finish(hcdl_fmt *f)
{
    if (f->unsupported)
        return 0;
    if (f->z_ready && !f->z_between) {
        f->z.next_in = NULL;
        f->z.avail_in = 0;
        if (gz_run(f, 1) != 0)
            return -1;
    }
    if (!f->z_between || f->z_members == 0)
        return failf(f, "the gzip file ends inside member %d (truncated)", f->z_members + 1);
    return 0;
}

/* ---- dispatch ---- */

void hcdl_fmt_start(hcdl_fmt *f, const hcdl_crc64_tables *jones)
{
    memset(f, 0, sizeof *f);
    f->kind = FMT_UNKNOWN;
    f->jones = jones;
}

static int digits(const unsigned char *p, int n)
{
    int i, v = 0;
    for (i = 0; i < n; i++) {
        if (p[i] < '0' || p[i] > '9')
            return -1;
        v = v * 10 + (p[i] - '0');
    }
    return v;
}

static void sniff(hcdl_fmt *f)
{
    const unsigned char *h = f->head;
    if (f->head_len >= 9 && memcmp(h, "REDIS", 5) == 0 && digits(h + 5, 4) >= 0) {
        f->kind = FMT_RDB;
        f->rdb_version = digits(h + 5, 4);
    } else if (f->head_len >= 8 && memcmp(h, "XBSTCK01", 8) == 0) {
        f->kind = FMT_XBSTREAM;
    } else if (f->head_len >= 3 && h[0] == 0x1f && h[1] == 0x8b && h[2] == 8) {
        f->kind = FMT_GZIP;
    } else {
        f->kind = FMT_NONE;
    }
}

static int dispatch(hcdl_fmt *f, const unsigned char *p, size_t n)
{
    if (f->failed)
        return -1;
    if (f->unsupported || n == 0)
        return 0;
    switch (f->kind) {
    case FMT_RDB:
        return rdb_update(f, p, n);
    case FMT_XBSTREAM:
        return xb_update(f, p, n);
    case FMT_GZIP:
        return gz_update(f, p, n);
    default:
        return 0;
    }
}

int hcdl_fmt_update(hcdl_fmt *f, const unsigned char *p, size_t n)
{
    f->seen += (long long)n;
    if (f->kind == FMT_UNKNOWN) {
        size_t k = HCDL_FMT_SNIFF - f->head_len < n ? HCDL_FMT_SNIFF - f->head_len : n;
        memcpy(f->head + f->head_len, p, k);
        f->head_len += k;
        p += k;
        n -= k;
        if (f->head_len < HCDL_FMT_SNIFF)
            return 0;
        sniff(f);
        if (dispatch(f, f->head, f->head_len) != 0)
            return -1;
    }
    return dispatch(f, p, n);
}

int hcdl_fmt_finish(hcdl_fmt *f)
{
    if (f->kind == FMT_UNKNOWN) {
        sniff(f);
        if (dispatch(f, f->head, f->head_len) != 0)
            return -1;
    }
    if (f->failed)
        return -1;
    switch (f->kind) {
    case FMT_RDB:
        return rdb_finish(f);
    case FMT_XBSTREAM:
        return xb_finish(f);
    case FMT_GZIP:
        return gz_finish(f);
    default:
        return 0;
    }
}

const char *hcdl_fmt_name(const hcdl_fmt *f)
{
    switch (f->kind) {
    case FMT_RDB:
        return "rdb";
    case FMT_XBSTREAM:
        return "xbstream";
    case FMT_GZIP:
        return "gzip";
    default:
        return NULL;
    }
}

const char *hcdl_fmt_verified(const hcdl_fmt *f)
{
    if (f->failed || f->unsupported)
        return NULL;
    if (f->kind == FMT_RDB && f->rdb_no_checksum)
        return "rdb-no-checksum";
    return hcdl_fmt_name(f);
}

void hcdl_fmt_free(hcdl_fmt *f)
{
    if (f->z_ready)
        inflateEnd(&f->z);
    f->z_ready = 0;
    free(f->z_out);
    free(f->xb_hdr);
    f->z_out = NULL;
    f->xb_hdr = NULL;
}
