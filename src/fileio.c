/*
 * fileio.c - see fileio.h.
 */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <lauxlib.h>
#include <openssl/evp.h>

#include "compat.h"
#include "error.h"
#include "fileio.h"

typedef struct {
    int fd;
    char *path; /* as given, for messages */
} dir_handle;

typedef struct {
    int fd;
} file_handle;

/* A file handle (core.dir's files) owning fd, pushed: 1. */
static int push_file(lua_State *L, int fd)
{
    file_handle *f = lua_newuserdata(L, sizeof *f);
    f->fd = fd;
    luaL_getmetatable(L, HCDL_FILE_MT);
    lua_setmetatable(L, -2);
    return 1;
}

int hcdl_io_error(lua_State *L, const char *what, const char *path, int err)
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

/* Pushes nil and an "io" error with a message of ours about path. */
static int io_refusal(lua_State *L, const char *path, const char *why)
{
    lua_pushnil(L);
    lua_pushfstring(L, "%s %s", path, why);
    hcdl_error_push(L, "io", lua_tostring(L, -1));
    lua_remove(L, -2);
    lua_pushstring(L, path);
    lua_setfield(L, -2, "path");
    return 2;
}

/* ---- names ------------------------------------------------------------------ */

/* A single path component: what openat may take relative to our dir. */
static const char *check_name(lua_State *L, int arg)
{
    size_t n;
    const char *s = luaL_checklstring(L, arg, &n);
    luaL_argcheck(L, n > 0 && n <= 255 && strlen(s) == n && strchr(s, '/') == NULL &&
                         strcmp(s, ".") != 0 && strcmp(s, "..") != 0,
                  arg, "a file name (one path component)");
    return s;
}

/* dir/name for messages (pushed on the stack). */
static const char *push_joined(lua_State *L, const dir_handle *d, const char *name)
{
    size_t n = strlen(d->path);
    if (n > 0 && d->path[n - 1] == '/')
        return lua_pushfstring(L, "%s%s", d->path, name);
    return lua_pushfstring(L, "%s/%s", d->path, name);
}

/* ---- directory handles ---------------------------------------------------- */

static dir_handle *check_dir(lua_State *L, int idx)
{
    dir_handle *d = luaL_checkudata(L, idx, HCDL_DIR_MT);
    if (d->fd < 0)
        luaL_argerror(L, idx, "directory handle is closed");
    return d;
}

int hcdl_dir_fd(lua_State *L, int idx, const char **path)
{
    dir_handle *d = check_dir(L, idx);
    if (path != NULL)
        *path = d->path;
    return d->fd;
}

int hcdl_dir_open(lua_State *L)
{
    size_t n;
    const char *path = luaL_checklstring(L, 1, &n);
    dir_handle *d;
    luaL_argcheck(L, n > 0 && strlen(path) == n, 1, "a directory path");
    d = lua_newuserdata(L, sizeof *d);
    d->fd = -1;
    d->path = NULL;
    luaL_getmetatable(L, HCDL_DIR_MT);
    lua_setmetatable(L, -2);
    d->path = malloc(n + 1);
    if (d->path == NULL)
        return luaL_error(L, "hcdl: out of memory");
    memcpy(d->path, path, n + 1);
    /* The directory itself is the caller's choice, so it may be reached
     * through a link; everything inside it is opened relative to this fd. */
    d->fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (d->fd < 0)
        return hcdl_io_error(L, errno == ENOTDIR ? "not a directory:" : "cannot open the directory",
                             path, errno);
    return 1;
}

static int dir_close(lua_State *L)
{
    dir_handle *d = luaL_checkudata(L, 1, HCDL_DIR_MT);
    if (d->fd >= 0)
        close(d->fd);
    d->fd = -1;
    free(d->path);
    d->path = NULL;
    return 0;
}

static const char *type_name(mode_t m)
{
    if (S_ISREG(m))
        return "file";
    if (S_ISDIR(m))
        return "dir";
    if (S_ISLNK(m))
        return "link";
    return "other";
}

static void push_stat(lua_State *L, const struct stat *st)
{
    lua_createtable(L, 0, 7);
    lua_pushstring(L, type_name(st->st_mode));
    lua_setfield(L, -2, "type");
    hcdl_pushinteger(L, st->st_size);
    lua_setfield(L, -2, "size");
    lua_pushnumber(L, (lua_Number)st->st_mtim.tv_sec + (lua_Number)st->st_mtim.tv_nsec / 1e9);
    lua_setfield(L, -2, "mtime");
    hcdl_pushinteger(L, st->st_nlink);
    lua_setfield(L, -2, "nlink");
    lua_pushboolean(L, st->st_uid == geteuid());
    lua_setfield(L, -2, "mine");
    hcdl_pushinteger(L, st->st_mode & 07777);
    lua_setfield(L, -2, "mode");
    /* device and inode: a lock file's holder checks that the name still
     * leads to the file it locked (hcdl.download's per-file locks) */
    {
        char id[48];
        snprintf(id, sizeof id, "%llu:%llu", (unsigned long long)st->st_dev,
                 (unsigned long long)st->st_ino);
        lua_pushstring(L, id);
        lua_setfield(L, -2, "id");
    }
}

/* lstat of name in d: 0 with *st filled, or what the caller returns having
 * pushed it: false (1 value) when there is nothing there, nil, err (2). */
static int look_at(lua_State *L, dir_handle *d, const char *name, struct stat *st)
{
    if (fstatat(d->fd, name, st, AT_SYMLINK_NOFOLLOW) == 0)
        return 0;
    if (errno == ENOENT) {
        lua_pushboolean(L, 0);
        return 1;
    }
    return hcdl_io_error(L, "cannot look at", push_joined(L, d, name), errno);
}

/* dir:stat(name) -> { type, size, mtime, nlink, mine, mode } | false | nil, err
 * (links are not followed: a link is reported as type "link") */
static int dir_stat(lua_State *L)
{
    dir_handle *d = check_dir(L, 1);
    const char *name = check_name(L, 2);
    struct stat st;
    int pushed = look_at(L, d, name, &st);
    if (pushed != 0)
        return pushed;
    push_stat(L, &st);
    return 1;
}

/* Why an open file is not one hcdl may write into, or NULL. */
static const char *not_ours(const struct stat *st)
{
    if (!S_ISREG(st->st_mode))
        return "is not a regular file; hcdl leaves it alone";
    if (st->st_nlink > 1)
        return "has other hard links; hcdl does not write into a file shared with another name";
    if (st->st_uid != geteuid())
        return "belongs to another user; hcdl leaves it alone";
    return NULL;
}

static int open_flags(lua_State *L, int opts, int *create, mode_t *mode, int *umask_too)
{
    int read_only;
    *create = 0;
    *umask_too = 0;
    *mode = 0600;
    if (lua_isnoneornil(L, opts))
        return O_RDWR;
    luaL_checktype(L, opts, LUA_TTABLE);
    lua_getfield(L, opts, "create");
    *create = lua_toboolean(L, -1);
    lua_getfield(L, opts, "read_only");
    read_only = lua_toboolean(L, -1);
    lua_getfield(L, opts, "umask");
    *umask_too = lua_toboolean(L, -1);
    lua_getfield(L, opts, "mode");
    if (!lua_isnil(L, -1)) {
        lua_Number m = luaL_checknumber(L, -1);
        luaL_argcheck(L, m >= 0 && m <= 07777 && m == (lua_Number)(int)m, opts, "mode 0 to 07777");
        *mode = (mode_t)m;
    }
    lua_pop(L, 4);
    return read_only ? O_RDONLY : O_RDWR;
}

/* dir:open(name, { create = bool, mode = n, umask = bool, read_only = bool })
 *   -> file | nil, err
 * create: a new file, exclusively (EEXIST is an error with errno EEXIST),
 * with exactly mode (0600 by default), or mode less the umask with umask
 * = true (a file another user reads, such as the metrics file);
 * else an existing file, which must be a regular file with one link that
 * belongs to this user.  Links are never followed. */
static int dir_open_file(lua_State *L)
{
    dir_handle *d = check_dir(L, 1);
    const char *name = check_name(L, 2);
    int create, umask_too, flags, fd, err;
    mode_t mode;
    struct stat st;
    const char *why;

    flags = open_flags(L, 3, &create, &mode, &umask_too);
    if (create)
        flags |= O_CREAT | O_EXCL;
    fd = openat(d->fd, name, flags | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK, mode);
    if (fd < 0) {
        err = errno;
        if (err == ELOOP)
            return io_refusal(L, push_joined(L, d, name),
                              "is a symbolic link; hcdl does not write through links");
        if (err == EEXIST)
            return hcdl_io_error(L, "cannot create", push_joined(L, d, name), err);
        return hcdl_io_error(L, create ? "cannot create" : "cannot open", push_joined(L, d, name), err);
    }
    if (fstat(fd, &st) != 0) {
        err = errno;
        close(fd);
        return hcdl_io_error(L, "cannot look at", push_joined(L, d, name), err);
    }
    why = not_ours(&st);
    if (why != NULL) {
        close(fd);
        return io_refusal(L, push_joined(L, d, name), why);
    }
    /* O_NONBLOCK only guarded the open (a FIFO would block it); the mode
     * the caller asked for is exact, whatever the umask, unless asked. */
    if (fcntl(fd, F_SETFL, 0) != 0 || (create && !umask_too && fchmod(fd, mode) != 0)) {
        err = errno;
        close(fd);
        return hcdl_io_error(L, "cannot set up", push_joined(L, d, name), err);
    }
    return push_file(L, fd);
}

/* dir:read(name, max) -> string | false (absent) | nil, err
 * A small file of ours (state files): same rules as dir:open. */
static int dir_read(lua_State *L)
{
    dir_handle *d = check_dir(L, 1);
    const char *name = check_name(L, 2);
    lua_Integer max = luaL_optinteger(L, 3, 1 << 20);
    char *buf;
    ssize_t r;
    size_t got = 0;
    struct stat st;
    const char *why = NULL;
    int fd = openat(d->fd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK), err;
    if (fd < 0) {
        if (errno == ENOENT) {
            lua_pushboolean(L, 0);
            return 1;
        }
        if (errno == ELOOP)
            return io_refusal(L, push_joined(L, d, name),
                              "is a symbolic link; hcdl does not read through links");
        return hcdl_io_error(L, "cannot open", push_joined(L, d, name), errno);
    }
    if (fstat(fd, &st) != 0 || (why = not_ours(&st)) != NULL) {
        err = errno;
        close(fd);
        if (why == NULL)
            return hcdl_io_error(L, "cannot look at", push_joined(L, d, name), err);
        return io_refusal(L, push_joined(L, d, name), why);
    }
    if (st.st_size > max) {
        close(fd);
        return io_refusal(L, push_joined(L, d, name), "is larger than expected");
    }
    buf = lua_newuserdata(L, (size_t)st.st_size + 1); /* freed by the GC on any error */
    while (got < (size_t)st.st_size) {
        r = read(fd, buf + got, (size_t)st.st_size - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            err = errno;
            close(fd);
            return hcdl_io_error(L, "cannot read", push_joined(L, d, name), err);
        }
        if (r == 0)
            break;
        got += (size_t)r;
    }
    close(fd);
    lua_pushlstring(L, buf, got);
    return 1;
}

/* dir:remove(name) -> true | false (absent) | nil, err.  Only our kind of
 * file: a regular file or a link (the link itself, never its target). */
static int dir_remove(lua_State *L)
{
    dir_handle *d = check_dir(L, 1);
    const char *name = check_name(L, 2);
    struct stat st;
    int pushed = look_at(L, d, name, &st);
    if (pushed != 0)
        return pushed;
    if (!S_ISREG(st.st_mode) && !S_ISLNK(st.st_mode))
        return io_refusal(L, push_joined(L, d, name), "is not a regular file; hcdl leaves it alone");
    if (unlinkat(d->fd, name, 0) != 0 && errno != ENOENT)
        return hcdl_io_error(L, "cannot remove", push_joined(L, d, name), errno);
    lua_pushboolean(L, 1);
    return 1;
}

/* dir:lock(name) -> lock | false (another process holds it) | nil, err
 * An advisory lock (flock) on a file of ours: the kernel releases it when
 * the holder exits, however it exits, so a crashed run leaves no lock. */
static int dir_lock(lua_State *L)
{
    dir_handle *d = check_dir(L, 1);
    const char *name = check_name(L, 2);
    struct stat st;
    const char *why;
    int fd = openat(d->fd, name, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK, 0600), err;
    if (fd < 0) {
        if (errno == ELOOP)
            return io_refusal(L, push_joined(L, d, name), "is a symbolic link; hcdl does not use it");
        return hcdl_io_error(L, "cannot create the lock file", push_joined(L, d, name), errno);
    }
    if (fstat(fd, &st) != 0) {
        err = errno;
        close(fd);
        return hcdl_io_error(L, "cannot look at", push_joined(L, d, name), err);
    }
    why = not_ours(&st);
    if (why != NULL) {
        close(fd);
        return io_refusal(L, push_joined(L, d, name), why);
    }
    while (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        if (errno == EINTR)
            continue;
        err = errno;
        close(fd);
        if (err == EWOULDBLOCK) {
            lua_pushboolean(L, 0);
            return 1;
        }
        return hcdl_io_error(L, "cannot lock", push_joined(L, d, name), err);
    }
    return push_file(L, fd); /* closing it (or collecting it) unlocks */
}

/* dir:rmdir(name) -> true | false (not empty, or absent) | nil, err
 * Removes an empty directory; one that still holds files is left alone. */
static int dir_rmdir(lua_State *L)
{
    dir_handle *d = check_dir(L, 1);
    const char *name = check_name(L, 2);
    if (unlinkat(d->fd, name, AT_REMOVEDIR) == 0) {
        lua_pushboolean(L, 1);
        return 1;
    }
    if (errno == ENOTEMPTY || errno == EEXIST || errno == ENOENT) {
        lua_pushboolean(L, 0);
        return 1;
    }
    return hcdl_io_error(L, "cannot remove the directory", push_joined(L, d, name), errno);
}

/* dir:list() -> { name, ... } (unsorted, without "." and "..") | nil, err */
static int dir_list(lua_State *L)
{
    dir_handle *d = check_dir(L, 1);
    struct dirent *e;
    lua_Integer n = 0;
    DIR *h;
    int fd = openat(d->fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC), err;
    if (fd < 0)
        return hcdl_io_error(L, "cannot list", d->path, errno);
    h = fdopendir(fd);
    if (h == NULL) {
        err = errno;
        close(fd);
        return hcdl_io_error(L, "cannot list", d->path, err);
    }
    lua_newtable(L);
    errno = 0;
    while ((e = readdir(h)) != NULL) {
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0) {
            lua_pushstring(L, e->d_name);
            lua_rawseti(L, -2, (int)++n);
        }
        errno = 0;
    }
    err = errno;
    closedir(h);
    if (err != 0)
        return hcdl_io_error(L, "cannot list", d->path, err);
    return 1;
}

/* core.mkdir(path, mode) -> true | nil, err: the directory and its
 * missing parents, each created with `mode`; an existing one is kept. */
int hcdl_mkdir(lua_State *L)
{
    size_t n, i;
    const char *path = luaL_checklstring(L, 1, &n);
    lua_Integer mode = luaL_optinteger(L, 2, 0700);
    struct stat st;
    char *buf;
    luaL_argcheck(L, n > 0 && strlen(path) == n, 1, "a directory path");
    luaL_argcheck(L, mode >= 0 && mode <= 07777, 2, "permission bits");
    buf = malloc(n + 1);
    if (buf == NULL)
        return luaL_error(L, "hcdl: out of memory");
    memcpy(buf, path, n + 1);
    for (i = 1; i <= n; i++) {
        if (i < n && buf[i] != '/')
            continue;
        buf[i] = '\0';
        if (mkdir(buf, (mode_t)mode) != 0 && errno != EEXIST) {
            int err = errno;
            lua_pushstring(L, buf);
            free(buf);
            return hcdl_io_error(L, "cannot create the directory", lua_tostring(L, -1), err);
        }
        if (i < n)
            buf[i] = '/';
    }
    free(buf);
    if (stat(path, &st) != 0)
        return hcdl_io_error(L, "cannot look at", path, errno);
    if (!S_ISDIR(st.st_mode))
        return hcdl_io_error(L, "cannot create the directory", path, ENOTDIR);
    lua_pushboolean(L, 1);
    return 1;
}

/* dir:path(name) -> "dir/name" (for messages) */
static int dir_path(lua_State *L)
{
    dir_handle *d = check_dir(L, 1);
    push_joined(L, d, check_name(L, 2));
    return 1;
}

/* ---- file handles ------------------------------------------------------------ */

static file_handle *check_file(lua_State *L, int idx)
{
    file_handle *f = luaL_checkudata(L, idx, HCDL_FILE_MT);
    if (f->fd < 0)
        luaL_argerror(L, idx, "file handle is closed");
    return f;
}

int hcdl_file_fd(lua_State *L, int idx)
{
    return check_file(L, idx)->fd;
}

static int file_close(lua_State *L)
{
    file_handle *f = luaL_checkudata(L, 1, HCDL_FILE_MT);
    if (f->fd >= 0)
        close(f->fd);
    f->fd = -1;
    return 0;
}

/* file:write(s [, path]) -> true | nil, err: all of s at the file's offset
 * (small files written whole, such as the metrics file; path names the
 * file in the error). */
static int file_write(lua_State *L)
{
    file_handle *f = check_file(L, 1);
    size_t n;
    const char *p = luaL_checklstring(L, 2, &n);
    const char *path = luaL_optstring(L, 3, "a file");
    while (n > 0) {
        ssize_t w = write(f->fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0)
            return hcdl_io_error(L, "cannot write", path, errno);
        p += w;
        n -= (size_t)w;
    }
    lua_pushboolean(L, 1);
    return 1;
}

/* file:stat() -> { type, size, mtime, nlink, mine, mode } | nil, err */
static int file_stat(lua_State *L)
{
    file_handle *f = check_file(L, 1);
    struct stat st;
    if (fstat(f->fd, &st) != 0)
        return hcdl_io_error(L, "cannot look at", luaL_optstring(L, 2, "a file"), errno);
    push_stat(L, &st);
    return 1;
}

/* file:truncate(n [, path for messages]) -> true | nil, err */
static int file_truncate(lua_State *L)
{
    file_handle *f = check_file(L, 1);
    lua_Number n = luaL_checknumber(L, 2);
    luaL_argcheck(L, n >= 0 && n <= 9007199254740992.0 && n == (lua_Number)(long long)n, 2,
                  "a size in bytes");
    if (ftruncate(f->fd, (off_t)n) != 0)
        return hcdl_io_error(L, "cannot truncate", luaL_optstring(L, 3, "a file"), errno);
    lua_pushboolean(L, 1);
    return 1;
}

/* ---- plain path helpers ------------------------------------------------------ */

int hcdl_file_size(lua_State *L)
{
    const char *path = luaL_checkstring(L, 1);
    struct stat st;
    if (stat(path, &st) != 0) {
        if (errno == ENOENT) {
            lua_pushboolean(L, 0);
            return 1;
        }
        return hcdl_io_error(L, "cannot read the size of", path, errno);
    }
    hcdl_pushinteger(L, st.st_size);
    return 1;
}

int hcdl_md5_fd(int fd, char hex[33])
{
    unsigned char buf[1 << 16], md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0, i;
    off_t pos = 0;
    int err = 0;
    EVP_MD *alg = EVP_MD_fetch(NULL, "MD5", NULL);
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    if (alg == NULL || ctx == NULL || EVP_DigestInit_ex(ctx, alg, NULL) != 1)
        err = ENOMEM;
    while (err == 0) {
        ssize_t r = pread(fd, buf, sizeof buf, pos);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            err = errno;
        else if (r == 0)
            break;
        else if (EVP_DigestUpdate(ctx, buf, (size_t)r) != 1)
            err = EIO;
        else
            pos += r;
    }
    if (err == 0 && EVP_DigestFinal_ex(ctx, md, &mdlen) != 1)
        err = EIO;
    EVP_MD_CTX_free(ctx);
    EVP_MD_free(alg);
    if (err == 0) {
        for (i = 0; i < mdlen && i < 16; i++)
            snprintf(hex + 2 * i, 3, "%02x", md[i]);
        hex[32] = '\0';
    }
    return err;
}

int hcdl_file_md5(lua_State *L)
{
    const char *path = luaL_checkstring(L, 1);
    char hex[33];
    int err, fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return hcdl_io_error(L, "cannot open", path, errno);
    err = hcdl_md5_fd(fd, hex);
    close(fd);
    if (err != 0)
        return hcdl_io_error(L, "cannot hash", path, err);
    lua_pushstring(L, hex);
    return 1;
}

int hcdl_file_is_dir(lua_State *L)
{
    struct stat st;
    lua_pushboolean(L, stat(luaL_checkstring(L, 1), &st) == 0 && S_ISDIR(st.st_mode));
    return 1;
}

void hcdl_fileio_init(lua_State *L)
{
    static const luaL_Reg dir_methods[] = {
        {"stat", dir_stat},     {"open", dir_open_file}, {"read", dir_read},
        {"remove", dir_remove}, {"path", dir_path},      {"close", dir_close},
        {"lock", dir_lock},     {"rmdir", dir_rmdir},    {"list", dir_list},
        {NULL, NULL},
    };
    static const luaL_Reg file_methods[] = {
        {"stat", file_stat}, {"truncate", file_truncate}, {"write", file_write},
        {"close", file_close}, {NULL, NULL},
    };
    if (luaL_newmetatable(L, HCDL_DIR_MT)) {
        lua_pushcfunction(L, dir_close);
        lua_setfield(L, -2, "__gc");
        lua_newtable(L);
        hcdl_setfuncs(L, dir_methods, 0);
        lua_setfield(L, -2, "__index");
    }
    lua_pop(L, 1);
    if (luaL_newmetatable(L, HCDL_FILE_MT)) {
        lua_pushcfunction(L, file_close);
        lua_setfield(L, -2, "__gc");
        lua_newtable(L);
        hcdl_setfuncs(L, file_methods, 0);
        lua_setfield(L, -2, "__index");
    }
    lua_pop(L, 1);
}
