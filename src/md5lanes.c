/*
 * md5lanes.c - see md5lanes.h.
 *
 * The scheduler gives each lane a job; every round digests, in all eight
 * lanes, as many 64-byte blocks as the emptiest lane buffer holds.  A lane
 * whose range is read to its end carries MD5's padding (0x80, zeros, the
 * bit length) in its buffer, so padding goes through the same code as the
 * data.  A lane with no job digests a block of zeros nobody reads.
 */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "md5lanes.h"

#if defined(__GNUC__) && defined(__x86_64__)
#define HAVE_AVX2_LANES 1
#include <immintrin.h>
#endif

/* room for MD5's padding after a full buffer */
#define PAD 128
#define LANE_BYTES (HCDL_MD5_LANE_BUF + PAD)

#define LANES_ARGS                                                                     \
    uint32_t st[4][HCDL_MD5_LANES], const unsigned char *base,                         \
    const int32_t off[HCDL_MD5_LANES], size_t blocks

typedef void (*md5x8_fn)(LANES_ARGS);

typedef struct {
    const char *name;
    md5x8_fn digest;
    int (*cpu_has)(void);
} lanes_impl;

typedef struct {
    int job;                 /* -1: idle */
    long long pos;           /* bytes of the range read so far */
    size_t cur, end;         /* the unread part of the buffer */
    int last;                /* the buffer ends with the padding */
} lane;

struct hcdl_md5_lanes {
    md5x8_fn digest;
    hcdl_md5_job *jobs;      /* the caller's, until the last is digested */
    int n, next;
    unsigned char *mem;      /* a zero region, then one buffer per lane */
    uint32_t st[4][HCDL_MD5_LANES];
    lane l[HCDL_MD5_LANES];
};

#ifdef HAVE_AVX2_LANES

/* MD5's constants, each repeated for the eight lanes: one load, no
 * broadcast, in every step. */
#define K8(x) {x, x, x, x, x, x, x, x}
static const uint32_t K[64][8] = {
    K8(0xd76aa478U), K8(0xe8c7b756U),
    K8(0x242070dbU), K8(0xc1bdceeeU),
    K8(0xf57c0fafU), K8(0x4787c62aU),
    K8(0xa8304613U), K8(0xfd469501U),
    K8(0x698098d8U), K8(0x8b44f7afU),
    K8(0xffff5bb1U), K8(0x895cd7beU),
    K8(0x6b901122U), K8(0xfd987193U),
    K8(0xa679438eU), K8(0x49b40821U),
    K8(0xf61e2562U), K8(0xc040b340U),
    K8(0x265e5a51U), K8(0xe9b6c7aaU),
    K8(0xd62f105dU), K8(0x02441453U),
    K8(0xd8a1e681U), K8(0xe7d3fbc8U),
    K8(0x21e1cde6U), K8(0xc33707d6U),
    K8(0xf4d50d87U), K8(0x455a14edU),
    K8(0xa9e3e905U), K8(0xfcefa3f8U),
    K8(0x676f02d9U), K8(0x8d2a4c8aU),
    K8(0xfffa3942U), K8(0x8771f681U),
    K8(0x6d9d6122U), K8(0xfde5380cU),
    K8(0xa4beea44U), K8(0x4bdecfa9U),
    K8(0xf6bb4b60U), K8(0xbebfbc70U),
    K8(0x289b7ec6U), K8(0xeaa127faU),
    K8(0xd4ef3085U), K8(0x04881d05U),
    K8(0xd9d4d039U), K8(0xe6db99e5U),
    K8(0x1fa27cf8U), K8(0xc4ac5665U),
    K8(0xf4292244U), K8(0x432aff97U),
    K8(0xab9423a7U), K8(0xfc93a039U),
    K8(0x655b59c3U), K8(0x8f0ccc92U),
    K8(0xffeff47dU), K8(0x85845dd1U),
    K8(0x6fa87e4fU), K8(0xfe2ce6e0U),
    K8(0xa3014314U), K8(0x4e0811a1U),
    K8(0xf7537e82U), K8(0xbd3af235U),
    K8(0x2ad7d2bbU), K8(0xeb86d391U),
};

#define ADD(x, y) _mm256_add_epi32((x), (y))
#define XOR(x, y) _mm256_xor_si256((x), (y))
#define STEP(f, a, b, c, d, j, i, s)                                                   \
    a = ADD(a, ADD(f(b, c, d), ADD(m[j], _mm256_loadu_si256((const __m256i *)(const void *)K[i])))); \
    a = ADD(ROTL(a, s), b)
#define R4(f, i, j0, j1, j2, j3, s0, s1, s2, s3)                                       \
    STEP(f, a, b, c, d, j0, i, s0);                                                    \
    STEP(f, d, a, b, c, j1, i + 1, s1);                                                \
    STEP(f, c, d, a, b, j2, i + 2, s2);                                                \
    STEP(f, b, c, d, a, j3, i + 3, s3)

/* Words [first, first + 8) of each lane's block, as m[j] = word j of
 * every lane: eight row loads and a transpose (faster than gathers). */
#define LOAD_WORDS(m, p, first)                                                        \
    do {                                                                               \
        __m256i r_[8], t_[8], u_[8];                                                   \
        int k_;                                                                        \
        for (k_ = 0; k_ < 8; k_++)                                                     \
            r_[k_] = _mm256_loadu_si256((const __m256i *)(const void *)(p[k_] + 4 * (first))); \
        for (k_ = 0; k_ < 8; k_ += 2) {                                                \
            t_[k_] = _mm256_unpacklo_epi32(r_[k_], r_[k_ + 1]);                        \
            t_[k_ + 1] = _mm256_unpackhi_epi32(r_[k_], r_[k_ + 1]);                    \
        }                                                                              \
        for (k_ = 0; k_ < 8; k_ += 4) {                                                \
            u_[k_] = _mm256_unpacklo_epi64(t_[k_], t_[k_ + 2]);                        \
            u_[k_ + 1] = _mm256_unpackhi_epi64(t_[k_], t_[k_ + 2]);                    \
            u_[k_ + 2] = _mm256_unpacklo_epi64(t_[k_ + 1], t_[k_ + 3]);                \
            u_[k_ + 3] = _mm256_unpackhi_epi64(t_[k_ + 1], t_[k_ + 3]);                \
        }                                                                              \
        for (k_ = 0; k_ < 4; k_++) {                                                   \
            m[(first) + k_] = _mm256_permute2x128_si256(u_[k_], u_[k_ + 4], 0x20);     \
            m[(first) + k_ + 4] = _mm256_permute2x128_si256(u_[k_], u_[k_ + 4], 0x31); \
        }                                                                              \
    } while (0)

/* blocks x 64 bytes in each lane: lane k's at base + off[k], then on.
 * One body, compiled once per instruction set (ROTL and F1-F4 differ). */
#define MD5X8_BODY                                                                     \
    const __m256i ones = _mm256_set1_epi32(-1);                                        \
    const unsigned char *p[HCDL_MD5_LANES];                                            \
    __m256i a = _mm256_loadu_si256((const __m256i *)(void *)st[0]);                    \
    __m256i b = _mm256_loadu_si256((const __m256i *)(void *)st[1]);                    \
    __m256i c = _mm256_loadu_si256((const __m256i *)(void *)st[2]);                    \
    __m256i d = _mm256_loadu_si256((const __m256i *)(void *)st[3]);                    \
    int k;                                                                             \
    (void)ones;                                                                        \
    for (k = 0; k < HCDL_MD5_LANES; k++)                                               \
        p[k] = base + off[k];                                                          \
    for (; blocks > 0; blocks--) {                                                     \
        __m256i m[16], a0 = a, b0 = b, c0 = c, d0 = d;                                 \
        LOAD_WORDS(m, p, 0);                                                           \
        LOAD_WORDS(m, p, 8);                                                           \
        for (k = 0; k < HCDL_MD5_LANES; k++)                                           \
            p[k] += 64;                                                                \
        R4(F1, 0, 0, 1, 2, 3, 7, 12, 17, 22);                                          \
        R4(F1, 4, 4, 5, 6, 7, 7, 12, 17, 22);                                          \
        R4(F1, 8, 8, 9, 10, 11, 7, 12, 17, 22);                                        \
        R4(F1, 12, 12, 13, 14, 15, 7, 12, 17, 22);                                     \
        R4(F2, 16, 1, 6, 11, 0, 5, 9, 14, 20);                                         \
        R4(F2, 20, 5, 10, 15, 4, 5, 9, 14, 20);                                        \
        R4(F2, 24, 9, 14, 3, 8, 5, 9, 14, 20);                                         \
        R4(F2, 28, 13, 2, 7, 12, 5, 9, 14, 20);                                        \
        R4(F3, 32, 5, 8, 11, 14, 4, 11, 16, 23);                                       \
        R4(F3, 36, 1, 4, 7, 10, 4, 11, 16, 23);                                        \
        R4(F3, 40, 13, 0, 3, 6, 4, 11, 16, 23);                                        \
        R4(F3, 44, 9, 12, 15, 2, 4, 11, 16, 23);                                       \
        R4(F4, 48, 0, 7, 14, 5, 6, 10, 15, 21);                                        \
        R4(F4, 52, 12, 3, 10, 1, 6, 10, 15, 21);                                       \
        R4(F4, 56, 8, 15, 6, 13, 6, 10, 15, 21);                                       \
        R4(F4, 60, 4, 11, 2, 9, 6, 10, 15, 21);                                        \
        a = ADD(a, a0);                                                                \
        b = ADD(b, b0);                                                                \
        c = ADD(c, c0);                                                                \
        d = ADD(d, d0);                                                                \
    }                                                                                  \
    _mm256_storeu_si256((__m256i *)(void *)st[0], a);                                  \
    _mm256_storeu_si256((__m256i *)(void *)st[1], b);                                  \
    _mm256_storeu_si256((__m256i *)(void *)st[2], c);                                  \
    _mm256_storeu_si256((__m256i *)(void *)st[3], d)

/* AVX2: rotation as two shifts, the round functions as and/or/xor. */
#define ROTL(x, s) _mm256_or_si256(_mm256_slli_epi32((x), (s)), _mm256_srli_epi32((x), 32 - (s)))
#define F1(b, c, d) XOR((d), _mm256_and_si256((b), XOR((c), (d))))
#define F2(b, c, d) XOR((c), _mm256_and_si256((d), XOR((b), (c))))
#define F3(b, c, d) XOR(XOR((b), (c)), (d))
#define F4(b, c, d) XOR((c), _mm256_or_si256((b), XOR((d), ones)))
__attribute__((target("avx2"))) static void md5x8_avx2(LANES_ARGS)
{
    MD5X8_BODY;
}
#undef ROTL
#undef F1
#undef F2
#undef F3
#undef F4

/* AVX-512VL on the same 8 lanes: one rotate, and each round function is
 * one ternary-logic op (its truth table as the immediate). */
#define ROTL(x, s) _mm256_rol_epi32((x), (s))
#define F1(b, c, d) _mm256_ternarylogic_epi32((b), (c), (d), 0xca) /* b ? c : d */
#define F2(b, c, d) _mm256_ternarylogic_epi32((b), (c), (d), 0xe4) /* d ? b : c */
#define F3(b, c, d) _mm256_ternarylogic_epi32((b), (c), (d), 0x96) /* b ^ c ^ d */
#define F4(b, c, d) _mm256_ternarylogic_epi32((b), (c), (d), 0x39) /* c ^ (b | ~d) */
__attribute__((target("avx2,avx512f,avx512vl"))) static void md5x8_avx512(LANES_ARGS)
{
    MD5X8_BODY;
}
#undef ROTL
#undef F1
#undef F2
#undef F3
#undef F4

static int has_avx512vl(void)
{
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl");
}

static int has_avx2(void)
{
    return __builtin_cpu_supports("avx2");
}

/* fastest first */
static const lanes_impl impls[] = {
    {"avx512vl-x8", md5x8_avx512, has_avx512vl},
    {"avx2-x8", md5x8_avx2, has_avx2},
};
#define IMPLS (sizeof impls / sizeof impls[0])

#else

static const lanes_impl impls[1] = {{NULL, NULL, NULL}};
#define IMPLS 0

#endif

/* The named implementation (NULL: the fastest) if this CPU has it. */
static const lanes_impl *impl_of(const char *name)
{
    size_t i;
    for (i = 0; i < IMPLS; i++)
        if ((name == NULL || strcmp(name, impls[i].name) == 0) && impls[i].cpu_has())
            return &impls[i];
    return NULL;
}

int hcdl_md5_lanes_usable(void)
{
    return impl_of(NULL) != NULL;
}

const char *hcdl_md5_lanes_name(void)
{
    const lanes_impl *best = impl_of(NULL);
    return best != NULL ? best->name : "openssl";
}

hcdl_md5_lanes *hcdl_md5_lanes_new(const char *impl)
{
    const lanes_impl *use = impl_of(impl);
    hcdl_md5_lanes *w;
    if (use == NULL) {
        errno = ENOTSUP;
        return NULL;
    }
    w = calloc(1, sizeof *w);
    if (w == NULL)
        return NULL;
    w->digest = use->digest;
    w->mem = calloc(HCDL_MD5_LANES + 1, LANE_BYTES);
    if (w->mem == NULL) {
        free(w);
        return NULL;
    }
    return w;
}

void hcdl_md5_lanes_free(hcdl_md5_lanes *w)
{
    if (w == NULL)
        return;
    free(w->mem);
    free(w);
}

static unsigned char *buffer(hcdl_md5_lanes *w, int k)
{
    return w->mem + (size_t)(k + 1) * LANE_BYTES;
}

static void begin(hcdl_md5_lanes *w, int k, int job)
{
    static const uint32_t iv[4] = {0x67452301U, 0xefcdab89U, 0x98badcfeU, 0x10325476U};
    int i;
    for (i = 0; i < 4; i++)
        w->st[i][k] = iv[i];
    memset(&w->l[k], 0, sizeof w->l[k]);
    w->l[k].job = job;
}

/* MD5's padding after the range's last byte: total is the range's length. */
static void pad(unsigned char *buf, size_t *end, long long total)
{
    unsigned long long bits = (unsigned long long)total * 8;
    int i;
    buf[(*end)++] = 0x80;
    while (*end % 64 != 56)
        buf[(*end)++] = 0;
    for (i = 0; i < 8; i++)
        buf[(*end)++] = (unsigned char)(bits >> (8 * i));
}

/* Reads the lane's next piece of its range (padding after the last). */
static int refill(hcdl_md5_lanes *w, int k, int fd, const hcdl_md5_job *j)
{
    lane *l = &w->l[k];
    unsigned char *buf = buffer(w, k);
    long long left = j->len - l->pos;
    size_t want = left < HCDL_MD5_LANE_BUF ? (size_t)left : HCDL_MD5_LANE_BUF, got = 0;
    while (got < want) {
        ssize_t r = pread(fd, buf + got, want - got, (off_t)(j->off + l->pos + (long long)got));
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            if (r == 0)
                errno = EIO; /* the file is shorter than the range */
            return -1;
        }
        got += (size_t)r;
    }
    l->pos += (long long)got;
    l->cur = 0;
    l->end = got;
    if (l->pos == j->len) {
        pad(buf, &l->end, j->len);
        l->last = 1;
    }
    return 0;
}

static void store_digest(const hcdl_md5_lanes *w, int k, unsigned char md[16])
{
    int i, b;
    for (i = 0; i < 4; i++)
        for (b = 0; b < 4; b++)
            md[4 * i + b] = (unsigned char)(w->st[i][k] >> (8 * b));
}

/* One round: as many blocks as every busy lane has; 0 when all are idle. */
static int round_of(hcdl_md5_lanes *w, int fd)
{
    int32_t off[HCDL_MD5_LANES];
    size_t blocks = 0;
    int k, busy = 0;
    for (k = 0; k < HCDL_MD5_LANES; k++) {
        lane *l = &w->l[k];
        off[k] = 0; /* the zero region */
        if (l->job < 0)
            continue;
        if (l->cur == l->end && refill(w, k, fd, &w->jobs[l->job]) != 0)
            return -1;
        off[k] = (int32_t)((buffer(w, k) + l->cur) - w->mem);
        if (busy++ == 0 || (l->end - l->cur) / 64 < blocks)
            blocks = (l->end - l->cur) / 64;
    }
    if (busy == 0)
        return 0;
    w->digest(w->st, w->mem, off, blocks);
    for (k = 0; k < HCDL_MD5_LANES; k++) {
        lane *l = &w->l[k];
        if (l->job < 0)
            continue;
        l->cur += blocks * 64;
        if (l->cur == l->end && l->last) {
            store_digest(w, k, w->jobs[l->job].md);
            if (w->next < w->n)
                begin(w, k, w->next++);
            else
                l->job = -1;
        }
    }
    return 1;
}

void hcdl_md5_lanes_start(hcdl_md5_lanes *w, hcdl_md5_job *jobs, int n)
{
    int k;
    w->jobs = jobs;
    w->n = n;
    w->next = 0;
    for (k = 0; k < HCDL_MD5_LANES; k++) {
        if (w->next < n)
            begin(w, k, w->next++);
        else
            w->l[k].job = -1;
    }
}

int hcdl_md5_lanes_step(hcdl_md5_lanes *w, int fd)
{
    return round_of(w, fd);
}

int hcdl_md5_lanes_run(hcdl_md5_lanes *w, int fd, hcdl_md5_job *jobs, int n)
{
    int r;
    hcdl_md5_lanes_start(w, jobs, n);
    while ((r = round_of(w, fd)) > 0)
        ;
    return r;
}
