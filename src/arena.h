/*
 * arena.h - scratch memory for one C call that can never leak.
 *
 * A lua_CFunction may be interrupted by a Lua error (a memory error while
 * pushing a string, say) at many points; memory from malloc held at that
 * moment would leak.  An arena hands out memory from a buffer on the C stack
 * first and, when that is used up, from Lua userdata kept alive by an anchor
 * table on the Lua stack.  Whatever happens, the C stack unwinds and the
 * garbage collector takes the userdata: no free() on any path.
 */
#ifndef HCDL_ARENA_H
#define HCDL_ARENA_H

#include <stddef.h>

#include <lua.h>

#define HCDL_ARENA_INLINE 4096

typedef struct {
    lua_State *L;
    int anchor;       /* absolute stack index of the anchor table */
    int anchored;     /* userdata blocks stored in the anchor so far */
    char *base;
    size_t used, cap;
    union {           /* aligned inline storage */
        char bytes[HCDL_ARENA_INLINE];
        double align_d;
        void *align_p;
        long long align_ll;
    } inline_buf;
} hcdl_arena;

/* Pushes the anchor slot onto the Lua stack (it must stay there). */
void hcdl_arena_init(hcdl_arena *a, lua_State *L);

/* Returns n bytes aligned for any type; raises a Lua memory error on OOM. */
void *hcdl_arena_alloc(hcdl_arena *a, size_t n);

#endif
