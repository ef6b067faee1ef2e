/*
 * clock.c - a monotonic clock and a sleep, which plain Lua lacks and every
 * wait (retry backoff, polling) needs.  Hosts with an event loop replace
 * both through the transport table (ngx.sleep, vim timers).  Also the
 * calendar arithmetic the signer (X-Sdk-Date) and the API time parameters
 * share.
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

/* Blocks this thread for s seconds (none when s <= 0), resuming after
 * signals. */
void hcdl_sleep(double s)
{
    struct timespec req, rem;
    if (!(s > 0))
        return;
    req.tv_sec = (time_t)s;
    req.tv_nsec = (long)((s - (double)req.tv_sec) * 1e9);
    if (req.tv_nsec >= 1000000000L)
        req.tv_nsec = 999999999L;
    while (nanosleep(&req, &rem) != 0 && errno == EINTR)
        req = rem;
}

/* core.sleep(seconds): blocks this thread; resumes after signals. */
int hcdl_clock_sleep(lua_State *L)
{
    lua_Number s = luaL_checknumber(L, 1);
    if (s > 86400.0 * 365)
        return luaL_argerror(L, 1, "sleep longer than a year");
    hcdl_sleep(s);
    return 0;
}

/* Civil date of a day count since 1970-01-01 (proleptic Gregorian; Howard
 * Hinnant's algorithm), and its inverse.  Pure arithmetic: no locale, no
 * time-zone lock. */
void hcdl_civil_from_days(long long z, int *y, int *m, int *d)
{
    long long era, yoe, doy, mp, yy;
    z += 719468;
    era = (z >= 0 ? z : z - 146096) / 146097;
    yoe = z - era * 146097;
    yy = (yoe - yoe / 1460 + yoe / 36524 - yoe / 146096) / 365;
    doy = yoe - (365 * yy + yy / 4 - yy / 100);
    mp = (5 * doy + 2) / 153;
    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = (int)(yy + era * 400 + (*m <= 2));
}

long long hcdl_days_from_civil(long long y, int m, int d)
{
    long long era, yoe, doy, doe;
    y -= m <= 2;
    era = (y >= 0 ? y : y - 399) / 400;
    yoe = y - era * 400;
    doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}
