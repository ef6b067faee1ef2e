/*
 * method.h - whether a request carries a body: decided here once, for
 * every request hcdl sends (API calls, credential fetches, downloads; all
 * go through src/transfer.c).
 */
#ifndef HCDL_METHOD_H
#define HCDL_METHOD_H

#include <stddef.h>

typedef enum {
    HCDL_SEND_NONE, /* no body, no Content-Length (GET, and HEAD's answer has none) */
    HCDL_SEND_HEAD, /* HEAD: no body asked for in the answer either */
    HCDL_SEND_BODY  /* the body, with Content-Length (0 when it is empty) */
} hcdl_send;

/*
 * How to send `method` with a body of body_len bytes (0: none or empty,
 * which are the same thing on the wire).
 */
hcdl_send hcdl_method_send(const char *method, size_t body_len);

#endif
