/* clock.h - monotonic time and sleeping for the Lua layer's waits, and
 * the calendar arithmetic the signer and the API parameters need. */
#ifndef HCDL_CLOCK_H
#define HCDL_CLOCK_H

#include <lua.h>

int hcdl_clock_now(lua_State *L);
int hcdl_clock_sleep(lua_State *L);
void hcdl_sleep(double seconds);

/* y-m-d of a day count since 1970-01-01, and back (UTC calendar). */
void hcdl_civil_from_days(long long days, int *y, int *m, int *d);
long long hcdl_days_from_civil(long long y, int m, int d);

#endif
