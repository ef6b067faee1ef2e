/*
 * etag_mp.c - see etag_mp.h.
 */
#include <string.h>

#include "etag_mp.h"

#define MIB (1024LL * 1024)

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

int hcdl_mp_parse(const char *etag, size_t len, unsigned char want[16], long long *n)
{
    size_t i;
    long long parts = 0;
    if (len >= 2 && etag[0] == '"' && etag[len - 1] == '"') {
        etag++;
        len -= 2;
    }
    if (len < 34 || len > 33 + 9 || etag[32] != '-')
        return 0;
    for (i = 0; i < 16; i++) {
        int hi = hexval(etag[2 * i]), lo = hexval(etag[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return 0;
        want[i] = (unsigned char)(hi * 16 + lo);
    }
    for (i = 33; i < len; i++) {
        if (etag[i] < '0' || etag[i] > '9')
            return 0;
        parts = parts * 10 + (etag[i] - '0');
    }
    if (parts < 1 || etag[33] == '0')
        return 0;
    *n = parts;
    return 1;
}

/* ceil(total / p) == n */
static int fits(long long total, long long n, long long p)
{
    return p > 0 && (total + p - 1) / p == n;
}

static int known(const hcdl_mp *mp, long long p)
{
    int i;
    for (i = 0; i < mp->count; i++)
        if (mp->c[i].size == p)
            return 1;
    return 0;
}

static int add(hcdl_mp *mp, long long p, int strong)
{
    hcdl_mp_candidate *c;
    if (mp->count >= HCDL_MP_MAX_CANDIDATES || !fits(mp->total, mp->parts, p) || known(mp, p))
        return 0;
    c = &mp->c[mp->count];
    memset(c, 0, sizeof *c);
    c->size = p;
    c->strong = strong;
    c->part = EVP_MD_CTX_new();
    c->outer = EVP_MD_CTX_new();
    mp->count++; /* counted before checking, so hcdl_mp_free releases it */
    if (c->part == NULL || c->outer == NULL || EVP_DigestInit_ex(c->part, mp->md5, NULL) != 1 ||
        EVP_DigestInit_ex(c->outer, mp->md5, NULL) != 1)
        return -1;
    return 0;
}

static int add_candidates(hcdl_mp *mp)
{
    static const long long usual[] = {8, 5, 16, 15, 32, 64, 100};
    long long p, lo, hi;
    size_t i;
    if (mp->parts == 1) /* one part: its size is the object's */
        return add(mp, mp->total > 0 ? mp->total : 1, 1);
    for (i = 0; i < sizeof usual / sizeof usual[0]; i++)
        if (add(mp, usual[i] * MIB, 1) != 0)
            return -1;
    for (p = 64 * 1024; p > 0 && p <= mp->total; p *= 2)
        if (add(mp, p, 1) != 0)
            return -1;
    /* whole MiB with ceil(S / P) = N: P in [ceil(S / N), ceil(S / (N - 1)) - 1] */
    lo = (mp->total + mp->parts - 1) / mp->parts;
    hi = (mp->total + mp->parts - 2) / (mp->parts - 1) - 1;
    for (p = (lo + MIB - 1) / MIB * MIB; p <= hi && mp->count < HCDL_MP_MAX_CANDIDATES; p += MIB)
        if (add(mp, p, 0) != 0)
            return -1;
    return 0;
}

int hcdl_mp_start(hcdl_mp *mp, const unsigned char want[16], long long n, long long total,
                  const EVP_MD *md5, int fd)
{
    memset(mp, 0, sizeof *mp);
    memcpy(mp->want, want, 16);
    mp->parts = n;
    mp->total = total;
    mp->md5 = md5;
    mp->fd = -1;
    if (total < 0 || add_candidates(mp) != 0)
        goto fail;
    if (fd >= 0 && hcdl_md5_lanes_usable()) {
        mp->lanes = hcdl_md5_lanes_new(NULL);
        if (mp->lanes == NULL)
            goto fail;
        mp->fd = fd;
    }
    return 0;
fail:
    hcdl_mp_free(mp);
    return -1;
}

/* Ends the candidate's current part: its MD5 goes into the outer MD5. */
static int end_part(hcdl_mp *mp, hcdl_mp_candidate *c)
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    if (EVP_DigestFinal_ex(c->part, md, &len) != 1 || EVP_DigestUpdate(c->outer, md, len) != 1 ||
        EVP_DigestInit_ex(c->part, mp->md5, NULL) != 1)
        return -1;
    c->in_part = 0;
    return 0;
}

static int feed(hcdl_mp *mp, hcdl_mp_candidate *c, const unsigned char *p, size_t len)
{
    while (len > 0) {
        long long room = c->size - c->in_part;
        size_t k = (long long)len < room ? len : (size_t)room;
        if (EVP_DigestUpdate(c->part, p, k) != 1)
            return -1;
        c->in_part += (long long)k;
        p += k;
        len -= k;
        if (c->in_part == c->size && end_part(mp, c) != 0)
            return -1;
    }
    return 0;
}

/* ---- lane mode ---- */

/* Parts of c that can be digested: the whole ones in the file, and at the
 * end the last, short one (as a stream ends its part at the last byte). */
static long long parts_ready(const hcdl_mp *mp, const hcdl_mp_candidate *c, int at_end)
{
    return at_end ? (mp->fed + c->size - 1) / c->size : mp->fed / c->size;
}

static long long waiting(const hcdl_mp *mp, int at_end)
{
    long long n = 0;
    int i;
    for (i = 0; i < mp->count; i++)
        n += parts_ready(mp, &mp->c[i], at_end) - mp->c[i].queued;
    return n;
}

/* Takes the next HCDL_MD5_LANES ready parts (fewer at the end), each
 * candidate's in order, and starts digesting them. */
static void start_group(hcdl_mp *mp, int at_end)
{
    int i, n = 0;
    for (i = 0; i < mp->count && n < HCDL_MD5_LANES; i++) {
        hcdl_mp_candidate *c = &mp->c[i];
        long long ready = parts_ready(mp, c, at_end);
        for (; c->queued < ready && n < HCDL_MD5_LANES; c->queued++, n++) {
            long long off = c->queued * c->size;
            mp->group.jobs[n].off = off;
            mp->group.jobs[n].len = mp->fed - off < c->size ? mp->fed - off : c->size;
            mp->group.owner[n] = i;
        }
    }
    mp->group.n = n;
    mp->group.busy = 1;
    hcdl_md5_lanes_start(mp->lanes, mp->group.jobs, n);
}

/* One step of the group; when it is done, its parts' MD5s go into their
 * candidates' outer MD5s, in order.  0 while busy or done, -1 failed. */
static int step_group(hcdl_mp *mp)
{
    int k, r = hcdl_md5_lanes_step(mp->lanes, mp->fd);
    if (r > 0)
        return 0;
    mp->group.busy = 0;
    if (r < 0) {
        mp->failed = 1;
        return -1;
    }
    for (k = 0; k < mp->group.n; k++)
        if (EVP_DigestUpdate(mp->c[mp->group.owner[k]].outer, mp->group.jobs[k].md, 16) != 1) {
            mp->failed = 1;
            return -1;
        }
    return 0;
}

/* One step of the digesting the counted bytes allow: a group is started
 * when HCDL_MD5_LANES parts are ready (any, at the end).  1 when there is
 * more to do now. */
static int advance(hcdl_mp *mp, int at_end)
{
    long long need = at_end ? 1 : HCDL_MD5_LANES;
    if (mp->failed)
        return 0;
    if (!mp->group.busy) {
        if (waiting(mp, at_end) < need)
            return 0;
        start_group(mp, at_end);
    }
    step_group(mp);
    return !mp->failed && (mp->group.busy || waiting(mp, at_end) >= need);
}

/* Every group the counted bytes allow (all that is left, at the end). */
static int digest_all(hcdl_mp *mp, int at_end)
{
    while (advance(mp, at_end))
        ;
    return mp->failed ? -1 : 0;
}

void hcdl_mp_background(hcdl_mp *mp, int on)
{
    mp->background = on && mp->lanes != NULL;
}

int hcdl_mp_work(hcdl_mp *mp)
{
    return mp->lanes != NULL && advance(mp, 0);
}

int hcdl_mp_update(hcdl_mp *mp, const unsigned char *p, size_t len)
{
    int i;
    if (mp->lanes != NULL) {
        mp->fed += (long long)len; /* already in the file */
        return mp->background ? 0 : digest_all(mp, 0);
    }
    for (i = 0; i < mp->count; i++)
        if (feed(mp, &mp->c[i], p, len) != 0)
            return -1;
    return 0;
}

long long hcdl_mp_finish(hcdl_mp *mp, int *strong_tried)
{
    int i;
    long long found = 0;
    *strong_tried = 0;
    if (mp->lanes != NULL)
        digest_all(mp, 1);
    if (mp->failed) {
        *strong_tried = 1;
        return 0;
    }
    for (i = 0; i < mp->count; i++) {
        hcdl_mp_candidate *c = &mp->c[i];
        unsigned char md[EVP_MAX_MD_SIZE];
        unsigned int len = 0;
        if (mp->lanes == NULL && c->in_part > 0 && end_part(mp, c) != 0)
            continue;
        if (EVP_DigestFinal_ex(c->outer, md, &len) != 1 || len != 16)
            continue;
        if (memcmp(md, mp->want, 16) == 0 && found == 0)
            found = c->size;
        else if (c->strong)
            *strong_tried = 1;
    }
    return found;
}

void hcdl_mp_free(hcdl_mp *mp)
{
    int i;
    for (i = 0; i < mp->count; i++) {
        EVP_MD_CTX_free(mp->c[i].part);
        EVP_MD_CTX_free(mp->c[i].outer);
        mp->c[i].part = mp->c[i].outer = NULL;
    }
    mp->count = 0;
    hcdl_md5_lanes_free(mp->lanes);
    mp->lanes = NULL;
}
