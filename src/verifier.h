/*
 * verifier.h - every check hcdl makes on a file's bytes, fed once, in
 * order, from the first byte: the MD5 of a plain ETag, a multipart ETag
 * (etag_mp.h), the CRC-64/XZ of the store's header, and the file's own
 * format (formats.h).  A transfer feeds it as bytes arrive (worker thread),
 * a task feeds it from the file in one pass; Lua gets the outcome as a
 * table and decides what it means.
 */
#ifndef HCDL_VERIFIER_H
#define HCDL_VERIFIER_H

#include <stdint.h>

#include <lua.h>
#include <openssl/evp.h>

#include "crc.h"
#include "etag_mp.h"
#include "formats.h"

typedef struct {
    int md5;                 /* plain MD5 of the bytes */
    const char *etag;        /* a multipart ETag to check, or NULL */
    size_t etag_len;
    long long total;         /* the object's size (multipart needs it) */
    int crc64;               /* CRC-64/XZ of the bytes */
    int formats;             /* the file's own format */
    int fd;                  /* the file the bytes are in (byte i at
                                offset i, written before it is fed), or -1 */
} hcdl_vconf;

typedef struct {
    long long bytes;
    EVP_MD_CTX *md5;
    char md5_hex[33];
    int mp_on;
    hcdl_mp mp;
    long long mp_found;
    int mp_strong, mp_candidates;
    int crc_on;
    uint64_t crc64;
    int fmt_on;
    hcdl_fmt fmt;
    hcdl_crc64_tables *tables; /* [0] XZ, [1] Jones: portable build only */
    int finished;
} hcdl_verifier;

/* 0, or -1 when out of memory (v is then released). */
int hcdl_verifier_start(hcdl_verifier *v, const hcdl_vconf *c, const EVP_MD *md5);

/* 0, or -1 when a digest failed (not when a format check failed). */
int hcdl_verifier_update(hcdl_verifier *v, const unsigned char *p, size_t n);

/* For a verifier fed on a thread with time between chunks (hasher.h):
 * work that need not follow each chunk (a multipart ETag's parts, read
 * back from the file) is left to hcdl_verifier_work.  on = 0 undoes it. */
void hcdl_verifier_background(hcdl_verifier *v, int on);

/* One step of that work: 1 when there is more to do now. */
int hcdl_verifier_work(hcdl_verifier *v);

/* 1 when more bytes would change nothing: no digest asked for, and the
 * first bytes showed no format to check (a file pass can stop). */
int hcdl_verifier_idle(const hcdl_verifier *v);

void hcdl_verifier_finish(hcdl_verifier *v);

/* Pushes { bytes =, md5 =, part_size =, multipart_candidates =,
 * multipart_strong =, crc64 = "<decimal>", format =, format_verified =,
 * format_error =, format_unchecked = }. */
void hcdl_verifier_push(lua_State *L, const hcdl_verifier *v);

void hcdl_verifier_free(hcdl_verifier *v);

/* Reads a verify spec ({ md5, etag, size, crc64, formats }) from the table
 * at idx; etag points into the Lua string (copy it if it must outlive). */
void hcdl_vconf_read(lua_State *L, int idx, hcdl_vconf *c);

void hcdl_verifier_init(lua_State *L);

/* Lua: core.verifier(spec) -> v with v:update(s), v:result() */
int hcdl_verifier_new(lua_State *L);
/* Lua: core.crc64(s [, "xz"|"jones" [, "portable"]]) -> 16 hex digits */
int hcdl_crc64_lua(lua_State *L);
/* Lua: core.crc64_combine(a, b, len_b) -> decimal (a, b decimal strings) */
int hcdl_crc64_combine_lua(lua_State *L);
/* Lua: core.features() -> { crc =, inflate =, formats = {...} } */
int hcdl_features_lua(lua_State *L);

#endif
