/* fileio.h - the few file operations safe downloads need, with errors as
 * hcdl "io" errors (nil, err) rather than Lua's strings. */
#ifndef HCDL_FILEIO_H
#define HCDL_FILEIO_H

#include <lua.h>

int hcdl_file_size(lua_State *L);     /* core.file_size(path) -> n | false (absent) | nil, err */
int hcdl_file_truncate(lua_State *L); /* core.truncate(path, n) -> true | nil, err */
int hcdl_file_allocate(lua_State *L); /* core.allocate(path, n) -> true | nil, err */
int hcdl_file_fsync(lua_State *L);    /* core.fsync(path) -> true | nil, err (file or directory) */
int hcdl_file_md5(lua_State *L);      /* core.md5_file(path) -> hex | nil, err */
int hcdl_file_rename(lua_State *L);   /* core.rename(from, to) -> true | nil, err */
int hcdl_file_is_dir(lua_State *L);   /* core.is_dir(path) -> boolean */   /* core.rename(from, to) -> true | nil, err */

#endif
