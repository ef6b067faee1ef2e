/* digest.h - an MD5 that Lua feeds chunk by chunk (streamed downloads:
 * the bytes already pass through Lua, and a resumed stream continues the
 * same digest across transfers). */
#ifndef HCDL_DIGEST_H
#define HCDL_DIGEST_H

#include <lua.h>

void hcdl_digest_init(lua_State *L);

/* Lua: core.md5() -> digest with :update(s) and :hex() */
int hcdl_digest_new(lua_State *L);

/* Lua: core.md5_ranges(file, { {off, len}, ... } [, impl]) -> { hex, ... }
 * | nil, err: the MD5s of ranges of an open file, side by side in lanes
 * (md5lanes.h; impl names one, "avx512vl-x8" or "avx2-x8", else the
 * fastest).  Reads on the caller's thread: for tests and diagnostics. */
int hcdl_md5_ranges(lua_State *L);

#endif
