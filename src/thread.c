/*
 * thread.c - see thread.h.
 */
#define _POSIX_C_SOURCE 200809L

#include <signal.h>
#include <time.h>

#include "thread.h"

int hcdl_thread_start(pthread_t *t, void *(*fn)(void *), void *arg)
{
    return hcdl_thread_start_sized(t, fn, arg, 0);
}

int hcdl_thread_start_sized(pthread_t *t, void *(*fn)(void *), void *arg, size_t stack_bytes)
{
    pthread_attr_t attr;
    sigset_t all, old;
    int rc, rc2;
    rc = pthread_attr_init(&attr);
    if (rc != 0)
        return rc;
    if (stack_bytes > 0)
        rc = pthread_attr_setstacksize(&attr, stack_bytes);
    if (rc == 0) {
        sigfillset(&all);
        /* The new thread inherits the creator's mask: block everything for
         * the moment of creation, then give the creator its own mask back. */
        rc = pthread_sigmask(SIG_SETMASK, &all, &old);
    }
    if (rc != 0) {
        pthread_attr_destroy(&attr);
        return rc;
    }
    rc = pthread_create(t, &attr, fn, arg);
    rc2 = pthread_sigmask(SIG_SETMASK, &old, NULL);
    pthread_attr_destroy(&attr);
    return rc != 0 ? rc : rc2;
}

double hcdl_monotonic(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void hcdl_deadline_in(struct timespec *ts, double seconds)
{
    long long ns;
    clock_gettime(CLOCK_MONOTONIC, ts);
    if (seconds < 0)
        seconds = 0;
    if (seconds > 86400.0 * 365)
        seconds = 86400.0 * 365;
    ns = (long long)ts->tv_nsec + (long long)((seconds - (double)(long long)seconds) * 1e9);
    ts->tv_sec += (time_t)seconds + (time_t)(ns / 1000000000LL);
    ts->tv_nsec = (long)(ns % 1000000000LL);
}

int hcdl_cond_init(pthread_cond_t *cv)
{
    pthread_condattr_t a;
    int rc = pthread_condattr_init(&a);
    if (rc != 0)
        return rc;
    rc = pthread_condattr_setclock(&a, CLOCK_MONOTONIC);
    if (rc == 0)
        rc = pthread_cond_init(cv, &a);
    pthread_condattr_destroy(&a);
    return rc;
}
