/*
 * fileio.c - file operations for safe downloads (see fileio.h).  Every
 * failure is an hcdl "io" error naming the path and the system's reason;
 * disk full says so in words.
 */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <lauxlib.h>
#include <openssl/evp.h>

#include "compat.h"
#include "error.h"
#include "fileio.h"

static int io_error(lua_State *L, const char *what, const char *path, int err)
{
    lua_pushnil(L);
    lua_pushfstring(L, "%s %s: %s", what, path,
                    err == ENOSPC ? "no space left on the device" : strerror(err));
    hcdl_error_push(L, "io", lua_tostring(L, -1));
    lua_remove(L, -2);
    lua_pushstring(L, path);
    lua_setfield(L, -2, "path");
    hcdl_pushinteger(L, err);
    lua_setfield(L, -2, "errno");
    return 2;
}

int hcdl_file_size(lua_State *L)
{
    const char *path = luaL_checkstring(L, 1);
    struct stat st;
    if (stat(path, &st) != 0) {
        if (errno == ENOENT) {
            lua_pushboolean(L, 0);
            return 1;
        }
        return io_error(L, "cannot read the size of", path, errno);
    }
    hcdl_pushinteger(L, st.st_size);
    return 1;
}

static off_t check_size(lua_State *L, int arg)
{
    lua_Number n = luaL_checknumber(L, arg);
    luaL_argcheck(L, n >= 0 && n <= 9007199254740992.0 && n == (lua_Number)(long long)n, arg,
                  "a size in bytes");
    return (off_t)n;
}

int hcdl_file_truncate(lua_State *L)
{
    const char *path = luaL_checkstring(L, 1);
    off_t size = check_size(L, 2);
    int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0)
        return io_error(L, "cannot open", path, errno);
    if (ftruncate(fd, size) != 0) {
        int e = errno;
        close(fd);
        return io_error(L, "cannot truncate", path, e);
    }
    if (close(fd) != 0)
        return io_error(L, "cannot close", path, errno);
    lua_pushboolean(L, 1);
    return 1;
}

int hcdl_file_allocate(lua_State *L)
{
    const char *path = luaL_checkstring(L, 1);
    off_t size = check_size(L, 2);
    int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0644), rc;
    if (fd < 0)
        return io_error(L, "cannot open", path, errno);
    /* Reserve the blocks now: a full disk fails here, before any download,
     * and parallel ranges do not fragment the file. */
    rc = size > 0 ? posix_fallocate(fd, 0, size) : 0;
    if (rc == EINVAL || rc == EOPNOTSUPP)
        rc = ftruncate(fd, size) == 0 ? 0 : errno; /* file systems without it */
    if (rc != 0) {
        close(fd);
        return io_error(L, "cannot reserve space for", path, rc);
    }
    if (close(fd) != 0)
        return io_error(L, "cannot close", path, errno);
    lua_pushboolean(L, 1);
    return 1;
}

int hcdl_file_fsync(lua_State *L)
{
    const char *path = luaL_checkstring(L, 1);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return io_error(L, "cannot open", path, errno);
    if (fsync(fd) != 0 && errno != EINVAL) { /* EINVAL: not syncable (e.g. some dirs) */
        int e = errno;
        close(fd);
        return io_error(L, "cannot flush", path, e);
    }
    close(fd);
    lua_pushboolean(L, 1);
    return 1;
}

int hcdl_file_md5(lua_State *L)
{
    const char *path = luaL_checkstring(L, 1);
    unsigned char buf[1 << 16], md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0, i;
    char hex[33];
    EVP_MD *alg;
    EVP_MD_CTX *ctx;
    int fd, failed = 0, err = 0;

    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return io_error(L, "cannot open", path, errno);
    alg = EVP_MD_fetch(NULL, "MD5", NULL);
    ctx = EVP_MD_CTX_new();
    if (alg == NULL || ctx == NULL || EVP_DigestInit_ex(ctx, alg, NULL) != 1)
        failed = 1;
    while (!failed) {
        ssize_t r = read(fd, buf, sizeof buf);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            err = errno;
            failed = 1;
            break;
        }
        if (r == 0)
            break;
        if (EVP_DigestUpdate(ctx, buf, (size_t)r) != 1)
            failed = 1;
    }
    if (!failed && EVP_DigestFinal_ex(ctx, md, &mdlen) != 1)
        failed = 1;
    EVP_MD_CTX_free(ctx);
    EVP_MD_free(alg);
    close(fd);
    if (failed)
        return io_error(L, "cannot hash", path, err ? err : EIO);
    for (i = 0; i < mdlen && i < 16; i++)
        snprintf(hex + 2 * i, 3, "%02x", md[i]);
    lua_pushlstring(L, hex, 32);
    return 1;
}

int hcdl_file_is_dir(lua_State *L)
{
    struct stat st;
    lua_pushboolean(L, stat(luaL_checkstring(L, 1), &st) == 0 && S_ISDIR(st.st_mode));
    return 1;
}

int hcdl_file_rename(lua_State *L)
{
    const char *from = luaL_checkstring(L, 1), *to = luaL_checkstring(L, 2);
    if (rename(from, to) != 0)
        return io_error(L, "cannot rename", from, errno);
    lua_pushboolean(L, 1);
    return 1;
}
