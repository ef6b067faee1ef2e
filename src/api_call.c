/*
 * api_call.c - one API request in one crossing of the Lua/C boundary each
 * way (see api.h):
 *
 *   core.call(engine, api, params, auth, timeout, max_body) -> ticket | nil, err
 *       builds and signs the request in C (src/api_build.c) and hands it
 *       to the engine (src/engine.c), with no Lua table in between;
 *   core.answer(ticket) -> data | nil, err, request
 *       reads the finished transfer in C (status, X-Request-Id,
 *       Retry-After, body) and returns what core.parse returns.
 *
 * The host waits for the ticket in between as it waits for any transfer
 * (lua/hcdl/transport.lua), so nginx and Neovim never block.  On failure
 * `request` is { headers = ... } as sent, so that the caller can mask the
 * signature and tokens in what the service echoes (lua/hcdl/redact.lua).
 */
#include <string.h>

#include <lauxlib.h>

#include "api.h"
#include "api_build.h"
#include "compat.h"
#include "engine.h"
#include "error.h"
#include "transfer.h"

typedef struct {
    hcdl_api_request rq;
    double timeout;
    long long max_body;
} call_fill;

static int fill_api_request(lua_State *L, hcdl_transfer *t, void *ud)
{
    const call_fill *f = ud;
    const hcdl_api_request *rq = &f->rq;
    hcdl_transfer_call c;
    c.url = rq->url.s;
    c.url_len = rq->url.n;
    c.method = rq->api->method;
    c.body = rq->body.s;
    c.body_len = rq->body.n;
    c.headers = rq->headers;
    c.nheaders = rq->nheaders;
    c.timeout = f->timeout;
    c.max_body = f->max_body;
    if (hcdl_transfer_request(t, &c) != 0)
        return luaL_error(L, "hcdl: out of memory");
    return 0;
}

/* core.call(engine, api, params, auth, timeout, max_body); upvalue 1: the
 * signer's crypto context. */
int hcdl_api_call_lua(lua_State *L)
{
    hcdl_crypto *c = lua_touserdata(L, lua_upvalueindex(1));
    const api_desc *a = hcdl_api_check(L, 2);
    call_fill f;
    int rc;

    lua_settop(L, 6);
    hcdl_api_check_args(L, 3, 4);
    f.timeout = luaL_optnumber(L, 5, 0);
    f.max_body = (long long)luaL_optnumber(L, 6, 0);
    if ((rc = hcdl_api_prepare(L, c, a, 3, 4, &f.rq)) != 0)
        return rc;
    return hcdl_engine_submit(L, 1, fill_api_request, &f, a);
}

/* Pushes the header as a Lua string (kept on the stack: alive) or nil;
 * returns its text or NULL. */
static const char *push_header(lua_State *L, const hcdl_transfer *t, const char *name)
{
    size_t n;
    const char *v = hcdl_transfer_header(t, name, &n);
    if (v == NULL) {
        lua_pushnil(L);
        return NULL;
    }
    lua_pushlstring(L, v, n);
    return lua_tostring(L, -1);
}

/* core.answer(ticket); upvalue 1: the private JSON decoder. */
int hcdl_api_answer_lua(lua_State *L)
{
    const void *tag;
    hcdl_transfer *t = hcdl_ticket_transfer(L, 1, &tag);
    hcdl_api_answer in;
    int n;

    if (t == NULL)
        return luaL_error(L, "hcdl: core.answer: the transfer has not finished");
    if (tag == NULL)
        return luaL_argerror(L, 1, "not the ticket of core.call");
    lua_settop(L, 1);
    if (hcdl_transfer_push_error(L, t)) {
        lua_pushnil(L);
        lua_insert(L, -2);
        n = 2;
    } else {
        in.status = t->status;
        in.body = t->body_in.data != NULL ? t->body_in.data : "";
        in.body_len = t->body_in.len;
        in.request_id = push_header(L, t, "x-request-id");
        in.retry_after = push_header(L, t, "retry-after");
        n = hcdl_api_answer_push(L, (const api_desc *)tag, lua_upvalueindex(1), &in);
    }
    if (n == 2) {
        hcdl_transfer_push_request(L, t);
        n = 3;
    }
    hcdl_ticket_spend(L, 1);
    return n;
}
