/*
 * formats.h - a backup checked by its own format while its bytes go by
 * once, recognised by its first bytes (never by its name):
 *   Redis RDB  "REDIS" + 4 digits; from version 5 the last 8 bytes are the
 *              CRC-64/Jones (little-endian) of everything before them, 0 when
 *              the server saved with checksums off; the byte before them
 *              (or the last byte, before version 5) is the EOF opcode 0xFF;
 *   xbstream   "XBSTCK01" chunks to the end: every payload chunk's CRC-32,
 *              and the stream ending on a chunk boundary;
 *   gzip       1f 8b 08: every member inflated, its CRC-32 and ISIZE
 *              checked by zlib, nothing but zero padding after the last.
 * Anything else is "none": no check, no failure.
 */
#ifndef HCDL_FORMATS_H
#define HCDL_FORMATS_H

#include <stddef.h>
#include <stdint.h>

#include <zlib.h>

#include "crc.h"

enum { FMT_UNKNOWN, FMT_NONE, FMT_RDB, FMT_XBSTREAM, FMT_GZIP };

#define HCDL_FMT_SNIFF 16

typedef struct {
    int kind;
    int failed;                    /* a check failed: message says which */
    int unsupported;               /* a part hcdl cannot check (reported, not a failure) */
    char message[160];
    unsigned char head[HCDL_FMT_SNIFF];
    size_t head_len;
    long long seen;                /* bytes given so far */
    const hcdl_crc64_tables *jones;/* portable build only */
    /* rdb */
    int rdb_version;
    uint64_t rdb_crc;              /* over all but the held-back tail */
    unsigned char tail[8];
    size_t tail_len;
    unsigned char rdb_last;        /* the last byte under the CRC */
    int rdb_no_checksum;
    /* xbstream */
    int xb_state;
    unsigned char *xb_hdr;         /* the chunk header being collected */
    size_t xb_have, xb_need;
    long long xb_left;             /* payload bytes still to come */
    uint32_t xb_crc, xb_want;
    long long xb_chunks;
    /* gzip */
    z_stream z;
    int z_ready, z_members, z_between;
    unsigned char *z_out;
} hcdl_fmt;

/* jones: the Jones tables (needed only when the build has no ISA-L). */
void hcdl_fmt_start(hcdl_fmt *f, const hcdl_crc64_tables *jones);

/* 0, or -1 once a check failed (further bytes are ignored). */
int hcdl_fmt_update(hcdl_fmt *f, const unsigned char *p, size_t n);

/* After the last byte: 0 when the format holds (or is none), -1 if not. */
int hcdl_fmt_finish(hcdl_fmt *f);

/* "rdb", "rdb-no-checksum", "xbstream", "gzip" after a successful finish;
 * NULL when nothing was checked. */
const char *hcdl_fmt_verified(const hcdl_fmt *f);

/* "rdb", "xbstream", "gzip" or NULL: what the first bytes say. */
const char *hcdl_fmt_name(const hcdl_fmt *f);

void hcdl_fmt_free(hcdl_fmt *f);

#endif
