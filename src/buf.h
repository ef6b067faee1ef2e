/*
 * buf.h - a growable byte buffer in the manner of lua-cjson's strbuf:
 * malloc'd, always NUL-terminated when non-empty, never touches Lua.
 */
#ifndef HCDL_BUF_H
#define HCDL_BUF_H

#include <stddef.h>

typedef struct {
    char *data;
    size_t len, cap;
} hcdl_buf;

int hcdl_buf_append(hcdl_buf *b, const char *p, size_t n); /* 0 or -1 (ENOMEM) */
/* Room for n more bytes (and the NUL) at data + len, or NULL (ENOMEM); the
 * caller writes there and then adds what it wrote to len. */
char *hcdl_buf_room(hcdl_buf *b, size_t n);
void hcdl_buf_reset(hcdl_buf *b, size_t keep);              /* frees when cap > keep */
void hcdl_buf_free(hcdl_buf *b);

#endif
