/*
 * crc.h - the CRCs hcdl checks downloads with:
 *   CRC-64/XZ   (ECMA-182 reflected, register and xor-out all ones): the
 *               object store's x-obs-hash-crc64ecma value;
 *   CRC-64/Jones as Redis computes it (reflected, init 0, no xor-out): the
 *               trailer of an RDB file;
 *   CRC-32      (zlib's): xbstream payload chunks.
 * All take the CRC so far (0 to start) and return it updated, like zlib's
 * crc32().  ISA-L's SIMD code is used when the build found it
 * (HCDL_HAVE_ISAL); the portable slicing-by-8 tables are always compiled,
 * so tests check both against the same check values.
 */
#ifndef HCDL_CRC_H
#define HCDL_CRC_H

#include <stddef.h>
#include <stdint.h>

enum { HCDL_CRC64_XZ, HCDL_CRC64_JONES };

/* Portable tables for one reflected 64-bit polynomial (16 KiB). */
typedef struct {
    uint64_t t[8][256];
} hcdl_crc64_tables;

void hcdl_crc64_tables_init(hcdl_crc64_tables *tab, int kind);

/* The build's choice: ISA-L when present (tab may then be NULL), else the
 * tables (tab required). */
uint64_t hcdl_crc64(int kind, const hcdl_crc64_tables *tab, uint64_t crc, const void *buf, size_t n);

/* The portable implementation, whatever the build chose. */
uint64_t hcdl_crc64_portable(int kind, const hcdl_crc64_tables *tab, uint64_t crc, const void *buf, size_t n);

/* CRC-64/XZ of A followed by B, from crc(A), crc(B) and len(B): ranges
 * downloaded in parallel give one CRC for the whole object. */
uint64_t hcdl_crc64_xz_combine(uint64_t crc_a, uint64_t crc_b, uint64_t len_b);

uint32_t hcdl_crc32(uint32_t crc, const void *buf, size_t n);

/* "isa-l" or "portable" */
const char *hcdl_crc_impl(void);

#endif
