/* digest.h - an MD5 that Lua feeds chunk by chunk (streamed downloads:
 * the bytes already pass through Lua, and a resumed stream continues the
 * same digest across transfers). */
#ifndef HCDL_DIGEST_H
#define HCDL_DIGEST_H

#include <lua.h>

void hcdl_digest_init(lua_State *L);

/* Lua: core.md5() -> digest with :update(s) and :hex() */
int hcdl_digest_new(lua_State *L);

#endif
