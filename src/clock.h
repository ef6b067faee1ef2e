/* clock.h - monotonic time and sleeping for the Lua layer's waits, and
 * the calendar arithmetic the signer and the API parameters need. */
#ifndef HCDL_CLOCK_H
#define HCDL_CLOCK_H

#include <lua.h>

int hcdl_clock_now(lua_State *L);
int hcdl_clock_sleep(lua_State *L);
void hcdl_sleep(double seconds);

/*
 * The calendar: the one place hcdl does date arithmetic (the signer's
 * X-Sdk-Date, the API time parameters, and lua/hcdl/timefmt.lua through
 * core.days_from_civil).  Proleptic Gregorian, UTC, no locale.
 */

/* y-m-d of a day count since 1970-01-01, and back. */
void hcdl_civil_from_days(long long days, int *y, int *m, int *d);
long long hcdl_days_from_civil(long long y, int m, int d);

/* 1 when y-mo-d h:mi:se is a real moment from 1970 on (se up to
 * max_second: 60 admits a leap second), with *epoch its seconds; else 0. */
int hcdl_civil_epoch(int y, int mo, int d, int h, int mi, int se, int max_second,
                     long long *epoch);

/* How hcdl_format_epoch writes a moment (all UTC). */
enum {
    HCDL_TIME_OFFSET, /* 2023-07-24T01:30:00+0000 (API parameters) */
    HCDL_TIME_UTC14,  /* 20230724013000 (DCS parameters) */
    HCDL_TIME_SDK     /* 20230724T013000Z (X-Sdk-Date) */
};
#define HCDL_TIME_MAX 25

/* Writes epoch seconds t (years 1970 to 9999) as style into out, NUL-ended;
 * returns the length, or 0 when t is outside those years. */
size_t hcdl_format_epoch(long long t, int style, char out[HCDL_TIME_MAX]);

/* Lua: core.days_from_civil(y, m, d) -> days since 1970-01-01. */
int hcdl_clock_days_from_civil(lua_State *L);

#endif
