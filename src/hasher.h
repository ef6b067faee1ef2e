/*
 * hasher.h - a verifier run on a thread of its own, beside the transfer.
 *
 * MD5 (a plain or a multipart ETag) runs at about the speed a loopback or
 * a fast link delivers bytes; done on the thread that receives them, the
 * two costs add up and a checked download ran at half the speed of an
 * unchecked one.  Here the receiving thread only copies each chunk into
 * one of a few fixed buffers and the hasher thread digests them in order,
 * so the download runs at the slower of the two speeds, not their sum.
 * Memory is bounded (HCDL_HASHER_BYTES); a receiver that gets ahead waits
 * for a free buffer.  Only plain bytes cross: the verifier is touched by
 * the hasher thread alone until hcdl_hasher_stop returns.  A multipart
 * ETag's parts are read back from the file on this thread (etag_mp.h), so
 * that work stays off the receiving thread too.
 */
#ifndef HCDL_HASHER_H
#define HCDL_HASHER_H

#include <stddef.h>

#include "verifier.h"

#define HCDL_HASHER_SLOTS 4
#define HCDL_HASHER_SLOT (256 * 1024)
#define HCDL_HASHER_BYTES (HCDL_HASHER_SLOTS * HCDL_HASHER_SLOT)

typedef struct hcdl_hasher hcdl_hasher;

/* Starts feeding v on a new thread (signals blocked): the hasher, or NULL
 * when memory or a thread could not be had (the caller then feeds v
 * itself). */
hcdl_hasher *hcdl_hasher_start(hcdl_verifier *v);

/* Hands over a copy of n bytes, waiting for a free buffer: 0, or -1 once
 * a digest has failed. */
int hcdl_hasher_feed(hcdl_hasher *h, const unsigned char *p, size_t n);

/* Digests what is left, ends the thread and frees h: 0, or -1 when a
 * digest failed.  v is the caller's again. */
int hcdl_hasher_stop(hcdl_hasher *h);

#endif
