/* download.h - links to files over one curl multi handle (see download.c). */
#ifndef HCDL_DOWNLOAD_H
#define HCDL_DOWNLOAD_H

#include <lua.h>

void hcdl_download_init(lua_State *L);

/* Lua: core.fetch(opts) -> results, cancelled */
int hcdl_download_fetch(lua_State *L);

#endif
