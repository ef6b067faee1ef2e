/*
 * clock.c - a monotonic clock and a sleep, which plain Lua lacks and every
 * wait (retry backoff, polling) needs.  Hosts with an event loop replace
 * both through the transport table (ngx.sleep, vim timers).  Also the
 * calendar arithmetic the signer (X-Sdk-Date) and the API time parameters
 * share.
 */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <math.h>
#include <string.h>
#include <time.h>

#include <lauxlib.h>

#include "clock.h"
#include "compat.h"

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

/* The month is taken modulo 12 from March (as lua/hcdl/timefmt.lua always
 * did), so a month out of range still gives a number, never a crash. */
long long hcdl_days_from_civil(long long y, int m, int d)
{
    long long era, yoe, doy, doe;
    int mp = ((m + 9) % 12 + 12) % 12; /* March = 0 */
    y -= m <= 2;
    era = (y >= 0 ? y : y - 399) / 400;
    yoe = y - era * 400;
    doy = (153 * mp + 2) / 5 + d - 1;
    doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static int is_leap(int y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

int hcdl_civil_epoch(int y, int mo, int d, int h, int mi, int se, int max_second,
                     long long *epoch)
{
    static const int mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (y < 1970 || mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1] || h < 0 || h > 23 ||
        mi < 0 || mi > 59 || se < 0 || se > max_second)
        return 0;
    if (mo == 2 && d == 29 && !is_leap(y))
        return 0;
    *epoch = hcdl_days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + se;
    return 1;
}

/* Two digits, by hand: snprintf and strftime cost more than the whole
 * arithmetic, and strftime consults the locale. */
static char *put2(char *p, int v)
{
    p[0] = (char)('0' + v / 10);
    p[1] = (char)('0' + v % 10);
    return p + 2;
}

static char *put_sep(char *p, int style, char compact_sep, char sep)
{
    if (style == HCDL_TIME_OFFSET)
        *p++ = sep;
    else if (compact_sep != 0)
        *p++ = compact_sep;
    return p;
}

size_t hcdl_format_epoch(long long t, int style, char out[HCDL_TIME_MAX])
{
    long long z = t / 86400, secs = t % 86400;
    int y, m, d;
    char *p = out;
    if (secs < 0) {
        secs += 86400;
        z--;
    }
    hcdl_civil_from_days(z, &y, &m, &d);
    if (y < 1970 || y > 9999) {
        out[0] = '\0';
        return 0;
    }
    p = put2(put2(p, y / 100), y % 100);
    p = put2(put_sep(p, style, 0, '-'), m);
    p = put2(put_sep(p, style, 0, '-'), d);
    p = put2(put_sep(p, style, style == HCDL_TIME_SDK ? 'T' : 0, 'T'), (int)(secs / 3600));
    p = put2(put_sep(p, style, 0, ':'), (int)(secs / 60 % 60));
    p = put2(put_sep(p, style, 0, ':'), (int)(secs % 60));
    if (style == HCDL_TIME_OFFSET) {
        memcpy(p, "+0000", 5);
        p += 5;
    } else if (style == HCDL_TIME_SDK) {
        *p++ = 'Z';
    }
    *p = '\0';
    return (size_t)(p - out);
}

int hcdl_clock_days_from_civil(lua_State *L)
{
    lua_Number y = luaL_checknumber(L, 1), m = luaL_checknumber(L, 2),
               d = luaL_checknumber(L, 3);
    if (y != floor(y) || m != floor(m) || d != floor(d) || fabs(y) > 1e9 || fabs(m) > 1e6 ||
        fabs(d) > 1e9)
        return luaL_argerror(L, 1, "y, m and d must be integers of a sane size");
    hcdl_pushinteger(L, hcdl_days_from_civil((long long)y, (int)m, (int)d));
    return 1;
}
