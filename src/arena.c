/*
 * arena.c - scratch memory that cannot leak (see arena.h).
 */
#include <lauxlib.h>

#include "arena.h"

#define ARENA_ALIGN 16
#define ARENA_BLOCK 16384

void hcdl_arena_init(hcdl_arena *a, lua_State *L)
{
    a->L = L;
    /* A slot on the stack; the anchor table is made only when needed. */
    lua_pushnil(L);
    a->anchor = lua_gettop(L);
    a->anchored = 0;
    a->base = a->inline_buf.bytes;
    a->used = 0;
    a->cap = sizeof a->inline_buf.bytes;
}

void *hcdl_arena_alloc(hcdl_arena *a, size_t n)
{
    void *p;
    size_t block;

    if (n > ((size_t)-1) - ARENA_ALIGN)
        luaL_error(a->L, "hcdl: allocation too large");
    n = (n + ARENA_ALIGN - 1) & ~(size_t)(ARENA_ALIGN - 1);
    if (n == 0)
        n = ARENA_ALIGN;
    if (a->cap - a->used >= n) {
        p = a->base + a->used;
        a->used += n;
        return p;
    }
    /* New block: big requests get a block of their own size. */
    block = n > ARENA_BLOCK ? n : ARENA_BLOCK;
    if (a->anchored == 0) {
        lua_newtable(a->L);
        lua_replace(a->L, a->anchor);
    }
    p = lua_newuserdata(a->L, block);
    lua_rawseti(a->L, a->anchor, ++a->anchored);
    a->base = p;
    a->cap = block;
    a->used = n;
    return p;
}
