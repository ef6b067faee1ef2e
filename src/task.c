/*
 * task.c - see task.h.
 */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <lauxlib.h>

#include "compat.h"
#include "engine.h"
#include "error.h"
#include "fileio.h"
#include "task.h"
#include "thread.h"
#include "verifier.h"

#define TASK_MT "hcdl.task"

/* A task thread's stack: its deepest path is do_verify (a 64 KiB read
 * buffer, then the verifier and OpenSSL's MD5).  Small, so that a run of
 * many files, which starts a task per file (its commit), reuses stacks
 * rather than mapping a new 8 MiB one each time (see thread.h). */
#define TASK_STACK_BYTES (512 * 1024)

enum { OP_COMMIT, OP_HASH, OP_ALLOCATE, OP_WRITE, OP_SYNC, OP_VERIFY };

typedef struct {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    pthread_t thread;
    int sync_ready;           /* mu and cv initialised */
    int started, done, taken;
    int op;
    int dirfd, fd;
    char *dir_path;           /* for messages */
    char *part, *final, *state, *path;
    char *data;
    size_t data_len;
    int fsync;
    int set_mtime;
    double mtime;
    long long size;
    /* outcome */
    int err;
    const char *what;         /* "cannot rename" ... */
    const char *err_name;     /* which of our names it was about */
    char md5[33];
    /* OP_VERIFY: what to check (the ETag copied), and the outcome */
    hcdl_vconf vconf;
    char *etag;
    hcdl_verifier check;
    int checking;
    hcdl_engine_hold_t *wake; /* args.wake: the engine whose waiters it wakes when done */
} task;

/* ---- the work (task thread) ---------------------------------------------------- */

static int fail(task *k, int err, const char *what, const char *name)
{
    k->err = err;
    k->what = what;
    k->err_name = name;
    return -1;
}

static int sync_dir(task *k)
{
    /* EINVAL: some file systems cannot sync a directory; nothing to do */
    if (fsync(k->dirfd) != 0 && errno != EINVAL)
        return fail(k, errno, "cannot flush the directory of", k->final);
    return 0;
}

static int do_commit(task *k)
{
    struct stat st;
    int fd = openat(k->dirfd, k->part, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return fail(k, errno, "cannot open", k->part);
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return fail(k, errno != 0 ? errno : EINVAL, "cannot commit", k->part);
    }
    if (k->set_mtime) {
        struct timespec ts[2];
        ts[0].tv_sec = 0;
        ts[0].tv_nsec = UTIME_OMIT;
        ts[1].tv_sec = (time_t)k->mtime;
        ts[1].tv_nsec = (long)((k->mtime - (double)ts[1].tv_sec) * 1e9);
        if (futimens(fd, ts) != 0) {
            int e = errno;
            close(fd);
            return fail(k, e, "cannot set the time of", k->part);
        }
    }
    if (k->fsync && fsync(fd) != 0 && errno != EINVAL) {
        int e = errno;
        close(fd);
        return fail(k, e, "cannot flush", k->part);
    }
    close(fd);
    /* rename never follows a link at `final`: it replaces the link itself;
     * a directory there makes it fail (EISDIR), which is reported */
    if (renameat(k->dirfd, k->part, k->dirfd, k->final) != 0)
        return fail(k, errno, "cannot rename into", k->final);
    if (k->state != NULL && unlinkat(k->dirfd, k->state, 0) != 0 && errno != ENOENT)
        return fail(k, errno, "cannot remove", k->state);
    return k->fsync ? sync_dir(k) : 0;
}

static int do_allocate(task *k)
{
    int rc = k->size > 0 ? posix_fallocate(k->fd, 0, (off_t)k->size) : 0;
    if (rc == EINVAL || rc == EOPNOTSUPP) /* file systems without it */
        rc = ftruncate(k->fd, (off_t)k->size) == 0 ? 0 : errno;
    if (rc != 0)
        return fail(k, rc, "cannot reserve space for", k->path);
    return 0;
}

static int write_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0)
            return errno;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* The temporary name is ours (the caller reserves "<name>.tmp"): a stale
 * one from a crash is removed; a link there is removed, never followed. */
static int open_tmp(task *k, const char *tmp)
{
    int tries, fd = -1;
    for (tries = 0; tries < 2 && fd < 0; tries++) {
        fd = openat(k->dirfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (fd < 0 && errno == EEXIST) {
            struct stat st;
            if (fstatat(k->dirfd, tmp, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode))
                break;
            unlinkat(k->dirfd, tmp, 0);
        } else if (fd < 0) {
            break;
        }
    }
    return fd;
}

static int do_write(task *k)
{
    size_t n = strlen(k->final);
    char *tmp = malloc(n + 5);
    int fd, rc;
    if (tmp == NULL)
        return fail(k, ENOMEM, "cannot write", k->final);
    memcpy(tmp, k->final, n);
    memcpy(tmp + n, ".tmp", 5);
    fd = open_tmp(k, tmp);
    if (fd < 0) {
        rc = errno;
        free(tmp);
        return fail(k, rc, "cannot create a temporary file for", k->final);
    }
    rc = write_all(fd, k->data, k->data_len);
    if (rc == 0 && k->fsync && fdatasync(fd) != 0 && errno != EINVAL)
        rc = errno;
    if (close(fd) != 0 && rc == 0)
        rc = errno;
    if (rc == 0 && renameat(k->dirfd, tmp, k->dirfd, k->final) != 0)
        rc = errno;
    if (rc != 0) {
        unlinkat(k->dirfd, tmp, 0);
        free(tmp);
        return fail(k, rc, "cannot write", k->final);
    }
    free(tmp);
    return k->fsync ? sync_dir(k) : 0;
}

/* One pass over the whole file through every check asked for. */
static int do_verify(task *k)
{
    unsigned char buf[1 << 16];
    off_t pos = 0;
    EVP_MD *md5 = EVP_MD_fetch(NULL, "MD5", NULL);
    int rc;
    k->vconf.fd = k->fd; /* multipart parts are read back in lanes */
    rc = md5 != NULL ? hcdl_verifier_start(&k->check, &k->vconf, md5) : -1;
    EVP_MD_free(md5);
    if (rc != 0)
        return fail(k, ENOMEM, "cannot verify", k->path);
    k->checking = 1;
    for (;;) {
        ssize_t r = pread(k->fd, buf, sizeof buf, pos);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return fail(k, errno, "cannot read", k->path);
        if (r == 0)
            break;
        if (hcdl_verifier_update(&k->check, buf, (size_t)r) != 0)
            return fail(k, EIO, "cannot verify", k->path);
        pos += r;
        if (hcdl_verifier_idle(&k->check))
            break;
    }
    hcdl_verifier_finish(&k->check);
    return 0;
}

static void *run_task(void *arg)
{
    task *k = arg;
    switch (k->op) {
    case OP_COMMIT:
        do_commit(k);
        break;
    case OP_HASH: {
        int e = hcdl_md5_fd(k->fd, k->md5);
        if (e != 0)
            fail(k, e, "cannot hash", k->path);
        break;
    }
    case OP_ALLOCATE:
        do_allocate(k);
        break;
    case OP_WRITE:
        do_write(k);
        break;
    case OP_VERIFY:
        do_verify(k);
        break;
    case OP_SYNC:
        if (fsync(k->fd) != 0 && errno != EINVAL)
            fail(k, errno, "cannot flush", k->path);
        break;
    default:
        break;
    }
    /* The bytes a write task copied (a record can be 100s of KiB) go now,
     * not when the task is collected: Lua's collector does not count them,
     * so it would keep many such tasks alive. */
    free(k->data);
    k->data = NULL;
    /* Release the files now, not when the task is collected: an open
     * descriptor keeps a file system busy (it could not be unmounted). */
    if (k->dirfd >= 0)
        close(k->dirfd);
    if (k->fd >= 0)
        close(k->fd);
    k->dirfd = k->fd = -1;
    pthread_mutex_lock(&k->mu);
    k->done = 1;
    pthread_cond_broadcast(&k->cv);
    pthread_mutex_unlock(&k->mu);
    /* after `done`: a host woken here finds the task ready */
    if (k->wake != NULL)
        hcdl_engine_wake(k->wake);
    return NULL;
}

/* ---- Lua ---------------------------------------------------------------------- */

static void task_release(task *k)
{
    if (k->started) {
        pthread_join(k->thread, NULL); /* tasks are bounded: wait, never abandon */
        k->started = 0;
    }
    if (k->sync_ready) {
        pthread_cond_destroy(&k->cv);
        pthread_mutex_destroy(&k->mu);
        k->sync_ready = 0;
    }
    if (k->dirfd >= 0)
        close(k->dirfd);
    if (k->fd >= 0)
        close(k->fd);
    k->dirfd = k->fd = -1;
    free(k->dir_path);
    free(k->part);
    free(k->final);
    free(k->state);
    free(k->path);
    free(k->data);
    free(k->etag);
    k->dir_path = k->part = k->final = k->state = k->path = k->data = k->etag = NULL;
    if (k->checking)
        hcdl_verifier_free(&k->check);
    k->checking = 0;
    hcdl_engine_release(k->wake);
    k->wake = NULL;
}

static int task_gc(lua_State *L)
{
    task_release(luaL_checkudata(L, 1, TASK_MT));
    return 0;
}

static char *dup_field(lua_State *L, int args, const char *field, int required, size_t *len)
{
    size_t n;
    const char *s;
    char *c;
    lua_getfield(L, args, field);
    if (lua_isnil(L, -1) && !required) {
        lua_pop(L, 1);
        return NULL;
    }
    s = lua_tolstring(L, -1, &n);
    if (lua_type(L, -1) != LUA_TSTRING)
        luaL_error(L, "hcdl.task: %s must be a string", field);
    c = malloc(n + 1);
    if (c == NULL)
        luaL_error(L, "hcdl: out of memory");
    memcpy(c, s, n + 1);
    if (len != NULL)
        *len = n;
    lua_pop(L, 1);
    return c;
}

/* A name the task may use relative to its directory: one component. */
static char *dup_name(lua_State *L, int args, const char *field, int required)
{
    char *c = dup_field(L, args, field, required, NULL);
    if (c != NULL && (c[0] == '\0' || strchr(c, '/') != NULL || strcmp(c, ".") == 0 ||
                      strcmp(c, "..") == 0 || strlen(c) > 255)) {
        free(c);
        luaL_error(L, "hcdl.task: %s must be a file name", field);
    }
    return c;
}

static int dup_fd(lua_State *L, int fd)
{
    int d = fcntl(fd, F_DUPFD_CLOEXEC, 0);
    if (d < 0)
        luaL_error(L, "hcdl: cannot duplicate a file descriptor: %s", strerror(errno));
    return d;
}

/* verify: { file, path?, md5?, etag?, size?, crc64?, formats? } */
static void read_verify(lua_State *L, task *k, int args)
{
    hcdl_vconf_read(L, args, &k->vconf);
    if (k->vconf.etag != NULL) {
        k->etag = malloc(k->vconf.etag_len + 1);
        if (k->etag == NULL)
            luaL_error(L, "hcdl: out of memory");
        memcpy(k->etag, k->vconf.etag, k->vconf.etag_len);
        k->etag[k->vconf.etag_len] = '\0';
        k->vconf.etag = k->etag;
    }
}

static void read_args(lua_State *L, task *k, int args)
{
    const char *dpath = NULL;
    lua_getfield(L, args, "dir");
    if (!lua_isnil(L, -1)) {
        k->dirfd = dup_fd(L, hcdl_dir_fd(L, lua_gettop(L), &dpath));
        k->dir_path = malloc(strlen(dpath) + 1);
        if (k->dir_path == NULL)
            luaL_error(L, "hcdl: out of memory");
        strcpy(k->dir_path, dpath);
    }
    lua_getfield(L, args, "file");
    if (!lua_isnil(L, -1))
        k->fd = dup_fd(L, hcdl_file_fd(L, lua_gettop(L)));
    lua_getfield(L, args, "wake");
    if (!lua_isnil(L, -1))
        k->wake = hcdl_engine_hold(L, lua_gettop(L));
    lua_pop(L, 3);
    k->path = dup_field(L, args, "path", 0, NULL);
    lua_getfield(L, args, "fsync");
    k->fsync = lua_toboolean(L, -1);
    lua_getfield(L, args, "mtime");
    if (!lua_isnil(L, -1)) {
        k->mtime = luaL_checknumber(L, -1);
        k->set_mtime = k->mtime >= 0 && k->mtime < 253402300800.0;
    }
    lua_getfield(L, args, "size");
    if (!lua_isnil(L, -1))
        k->size = (long long)luaL_checknumber(L, -1);
    lua_pop(L, 3);
    switch (k->op) {
    case OP_COMMIT:
        if (k->dirfd < 0)
            luaL_error(L, "hcdl.task: commit needs dir");
        k->part = dup_name(L, args, "part", 1);
        k->final = dup_name(L, args, "final", 1);
        k->state = dup_name(L, args, "state", 0);
        break;
    case OP_WRITE:
        if (k->dirfd < 0)
            luaL_error(L, "hcdl.task: write needs dir");
        k->final = dup_name(L, args, "name", 1);
        k->data = dup_field(L, args, "data", 1, &k->data_len);
        break;
    case OP_VERIFY:
        read_verify(L, k, args);
        break;
    default:
        break;
    }
    if (k->op != OP_COMMIT && k->op != OP_WRITE && k->fd < 0)
        luaL_error(L, "hcdl.task: this task needs file");
}

static int op_code(lua_State *L, int arg)
{
    static const char *const names[] = {"commit", "hash", "allocate", "write", "sync", "verify", NULL};
    return luaL_checkoption(L, arg, NULL, names);
}

/* core.task(op, args) -> task */
int hcdl_task_new(lua_State *L)
{
    int op = op_code(L, 1), rc;
    task *k;
    luaL_checktype(L, 2, LUA_TTABLE);
    k = lua_newuserdata(L, sizeof *k);
    memset(k, 0, sizeof *k);
    k->dirfd = k->fd = -1;
    k->op = op;
    luaL_getmetatable(L, TASK_MT);
    lua_setmetatable(L, -2); /* from here __gc releases what is set */
    read_args(L, k, 2);
    if (pthread_mutex_init(&k->mu, NULL) != 0)
        return luaL_error(L, "hcdl: cannot create a mutex");
    if (hcdl_cond_init(&k->cv) != 0) {
        pthread_mutex_destroy(&k->mu);
        return luaL_error(L, "hcdl: cannot create a condition variable");
    }
    k->sync_ready = 1;
    rc = hcdl_thread_start_sized(&k->thread, run_task, k, TASK_STACK_BYTES);
    if (rc != 0) {
        /* no thread: do it here rather than fail a file operation */
        run_task(k);
    } else {
        k->started = 1;
    }
    return 1;
}

static task *check_task(lua_State *L)
{
    task *k = luaL_checkudata(L, 1, TASK_MT);
    if (!k->sync_ready)
        luaL_argerror(L, 1, "task is released");
    return k;
}

static int task_ready(lua_State *L)
{
    task *k = check_task(L);
    int d;
    pthread_mutex_lock(&k->mu);
    d = k->done;
    pthread_mutex_unlock(&k->mu);
    lua_pushboolean(L, d);
    return 1;
}

/* task:wait(seconds) -> done */
static int task_wait(lua_State *L)
{
    task *k = check_task(L);
    struct timespec ts;
    int d;
    hcdl_deadline_in(&ts, luaL_checknumber(L, 2));
    pthread_mutex_lock(&k->mu);
    while (!k->done)
        if (pthread_cond_timedwait(&k->cv, &k->mu, &ts) == ETIMEDOUT)
            break;
    d = k->done;
    pthread_mutex_unlock(&k->mu);
    lua_pushboolean(L, d);
    return 1;
}

/* task:result() -> true | md5 hex (hash) | nil, err; raises before done */
static int task_result(lua_State *L)
{
    task *k = check_task(L);
    int d;
    pthread_mutex_lock(&k->mu);
    d = k->done;
    pthread_mutex_unlock(&k->mu);
    if (!d)
        return luaL_error(L, "hcdl: task:result() before the task is done");
    if (k->err != 0) {
        const char *name = k->err_name != NULL ? k->err_name : k->path;
        if (k->dir_path != NULL && name != NULL) {
            size_t n = strlen(k->dir_path);
            lua_pushfstring(L, n > 0 && k->dir_path[n - 1] == '/' ? "%s%s" : "%s/%s", k->dir_path, name);
        } else {
            lua_pushstring(L, name != NULL ? name : "a file");
        }
        return hcdl_io_error(L, k->what, lua_tostring(L, -1), k->err);
    }
    if (k->op == OP_HASH)
        lua_pushstring(L, k->md5);
    else if (k->op == OP_VERIFY)
        hcdl_verifier_push(L, &k->check);
    else
        lua_pushboolean(L, 1);
    return 1;
}

void hcdl_task_init(lua_State *L)
{
    static const luaL_Reg methods[] = {
        {"ready", task_ready}, {"wait", task_wait}, {"result", task_result}, {NULL, NULL},
    };
    if (luaL_newmetatable(L, TASK_MT)) {
        lua_pushcfunction(L, task_gc);
        lua_setfield(L, -2, "__gc");
        lua_newtable(L);
        hcdl_setfuncs(L, methods, 0);
        lua_setfield(L, -2, "__index");
    }
    lua_pop(L, 1);
}
