/*
 * buf.h - a growable byte buffer in the manner of lua-cjson's strbuf:
 * malloc'd, always NUL-terminated when non-empty, never touches Lua.
 */
#ifndef HCDL_BUF_H
#define HCDL_BUF_H

#include <stddef.h>
#include <string.h>

typedef struct {
    char *data;
    size_t len, cap;
} hcdl_buf;

/* The slow path of hcdl_buf_room: grows the buffer. */
char *hcdl_buf_grow(hcdl_buf *b, size_t n);

/* Room for n more bytes (and the NUL) at data + len, or NULL (ENOMEM); the
 * caller writes there and then adds what it wrote to len.  Inline: the
 * signer appends a few bytes at a time, and the room is nearly always
 * there already. */
static inline char *hcdl_buf_room(hcdl_buf *b, size_t n)
{
    if (b->len < b->cap && n < b->cap - b->len)
        return b->data + b->len;
    return hcdl_buf_grow(b, n);
}

/* Appends n bytes: 0, or -1 (ENOMEM). */
static inline int hcdl_buf_append(hcdl_buf *b, const char *p, size_t n)
{
    char *q = hcdl_buf_room(b, n);
    if (q == NULL)
        return -1;
    memcpy(q, p, n);
    b->len += n;
    b->data[b->len] = '\0';
    return 0;
}
void hcdl_buf_reset(hcdl_buf *b, size_t keep);              /* frees when cap > keep */
void hcdl_buf_free(hcdl_buf *b);

#endif
