/*
 * crc.c - see crc.h.
 */
#include <string.h>

#include <zlib.h>

#include "crc.h"

#ifdef HCDL_HAVE_ISAL
#include <isa-l/crc.h>
#include <isa-l/crc64.h>
#endif

/* Reflected polynomials. */
#define POLY_ECMA_REFL 0xC96C5795D7870F42ULL
#define POLY_JONES_REFL 0x95AC9329AC4BC9B5ULL

void hcdl_crc64_tables_init(hcdl_crc64_tables *tab, int kind)
{
    uint64_t poly = kind == HCDL_CRC64_JONES ? POLY_JONES_REFL : POLY_ECMA_REFL;
    int i, k, s;
    for (i = 0; i < 256; i++) {
        uint64_t c = (uint64_t)i;
        for (k = 0; k < 8; k++)
            c = (c & 1) ? (c >> 1) ^ poly : c >> 1;
        tab->t[0][i] = c;
    }
    for (i = 0; i < 256; i++)
        for (s = 1; s < 8; s++)
            tab->t[s][i] = (tab->t[s - 1][i] >> 8) ^ tab->t[0][tab->t[s - 1][i] & 0xff];
}

/* Slicing-by-8 over the raw register (no inversion). */
static uint64_t crc64_raw(const hcdl_crc64_tables *tab, uint64_t c, const unsigned char *p, size_t n)
{
    while (n >= 8) {
        uint64_t w;
        int i;
        w = 0;
        for (i = 7; i >= 0; i--)
            w = (w << 8) | p[i]; /* little-endian load, any host */
        c ^= w;
        c = tab->t[7][c & 0xff] ^ tab->t[6][(c >> 8) & 0xff] ^ tab->t[5][(c >> 16) & 0xff] ^
            tab->t[4][(c >> 24) & 0xff] ^ tab->t[3][(c >> 32) & 0xff] ^ tab->t[2][(c >> 40) & 0xff] ^
            tab->t[1][(c >> 48) & 0xff] ^ tab->t[0][c >> 56];
        p += 8;
        n -= 8;
    }
    while (n-- > 0)
        c = tab->t[0][(c ^ *p++) & 0xff] ^ (c >> 8);
    return c;
}

uint64_t hcdl_crc64_portable(int kind, const hcdl_crc64_tables *tab, uint64_t crc, const void *buf, size_t n)
{
    if (kind == HCDL_CRC64_JONES)
        return crc64_raw(tab, crc, buf, n);
    return ~crc64_raw(tab, ~crc, buf, n);
}

uint64_t hcdl_crc64(int kind, const hcdl_crc64_tables *tab, uint64_t crc, const void *buf, size_t n)
{
#ifdef HCDL_HAVE_ISAL
    (void)tab;
    /* ISA-L inverts the register on the way in and out (the XZ form);
     * Redis's Jones CRC does not, so undo it. */
    if (kind == HCDL_CRC64_JONES)
        return ~crc64_jones_refl(~crc, buf, (uint64_t)n);
    return crc64_ecma_refl(crc, buf, (uint64_t)n);
#else
    return hcdl_crc64_portable(kind, tab, crc, buf, n);
#endif
}

/* ---- combination: the register after len zero bytes is a linear map of
 * the register before; apply it by squaring a GF(2) matrix (64 x 64). ---- */

static uint64_t gf2_times(const uint64_t *mat, uint64_t vec)
{
    uint64_t sum = 0;
    int i = 0;
    while (vec) {
        if (vec & 1)
            sum ^= mat[i];
        vec >>= 1;
        i++;
    }
    return sum;
}

static void gf2_square(uint64_t *sq, const uint64_t *mat)
{
    int i;
    for (i = 0; i < 64; i++)
        sq[i] = gf2_times(mat, mat[i]);
}

uint64_t hcdl_crc64_xz_combine(uint64_t crc_a, uint64_t crc_b, uint64_t len_b)
{
    uint64_t even[64], odd[64], row = 1;
    int i;
    if (len_b == 0)
        return crc_a;
    odd[0] = POLY_ECMA_REFL; /* the operator for one zero bit */
    for (i = 1; i < 64; i++) {
        odd[i] = row;
        row <<= 1;
    }
    gf2_square(even, odd); /* two zero bits */
    gf2_square(odd, even); /* four */
    do {
        gf2_square(even, odd); /* first pass: one zero byte */
        if (len_b & 1)
            crc_a = gf2_times(even, crc_a);
        len_b >>= 1;
        if (len_b == 0)
            break;
        gf2_square(odd, even);
        if (len_b & 1)
            crc_a = gf2_times(odd, crc_a);
        len_b >>= 1;
    } while (len_b != 0);
    return crc_a ^ crc_b;
}

uint32_t hcdl_crc32(uint32_t crc, const void *buf, size_t n)
{
#ifdef HCDL_HAVE_ISAL
    return crc32_gzip_refl(crc, buf, (uint64_t)n);
#else
    const unsigned char *p = buf;
    /* zlib's length is a uInt: feed it in slices that fit */
    while (n > 0) {
        uInt k = n > 0x40000000u ? 0x40000000u : (uInt)n;
        crc = (uint32_t)crc32((uLong)crc, p, k);
        p += k;
        n -= k;
    }
    return crc;
#endif
}

const char *hcdl_crc_impl(void)
{
#ifdef HCDL_HAVE_ISAL
    return "isa-l";
#else
    return "portable";
#endif
}
