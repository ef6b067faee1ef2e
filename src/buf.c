/*
 * buf.c - see buf.h.
 */
#include <stdlib.h>
#include <string.h>

#include "buf.h"

/* A buffer's first block: an API answer's header and body (a few hundred
 * bytes each) fit, and a block this small comes from glibc's per-thread
 * cache (docs/architecture.md, "One API call, end to end", step 5).
 * Larger contents grow it by doubling. */
#define FIRST_BLOCK 512

char *hcdl_buf_grow(hcdl_buf *b, size_t n)
{
    if (n > ((size_t)-1) - b->len - 1)
        return NULL;
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : FIRST_BLOCK;
        char *q;
        while (cap < b->len + n + 1)
            cap = cap > ((size_t)-1) / 2 ? b->len + n + 1 : cap * 2;
        q = realloc(b->data, cap);
        if (q == NULL)
            return NULL;
        b->data = q;
        b->cap = cap;
    }
    return b->data + b->len;
}

void hcdl_buf_reset(hcdl_buf *b, size_t keep)
{
    b->len = 0;
    /* Don't hold on to a huge buffer after one big answer. */
    if (b->cap > keep) {
        free(b->data);
        b->data = NULL;
        b->cap = 0;
    }
}

void hcdl_buf_free(hcdl_buf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}
