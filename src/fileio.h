/*
 * fileio.h - the files a download touches, opened so that hcdl writes only
 * files it created.
 *
 * Everything is relative to a directory handle (openat), never through a
 * path that could be swapped under us: temporary files are opened without
 * following links, must be regular files with one link owned by this user,
 * and are created exclusively when new.  Failures are hcdl "io" errors
 * naming the path (nil, err), never Lua's strings.
 *
 * Slow operations (fsync, preallocation, hashing, rename) run on a thread
 * (task.c); what is here is quick: stat, open, close, a small read.
 */
#ifndef HCDL_FILEIO_H
#define HCDL_FILEIO_H

#include <lua.h>

#define HCDL_DIR_MT "hcdl.dir"
#define HCDL_FILE_MT "hcdl.file"

void hcdl_fileio_init(lua_State *L);

/* core.dir(path) -> dir | nil, err */
int hcdl_dir_open(lua_State *L);

/* The fd of the file handle at idx (raises if it is not one, or closed). */
int hcdl_file_fd(lua_State *L, int idx);

/* The fd and path of the dir handle at idx (raises if it is not one). */
int hcdl_dir_fd(lua_State *L, int idx, const char **path);

/* Pushes nil and an "io" error "<what> <path>: <reason>" with path and
 * errno fields; returns 2. */
int hcdl_io_error(lua_State *L, const char *what, const char *path, int err);

/* Plain path helpers kept for scripts and tests. */
int hcdl_file_size(lua_State *L); /* core.file_size(path) -> n | false (absent) | nil, err */
int hcdl_file_md5(lua_State *L);  /* core.md5_file(path) -> hex | nil, err */
int hcdl_file_is_dir(lua_State *L); /* core.is_dir(path) -> boolean */
int hcdl_mkdir(lua_State *L);       /* core.mkdir(path, mode) -> true | nil, err (parents too) */

/* MD5 (lower-case hex, 33 bytes with NUL) of an fd's whole contents: 0 or an errno. */
int hcdl_md5_fd(int fd, char hex[33]);

#endif
