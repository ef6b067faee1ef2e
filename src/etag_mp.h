/*
 * etag_mp.h - checking an object against a multipart ETag,
 * "<md5 of the parts' binary MD5s>-N", while its bytes go by once.
 *
 * The part size P is not in the ETag; with the object's size S only sizes
 * with ceil(S / P) = N are possible.  The candidates tried, most likely
 * first: the sizes uploaders use, in this order: 8, 5, 16, 15, 32, 64,
 * 100 MiB (etag_mp.c, usual[]), powers of two from 64 KiB, then whole MiB
 * in the interval; at most
 * HCDL_MP_MAX_CANDIDATES, each costing one MD5 of the whole object.
 *
 * A candidate from the first two groups (or the single possible size when
 * N = 1) is "strong": the caller may take a mismatch with it as damage.
 * Whole-MiB guesses that do not match prove nothing.
 *
 * Given the file the bytes go to (object byte i at file offset i, written
 * before it is fed here), the parts are digested eight at a time from the
 * file once eight are complete (md5lanes.h) instead of one stream each:
 * the same digests, a fraction of the CPU.  Fed bytes then only count.
 */
#ifndef HCDL_ETAG_MP_H
#define HCDL_ETAG_MP_H

#include <openssl/evp.h>

#include "md5lanes.h"

#define HCDL_MP_MAX_CANDIDATES 8

typedef struct {
    long long size;          /* the part size tried */
    int strong;
    long long in_part;       /* bytes of the current part so far */
    long long queued;        /* lane mode: parts handed to the lanes */
    EVP_MD_CTX *part, *outer;
} hcdl_mp_candidate;

typedef struct {
    unsigned char want[16];
    long long parts;         /* N */
    long long total;         /* S */
    int count;
    hcdl_mp_candidate c[HCDL_MP_MAX_CANDIDATES];
    const EVP_MD *md5;
    int fd;                  /* lane mode: the file, else -1 */
    long long fed;           /* lane mode: bytes in the file so far */
    int failed;              /* lane mode: the file could not be read */
    int background;          /* lane mode: hcdl_mp_work does the digesting */
    hcdl_md5_lanes *lanes;
    struct {                 /* lane mode: the parts being digested */
        hcdl_md5_job jobs[HCDL_MD5_LANES];
        int owner[HCDL_MD5_LANES]; /* their candidates */
        int n, busy;
    } group;
} hcdl_mp;

/* 1 if etag (quotes optional) is "<32 hex>-N" with N >= 1; fills want, n. */
int hcdl_mp_parse(const char *etag, size_t len, unsigned char want[16], long long *n);

/* Starts checking an object of total bytes against the parsed ETag; fd is
 * the file the bytes are in (lane mode, when this CPU has lanes), or -1.
 * 0, or -1 (out of memory; mp is then released). */
int hcdl_mp_start(hcdl_mp *mp, const unsigned char want[16], long long n, long long total,
                  const EVP_MD *md5, int fd);

int hcdl_mp_update(hcdl_mp *mp, const unsigned char *p, size_t len);

/* Lane mode on a thread with other work (hasher.h): after this, updates
 * only count the bytes, and hcdl_mp_work digests parts a step at a time,
 * so the bytes arriving meanwhile are not held up by a whole group. */
void hcdl_mp_background(hcdl_mp *mp, int on);

/* One step of the digesting the counted bytes allow: 1 when there is more
 * to do, 0 when nothing waits (the rest waits for more bytes or the end). */
int hcdl_mp_work(hcdl_mp *mp);

/* After the last byte: the matching part size, 0 when none matched.
 * *strong_tried: a strong candidate was among those that did not match
 * (also when the file could not be read back: no match is proven then,
 * and a caller that takes it as damage keeps nothing unproven). */
long long hcdl_mp_finish(hcdl_mp *mp, int *strong_tried);

void hcdl_mp_free(hcdl_mp *mp);

#endif
