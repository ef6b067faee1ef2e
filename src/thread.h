/*
 * thread.h - starting the threads hcdl owns.
 *
 * hcdl runs transfers and file operations on threads of its own so that the
 * host's thread (a plain script, an nginx worker, Neovim's main loop) only
 * decides and waits.  Signals stay with the host: every thread starts with
 * all signals blocked, so SIGINT, SIGHUP or nginx's control signals are
 * delivered to the host thread, never to ours.
 */
#ifndef HCDL_THREAD_H
#define HCDL_THREAD_H

#include <pthread.h>
#include <stddef.h>

/* pthread_create with every signal blocked in the new thread: 0 or an errno. */
int hcdl_thread_start(pthread_t *t, void *(*fn)(void *), void *arg);

/* The same with a stack of stack_bytes (0: the system's default).  A
 * short-lived thread with a small stack is cheap to start many times: the
 * C library keeps the stacks of ended threads (glibc up to 40 MiB in all)
 * and hands them to new ones, where 8 MiB default stacks would be unmapped
 * and mapped again for nearly every thread. */
int hcdl_thread_start_sized(pthread_t *t, void *(*fn)(void *), void *arg, size_t stack_bytes);

/* Monotonic seconds (CLOCK_MONOTONIC). */
double hcdl_monotonic(void);

/* An absolute CLOCK_MONOTONIC timespec `seconds` from now, for
 * pthread_cond_timedwait on a condition variable set up by hcdl_cond_init. */
void hcdl_deadline_in(struct timespec *ts, double seconds);

/* A condition variable that waits on CLOCK_MONOTONIC (immune to clock
 * changes): 0 or an errno. */
int hcdl_cond_init(pthread_cond_t *cv);

#endif
