/* clock.h - monotonic time and sleeping for the Lua layer's waits. */
#ifndef HCDL_CLOCK_H
#define HCDL_CLOCK_H

#include <lua.h>

int hcdl_clock_now(lua_State *L);
int hcdl_clock_sleep(lua_State *L);

#endif
