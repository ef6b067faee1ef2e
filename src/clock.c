/*
 * clock.c - a monotonic clock and a sleep, which plain Lua lacks and every
 * wait (retry backoff, polling) needs.  Hosts with an event loop replace
 * both through the transport table (ngx.sleep, vim timers).
 */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <time.h>

#include <lauxlib.h>

#include "clock.h"

/* core.now() -> seconds (float) on a monotonic clock */
int hcdl_clock_now(lua_State *L)
{
    struct timespec ts;
    if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0)
        return luaL_error(L, "hcdl: the monotonic clock cannot be read");
    lua_pushnumber(L, (lua_Number)ts.tv_sec + (lua_Number)ts.tv_nsec / 1e9);
    return 1;
}

/* core.sleep(seconds): blocks this thread; resumes after signals. */
int hcdl_clock_sleep(lua_State *L)
{
    lua_Number s = luaL_checknumber(L, 1);
    struct timespec req, rem;
    if (!(s > 0))
        return 0;
    if (s > 86400.0 * 365)
        return luaL_argerror(L, 1, "sleep longer than a year");
    req.tv_sec = (time_t)s;
    req.tv_nsec = (long)((s - (lua_Number)req.tv_sec) * 1e9);
    if (req.tv_nsec >= 1000000000L)
        req.tv_nsec = 999999999L;
    while (nanosleep(&req, &rem) != 0 && errno == EINTR)
        req = rem;
    return 0;
}
