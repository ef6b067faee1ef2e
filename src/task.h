/*
 * task.h - file operations that may take long (fsync, preallocation,
 * hashing a file, renaming into place, writing a small file atomically),
 * each run on a thread of its own so the host's loop keeps running.
 *
 * Like a transfer ticket, a task is waited for with task:wait(seconds)
 * (blocking) or polled with task:ready(); task:result() gives the outcome.
 * Every argument is copied (descriptors are duplicated) before the thread
 * starts; a collected task is waited for, never left running.
 */
#ifndef HCDL_TASK_H
#define HCDL_TASK_H

#include <lua.h>

void hcdl_task_init(lua_State *L);

/* Lua: core.task(op, args) -> task
 *   "commit"   { dir, part, final, state?, fsync?, mtime? }  rename part over final
 *   "hash"     { file }                     -> md5 hex of the whole file
 *   "allocate" { file, size, path? }        reserve the blocks
 *   "write"    { dir, name, data, fsync? }  replace name atomically
 *   "sync"     { file, path? }              fsync
 * Every op also takes wake = <engine>: when the task ends, that engine's
 * events move on and engine:wait returns, as when a transfer ends; a loop
 * waiting for transfers and tasks at once then waits on the engine alone. */
int hcdl_task_new(lua_State *L);

#endif
