/*
 * method.c - the method/body rule (see method.h).
 *
 * A GET (or HEAD) with no body bytes is sent bare: no Content-Length, no
 * Content-Type from libcurl.  Every other request carries its body and a
 * Content-Length, "Content-Length: 0" when the body is empty: a POST or
 * PUT without a length may be refused (411 Length Required) by a server or
 * a proxy on the way, and the ECS metadata service's token PUT and the
 * API's POSTs without parameters are exactly such requests.  A GET with
 * body bytes sends them (no API of hcdl does; a caller of core.engine may).
 *
 * The body that is signed is the body sent: api_build.c signs "" for an API call
 * without body parameters, GET or POST, and "" is what goes out (nothing,
 * or zero bytes).
 */
#include <string.h>

#include "method.h"

hcdl_send hcdl_method_send(const char *method, size_t body_len)
{
    if (strcmp(method, "HEAD") == 0)
        return HCDL_SEND_HEAD;
    if (strcmp(method, "GET") == 0 && body_len == 0)
        return HCDL_SEND_NONE;
    return HCDL_SEND_BODY;
}
