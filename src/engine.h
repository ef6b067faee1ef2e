/*
 * engine.h - the transfer engine: a curl multi handle driven by a thread the
 * engine owns, so the host's thread never blocks on the network.
 *
 * The host (a script, an nginx worker, Neovim's main loop) starts transfers
 * and gets a ticket for each; it then waits however its loop waits: a plain
 * script blocks on ticket:wait(seconds), an event loop polls ticket:ready()
 * between its own sleeps.  Only plain values cross between the threads
 * (transfer specs are copied in, results copied out); the worker never
 * touches Lua.  API calls and downloads share the engine's connection pool.
 *
 * Lifetime: the worker starts on the first transfer and ends after a short
 * idle time; engine:close() or the engine's collection cancels what is
 * running and joins the thread, so nothing outlives its owner.
 */
#ifndef HCDL_ENGINE_H
#define HCDL_ENGINE_H

#include <lua.h>

#include "transfer.h"

void hcdl_engine_init(lua_State *L);

/* Describes a transfer into the zeroed t: 0, or pushes nil, err and
 * returns 2 (raising is allowed: the ticket owns t already). */
typedef int (*hcdl_fill_fn)(lua_State *L, hcdl_transfer *t, void *ud);

/* What engine:start does, for a transfer fill() describes: pushes a ticket
 * (returns 1) or nil, err (2).  tag stays with the ticket for its reader. */
int hcdl_engine_submit(lua_State *L, int engine_idx, hcdl_fill_fn fill, void *ud,
                       const void *tag);

/* The finished transfer of the ticket at idx (NULL while it runs) and its
 * tag; raises when idx is no ticket or its result was taken. */
hcdl_transfer *hcdl_ticket_transfer(lua_State *L, int idx, const void **tag);

/* Frees the ticket's finished transfer: its result is taken. */
void hcdl_ticket_spend(lua_State *L, int idx);

/* Lua: core.engine(net_options) -> engine | nil, err */
int hcdl_engine_new(lua_State *L);

/* Lua: core.pid() -> the process id (a client must not cross a fork) */
int hcdl_engine_pid(lua_State *L);

/* A task (task.h) that ends on its own thread can wake the host waiting in
 * engine:wait, as a finished transfer does, so the host need not poll the
 * task: hcdl_engine_hold(L, idx) takes a reference to the engine at stack
 * index idx (raises if it is not an open engine); hcdl_engine_wake(h), from
 * any thread, moves engine:events() on and wakes its waiters;
 * hcdl_engine_release(h) drops the reference (NULL: nothing). */
typedef struct hcdl_engine_hold hcdl_engine_hold_t;
hcdl_engine_hold_t *hcdl_engine_hold(lua_State *L, int idx);
void hcdl_engine_wake(hcdl_engine_hold_t *h);
void hcdl_engine_release(hcdl_engine_hold_t *h);

#endif
