/*
 * engine.c - see engine.h.
 *
 * Threads and ownership:
 * - a job (one transfer) is created by the host, queued on `pending`, moved
 *   by the worker to its private `active` list, and marked done; from then
 *   on only the host touches it, through its ticket, which frees it;
 * - everything the two threads share (the pending queue, job states, the
 *   cancel/unpause requests, progress snapshots, stream buffers, the event
 *   counter) is guarded by the engine's mutex; libcurl calls happen outside
 *   it, so a write callback that needs the mutex never deadlocks;
 * - the engine's memory lives until the last of its userdata and tickets is
 *   collected (a reference count), so a ticket never outlives its engine.
 */
#define _POSIX_C_SOURCE 200809L
#define _DEFAULT_SOURCE /* MAP_ANONYMOUS, MADV_WIPEONFORK */

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/types.h>
#include <unistd.h>

#include <curl/curl.h>
#include <lauxlib.h>
#include <openssl/evp.h>

#include "clock.h"
#include "compat.h"
#include "engine.h"
#include "error.h"
#include "http.h"
#include "thread.h"
#include "transfer.h"

#define ENGINE_MT "hcdl.engine"
#define TICKET_MT "hcdl.ticket"
#define LINGER_SECONDS 2.0  /* an idle worker ends after this */
#define POLL_MS 100         /* the worker checks deadlines at least this often */
#define SPARE_HANDLES 8     /* finished easy handles kept for the next transfers */

enum { J_PENDING, J_ACTIVE, J_DONE };
enum { T_NONE, T_RUNNING, T_EXITED };

typedef struct job job;
struct job {
    hcdl_transfer t;
    int state;
    int cancel;      /* asked by the host */
    int orphan;      /* its ticket is gone: the worker frees it when done */
    const char *cancel_reason;
    job *next;       /* pending queue (shared) */
    job *anext;      /* active list (worker only) */
};

typedef struct {
    pthread_mutex_t mu;
    pthread_cond_t done_cv; /* the host waits here for results */
    pthread_cond_t work_cv; /* an idle worker waits here for work */
    pthread_t thread;
    int thread_state;
    int stop;
    int closed;
    int refs;
    pid_t pid;
    /* A page the kernel hands a forked child zeroed (MADV_WIPEONFORK), its
     * first byte set here: a fork is seen by reading it, with no getpid per
     * call.  NULL where the kernel cannot (then getpid is asked). */
    unsigned char *fork_mark;
    size_t fork_mark_len;
    long events;            /* bumped when a job ends or a stream has data */
    CURLM *multi;
    EVP_MD *md5_alg;
    hcdl_net net;
    job *pending, *pending_tail;
    job *active;            /* the worker's */
    int reshare;            /* the worker's: a job started or ended since the rate budget was shared */
    /* Easy handles of finished transfers, reset or keeping the settings of
     * a bare GET into memory, for the next ones (no
     * allocation and setup of a handle per request).  Touched only by
     * whoever drives the multi handle, like the multi itself. */
    CURL *spare[SPARE_HANDLES];
    int spare_plain[SPARE_HANDLES]; /* hcdl_transfer_give_back's word on each */
    int nspare;
    long handles_made, handles_reused; /* engine:handles() */
} engine;

typedef struct {
    engine *e;
} engine_ud;

typedef struct {
    engine *e;
    job *j;
    const void *tag; /* what the submitter needs to read the answer */
} ticket_ud;

/* ---- life ------------------------------------------------------------------ */

static int in_other_process(const engine *e)
{
    if (e->fork_mark != NULL)
        return *(volatile const unsigned char *)e->fork_mark == 0;
    return e->pid != getpid();
}

static void fork_mark_make(engine *e)
{
#if defined(MADV_WIPEONFORK) && defined(MAP_ANONYMOUS)
    long page = sysconf(_SC_PAGESIZE);
    void *p;
    if (page <= 0)
        return;
    p = mmap(NULL, (size_t)page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
        return;
    if (madvise(p, (size_t)page, MADV_WIPEONFORK) != 0) {
        munmap(p, (size_t)page); /* an older kernel: getpid it is */
        return;
    }
    e->fork_mark = p;
    e->fork_mark_len = (size_t)page;
    e->fork_mark[0] = 1;
#else
    (void)e;
#endif
}

static void fork_mark_free(engine *e)
{
    if (e->fork_mark != NULL)
        munmap(e->fork_mark, e->fork_mark_len);
    e->fork_mark = NULL;
}

static void job_free(job *j)
{
    hcdl_transfer_free(&j->t);
    free(j);
}

static void engine_free(engine *e)
{
    if (in_other_process(e)) {
        /* A fork copied this engine but not its thread; its curl handles
         * may share sockets with the parent: leave them alone. */
        hcdl_net_free(&e->net);
        fork_mark_free(e);
        free(e);
        return;
    }
    while (e->pending != NULL) {
        job *j = e->pending;
        e->pending = j->next;
        job_free(j);
    }
    while (e->nspare > 0)
        curl_easy_cleanup(e->spare[--e->nspare]);
    if (e->multi != NULL)
        curl_multi_cleanup(e->multi);
    if (e->md5_alg != NULL)
        EVP_MD_free(e->md5_alg);
    hcdl_net_free(&e->net);
    fork_mark_free(e);
    pthread_cond_destroy(&e->done_cv);
    pthread_cond_destroy(&e->work_cv);
    pthread_mutex_destroy(&e->mu);
    free(e);
}

/* Drops one reference (the lock must not be held). */
static void engine_unref(engine *e)
{
    int left;
    if (in_other_process(e)) {
        if (--e->refs == 0)
            engine_free(e);
        return;
    }
    pthread_mutex_lock(&e->mu);
    left = --e->refs;
    pthread_mutex_unlock(&e->mu);
    if (left == 0)
        engine_free(e);
}

/* Marks a job done and wakes its waiter, or frees it if nobody waits
 * (lock held). */
static void job_done(engine *e, job *j)
{
    if (j->orphan) {
        job_free(j);
        return;
    }
    j->state = J_DONE;
    e->events++;
    pthread_cond_broadcast(&e->done_cv);
}

static void fail_job(job *j, CURLcode rc, const char *why)
{
    if (why != NULL && j->t.errbuf[0] == '\0') {
        strncpy(j->t.errbuf, why, sizeof j->t.errbuf - 1);
        j->t.errbuf[sizeof j->t.errbuf - 1] = '\0';
    }
    hcdl_transfer_finish(&j->t, rc);
}

/* ---- the worker -------------------------------------------------------------- */

/* Moves queued jobs to the active list, and collects what the host asked
 * for, under the lock; the caller acts on it after unlocking. */
static void take_requests(engine *e, job **admit, job **cancel, job **unpause)
{
    job *j, *next;
    for (j = e->pending; j != NULL; j = next) {
        next = j->next;
        j->next = NULL;
        if (j->cancel) {
            fail_job(j, CURLE_ABORTED_BY_CALLBACK, j->cancel_reason);
            job_done(e, j);
            continue;
        }
        j->state = J_ACTIVE;
        j->anext = *admit;
        *admit = j;
    }
    e->pending = e->pending_tail = NULL;
    for (j = e->active; j != NULL; j = j->anext) {
        if (j->cancel || e->stop) {
            j->next = *cancel;
            *cancel = j;
        } else if (j->t.unpause) {
            j->t.unpause = 0;
            j->t.paused = 0;
            j->next = *unpause;
            *unpause = j;
        }
    }
}

static void unlink_active(engine *e, job *j)
{
    job **p;
    for (p = &e->active; *p != NULL; p = &(*p)->anext) {
        if (*p == j) {
            *p = j->anext;
            return;
        }
    }
}

/* Keeps a finished transfer's easy handle for the next one, or frees it. */
static void keep_handle(engine *e, hcdl_transfer *t)
{
    int plain;
    CURL *easy = hcdl_transfer_give_back(t, &plain);
    if (easy == NULL)
        return;
    if (e->nspare < SPARE_HANDLES) {
        e->spare_plain[e->nspare] = plain;
        e->spare[e->nspare++] = easy;
    } else {
        curl_easy_cleanup(easy);
    }
}

/* Ends an active job: out of the multi handle, then done (takes the lock).
 * Its easy handle is kept once the results are read from it. */
static void end_job(engine *e, job *j, CURLcode rc, const char *why)
{
    if (j->t.easy != NULL)
        curl_multi_remove_handle(e->multi, j->t.easy);
    unlink_active(e, j);
    e->reshare = 1;
    fail_job(j, rc, why);
    keep_handle(e, &j->t);
    pthread_mutex_lock(&e->mu);
    job_done(e, j);
    pthread_mutex_unlock(&e->mu);
}

static void admit_jobs(engine *e, job *admit)
{
    job *j, *next;
    for (j = admit; j != NULL; j = next) {
        CURLcode rc;
        CURL *spare;
        int plain = 0;
        next = j->anext;
        j->anext = e->active;
        e->active = j;
        e->reshare = 1;
        spare = NULL;
        if (e->nspare > 0) {
            spare = e->spare[--e->nspare];
            plain = e->spare_plain[e->nspare];
        }
        pthread_mutex_lock(&e->mu); /* the counts are read by the host */
        if (spare != NULL)
            e->handles_reused++;
        else
            e->handles_made++;
        pthread_mutex_unlock(&e->mu);
        rc = hcdl_transfer_setup(&j->t, spare, plain, &e->net, e->md5_alg);
        if (rc == CURLE_OK && curl_multi_add_handle(e->multi, j->t.easy) != CURLM_OK)
            rc = CURLE_OUT_OF_MEMORY;
        if (rc != CURLE_OK) {
            if (j->t.easy != NULL) {
                curl_easy_cleanup(j->t.easy); /* never added: no multi removal */
                j->t.easy = NULL;
            }
            end_job(e, j, rc, NULL);
        }
    }
}

static void read_finished(engine *e)
{
    CURLMsg *m;
    int left = 0;
    while ((m = curl_multi_info_read(e->multi, &left)) != NULL) {
        char *priv = NULL;
        if (m->msg != CURLMSG_DONE)
            continue;
        curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, &priv);
        /* the transfer is the first member of its job */
        end_job(e, (job *)(void *)priv, m->data.result, NULL);
    }
}

/* Ends jobs whose deadline passed; returns ms until the next deadline. */
static long enforce_deadlines(engine *e)
{
    double now = hcdl_monotonic(), next = 0;
    long wait = POLL_MS;
    job *j = e->active, *n;
    while (j != NULL) {
        n = j->anext;
        if (j->t.deadline > 0 && now >= j->t.deadline)
            end_job(e, j, CURLE_OPERATION_TIMEDOUT, "the deadline passed during the transfer");
        else if (j->t.deadline > 0 && (next == 0 || j->t.deadline < next))
            next = j->t.deadline;
        j = n;
    }
    if (next > 0 && (next - now) * 1000 < wait)
        wait = (long)((next - now) * 1000) + 1;
    return wait;
}

static void snapshot_progress(engine *e)
{
    job *j;
    pthread_mutex_lock(&e->mu);
    for (j = e->active; j != NULL; j = j->anext) {
        j->t.shared_written = j->t.written;
        j->t.shared_synced = j->t.synced;
    }
    pthread_mutex_unlock(&e->mu);
}

/*
 * The client's max_rate is one budget for all of its engine's transfers
 * (API calls and downloads, whichever call started them): each active
 * transfer gets an even share, at most its own max_rate, divided again
 * whenever a transfer starts or ends (never below twice low_speed_limit,
 * the stall guard).  libcurl reads the cap at each of
 * its pacing checks, so a new share holds from the next read on; why this
 * rather than pausing transfers: docs/options.md "max_rate".
 */
static void share_rate(engine *e)
{
    long long budget = hcdl_net_num(&e->net, HCDL_OPT_MAX_RATE), share;
    int n = 0;
    job *j, *next;
    if (budget <= 0 || !e->reshare)
        return;
    e->reshare = 0;
    for (j = e->active; j != NULL; j = j->anext)
        n++;
    if (n == 0)
        return;
    share = budget / n;
    /* never below twice the stall guard, or every share would end as a
     * stall: many transfers at once may then pass the budget (as
     * download.lua's per-call shares do) */
    if (share < 2 * hcdl_net_num(&e->net, HCDL_OPT_LOW_SPEED_LIMIT))
        share = 2 * hcdl_net_num(&e->net, HCDL_OPT_LOW_SPEED_LIMIT);
    for (j = e->active; j != NULL; j = next) {
        long long own = j->t.opt[HCDL_OPT_MAX_RATE].num;
        CURLcode rc = curl_easy_setopt(j->t.easy, CURLOPT_MAX_RECV_SPEED_LARGE,
                                       (curl_off_t)(own > 0 && own < share ? own : share));
        next = j->anext;
        if (rc != CURLE_OK)
            end_job(e, j, rc, "the rate limit could not be set");
    }
}

/* One turn of the wheel: act on the host's requests, let curl work for at
 * most max_ms (lock not held). */
static void drive(engine *e, job *admit, job *cancel, job *unpause, long max_ms)
{
    job *j, *n;
    int running = 0;
    admit_jobs(e, admit);
    for (j = cancel; j != NULL; j = n) {
        n = j->next;
        j->next = NULL;
        end_job(e, j, CURLE_ABORTED_BY_CALLBACK,
                j->cancel_reason != NULL ? j->cancel_reason : "cancelled");
    }
    for (j = unpause; j != NULL; j = n) {
        n = j->next;
        j->next = NULL;
        curl_easy_pause(j->t.easy, CURLPAUSE_CONT);
    }
    share_rate(e);
    if (e->active == NULL)
        return;
    curl_multi_perform(e->multi, &running);
    read_finished(e);
    share_rate(e);
    snapshot_progress(e);
    if (e->active != NULL) {
        long wait = enforce_deadlines(e);
        if (wait > max_ms)
            wait = max_ms;
        if (e->active != NULL && wait > 0)
            curl_multi_poll(e->multi, NULL, 0, (int)wait, NULL);
    }
}

/* A turn taken by whoever drives (the worker, or a blocking waiter). */
static void turn(engine *e, long max_ms)
{
    job *admit = NULL, *cancel = NULL, *unpause = NULL;
    pthread_mutex_lock(&e->mu);
    take_requests(e, &admit, &cancel, &unpause);
    pthread_mutex_unlock(&e->mu);
    drive(e, admit, cancel, unpause, max_ms);
}

static void *worker(void *arg)
{
    engine *e = arg;
    double idle_since = hcdl_monotonic();
    pthread_mutex_lock(&e->mu);
    for (;;) {
        job *admit = NULL, *cancel = NULL, *unpause = NULL;
        int stopping = e->stop;
        take_requests(e, &admit, &cancel, &unpause);
        if (admit == NULL && e->active == NULL) {
            struct timespec ts;
            if (stopping || hcdl_monotonic() - idle_since >= LINGER_SECONDS)
                break;
            hcdl_deadline_in(&ts, LINGER_SECONDS);
            pthread_cond_timedwait(&e->work_cv, &e->mu, &ts);
            continue;
        }
        pthread_mutex_unlock(&e->mu);
        drive(e, admit, cancel, unpause, POLL_MS);
        idle_since = hcdl_monotonic();
        pthread_mutex_lock(&e->mu);
    }
    e->thread_state = T_EXITED;
    pthread_cond_broadcast(&e->done_cv);
    pthread_mutex_unlock(&e->mu);
    return NULL;
}

/* A running worker has new requests to act on (lock held). */
static void nudge_worker(engine *e)
{
    if (e->thread_state == T_RUNNING) {
        pthread_cond_signal(&e->work_cv);
        curl_multi_wakeup(e->multi);
    }
}

static int has_work(const engine *e)
{
    return e->pending != NULL || e->active != NULL;
}

/*
 * Makes sure a worker runs (lock held): for hosts that poll ticket:ready()
 * between their own sleeps, nobody else drives the transfers.  A blocking
 * waiter drives them itself, on its own thread (no hand-off, no thread at
 * all in a plain script).  0 or an errno.
 */
static int ensure_worker(engine *e)
{
    int rc;
    if (e->thread_state == T_RUNNING) {
        nudge_worker(e);
        return 0;
    }
    if (e->thread_state == T_EXITED) {
        pthread_join(e->thread, NULL); /* it has returned or is returning */
        e->thread_state = T_NONE;
    }
    rc = hcdl_thread_start(&e->thread, worker, e);
    if (rc == 0)
        e->thread_state = T_RUNNING;
    return rc;
}

/* Stops the worker and ends every job (host thread). */
static void engine_close(engine *e)
{
    job *j;
    if (in_other_process(e)) {
        e->closed = 1;
        return;
    }
    pthread_mutex_lock(&e->mu);
    if (e->closed) {
        pthread_mutex_unlock(&e->mu);
        return;
    }
    e->closed = 1;
    e->stop = 1;
    if (e->thread_state == T_RUNNING) {
        pthread_cond_signal(&e->work_cv);
        curl_multi_wakeup(e->multi);
    }
    pthread_mutex_unlock(&e->mu);
    if (e->thread_state != T_NONE) {
        pthread_join(e->thread, NULL);
        e->thread_state = T_NONE;
    }
    /* No worker (or it is gone): end what is still running here. */
    if (e->active != NULL)
        turn(e, 0);
    /* nothing drives the multi any more: the kept handles can go */
    while (e->nspare > 0)
        curl_easy_cleanup(e->spare[--e->nspare]);
    /* Whatever was never admitted ends here. */
    pthread_mutex_lock(&e->mu);
    while ((j = e->pending) != NULL) {
        e->pending = j->next;
        fail_job(j, CURLE_ABORTED_BY_CALLBACK, "the client was closed");
        job_done(e, j);
    }
    e->pending_tail = NULL;
    pthread_mutex_unlock(&e->mu);
}

/* ---- Lua: engine --------------------------------------------------------------- */

static engine *check_engine(lua_State *L, int idx)
{
    engine_ud *u = luaL_checkudata(L, idx, ENGINE_MT);
    if (u->e == NULL)
        luaL_argerror(L, idx, "engine is collected");
    return u->e;
}

static int engine_gc(lua_State *L)
{
    engine_ud *u = luaL_checkudata(L, 1, ENGINE_MT);
    if (u->e != NULL) {
        engine_close(u->e);
        engine_unref(u->e);
        u->e = NULL;
    }
    return 0;
}

static int engine_close_l(lua_State *L)
{
    engine_close(check_engine(L, 1));
    return 0;
}

/* core.engine(net_options) -> engine | nil, err */
int hcdl_engine_new(lua_State *L)
{
    engine_ud *u;
    engine *e;
    hcdl_net net;
    int rc = hcdl_net_read(L, 1, &net);
    if (rc != 0)
        return rc;
    if (hcdl_http_global_init() != 0) {
        hcdl_net_free(&net);
        lua_pushnil(L);
        hcdl_error_push(L, "network", "libcurl could not be initialised");
        return 2;
    }
    u = lua_newuserdata(L, sizeof *u); /* may raise: net is freed below only after */
    u->e = NULL;
    luaL_getmetatable(L, ENGINE_MT);
    lua_setmetatable(L, -2);
    e = calloc(1, sizeof *e);
    if (e == NULL) {
        hcdl_net_free(&net);
        return luaL_error(L, "hcdl: out of memory");
    }
    e->net = net;
    e->pid = getpid();
    e->refs = 1;
    if (pthread_mutex_init(&e->mu, NULL) != 0) {
        hcdl_net_free(&e->net);
        free(e);
        return luaL_error(L, "hcdl: cannot create a mutex");
    }
    if (hcdl_cond_init(&e->done_cv) != 0 || hcdl_cond_init(&e->work_cv) != 0) {
        /* (a failed init leaves nothing to destroy on Linux) */
        pthread_mutex_destroy(&e->mu);
        hcdl_net_free(&e->net);
        free(e);
        return luaL_error(L, "hcdl: cannot create a condition variable");
    }
    u->e = e; /* from here on, __gc releases everything */
    fork_mark_make(e);
    e->multi = curl_multi_init();
    e->md5_alg = EVP_MD_fetch(NULL, "MD5", NULL);
    if (e->multi == NULL || e->md5_alg == NULL)
        return luaL_error(L, "hcdl: cannot create a transfer engine");
    if (hcdl_options_apply_multi(e->multi, e->net.v) != CURLM_OK)
        return luaL_error(L, "hcdl: cannot configure the transfer engine");
    return 1;
}

static job *new_job(lua_State *L)
{
    job *j = calloc(1, sizeof *j);
    if (j == NULL)
        luaL_error(L, "hcdl: out of memory");
    return j;
}

int hcdl_engine_submit(lua_State *L, int engine_idx, hcdl_fill_fn fill, void *ud, const void *tag)
{
    engine *e = check_engine(L, engine_idx);
    ticket_ud *tk;
    job *j;
    int rc, ticket;
    if (in_other_process(e)) {
        lua_pushnil(L);
        hcdl_error_push(L, "input", "this client was created in another process (before a fork): "
                        "create the client in the process that uses it");
        return 2;
    }
    if (e->closed)
        return luaL_error(L, "hcdl: the client is closed");
    /* The ticket first: it owns the job from here, so a raise anywhere
     * below (out of memory, a bad spec) leaks nothing. */
    tk = lua_newuserdata(L, sizeof *tk);
    ticket = lua_gettop(L);
    tk->e = NULL;
    tk->j = NULL;
    tk->tag = tag;
    luaL_getmetatable(L, TICKET_MT);
    lua_setmetatable(L, -2);
    j = new_job(L);
    tk->j = j;
    tk->e = e;
    j->t.fd = -1;
    pthread_mutex_lock(&e->mu);
    e->refs++;
    pthread_mutex_unlock(&e->mu);
    j->state = J_DONE; /* not queued yet: the ticket's __gc may free it */
    rc = fill(L, &j->t, ud);
    if (rc != 0)
        return rc; /* nil, err on the stack */
    j->t.lock = &e->mu;
    pthread_mutex_lock(&e->mu);
    j->state = J_PENDING;
    if (e->pending_tail != NULL)
        e->pending_tail->next = j;
    else
        e->pending = j;
    e->pending_tail = j;
    nudge_worker(e);
    pthread_mutex_unlock(&e->mu);
    lua_pushvalue(L, ticket);
    return 1;
}

static int fill_from_spec(lua_State *L, hcdl_transfer *t, void *ud)
{
    return hcdl_transfer_read(L, *(int *)ud, t);
}

/* engine:start(spec) -> ticket | nil, err */
static int engine_start(lua_State *L)
{
    int spec = 2;
    check_engine(L, 1);
    luaL_checktype(L, 2, LUA_TTABLE);
    lua_settop(L, 2);
    return hcdl_engine_submit(L, 1, fill_from_spec, &spec, NULL);
}

/* engine:events() -> n (changes whenever a transfer ends or streams data,
 * or a task given this engine as `wake` ends) */
static int engine_events(lua_State *L)
{
    engine *e = check_engine(L, 1);
    long n;
    pthread_mutex_lock(&e->mu);
    n = e->events;
    pthread_mutex_unlock(&e->mu);
    hcdl_pushinteger(L, n);
    return 1;
}

/*
 * Blocks until ready(e, arg) or `secs` pass.  With a worker running, waits
 * on its condition variable; without one, drives the transfers on this
 * thread in slices (so a signal's Lua hook, e.g. Ctrl-C, runs within one
 * slice).  Returns ready.
 */
typedef int (*ready_fn)(engine *e, const void *arg);

static int block_until(engine *e, ready_fn ready, const void *arg, double secs)
{
    double end = hcdl_monotonic() + secs;
    for (;;) {
        int r, worker;
        double left;
        pthread_mutex_lock(&e->mu);
        r = ready(e, arg);
        worker = e->thread_state == T_RUNNING;
        if (!r && worker) {
            struct timespec ts;
            hcdl_deadline_in(&ts, end - hcdl_monotonic());
            while (!(r = ready(e, arg)) && e->thread_state == T_RUNNING)
                if (pthread_cond_timedwait(&e->done_cv, &e->mu, &ts) == ETIMEDOUT)
                    break;
            r = ready(e, arg);
            worker = e->thread_state == T_RUNNING;
        }
        pthread_mutex_unlock(&e->mu);
        left = end - hcdl_monotonic();
        if (r || left <= 0)
            return r;
        if (!worker) {
            if (!has_work(e)) {
                /* nothing in flight could make it ready (every file waits
                 * out a backoff, say): wait out the time asked for, a
                 * slice at most, rather than hand back at once and have
                 * the caller's loop spin on a core */
                hcdl_sleep(left * 1000 < POLL_MS ? left : POLL_MS / 1000.0);
                return 0;
            }
            turn(e, left * 1000 < POLL_MS ? (long)(left * 1000) + 1 : POLL_MS);
        }
    }
}

static int events_moved(engine *e, const void *arg)
{
    return e->events != *(const long *)arg;
}

/* engine:wait(seconds, since) -> true when events moved past `since` */
static int engine_wait(lua_State *L)
{
    engine *e = check_engine(L, 1);
    lua_Number secs = luaL_checknumber(L, 2);
    long since = (long)luaL_checknumber(L, 3);
    lua_pushboolean(L, block_until(e, events_moved, &since, secs));
    return 1;
}

/* engine:busy() -> true while transfers are queued or running: a caller
 * with only threads of its own to wait for waits on those instead */
static int engine_busy(lua_State *L)
{
    engine *e = check_engine(L, 1);
    int r;
    pthread_mutex_lock(&e->mu);
    r = has_work(e);
    pthread_mutex_unlock(&e->mu);
    lua_pushboolean(L, r);
    return 1;
}

/* engine:handles() -> easy handles made, and reused (kept from finished
 * transfers): what tests and benchmarks can see of the handle pool */
static int engine_handles(lua_State *L)
{
    engine *e = check_engine(L, 1);
    long made, reused;
    pthread_mutex_lock(&e->mu);
    made = e->handles_made;
    reused = e->handles_reused;
    pthread_mutex_unlock(&e->mu);
    hcdl_pushinteger(L, made);
    hcdl_pushinteger(L, reused);
    return 2;
}

/* engine:ready(since) -> true when events moved past `since`; for hosts
 * that poll: a worker drives the transfers meanwhile */
static int engine_ready(lua_State *L)
{
    engine *e = check_engine(L, 1);
    long since = (long)luaL_checknumber(L, 2);
    int r;
    pthread_mutex_lock(&e->mu);
    r = e->events != since;
    if (!r && has_work(e))
        ensure_worker(e);
    pthread_mutex_unlock(&e->mu);
    lua_pushboolean(L, r);
    return 1;
}

/* ---- Lua: tickets ------------------------------------------------------------- */

static ticket_ud *check_ticket(lua_State *L, int idx)
{
    ticket_ud *tk = luaL_checkudata(L, idx, TICKET_MT);
    if (tk->j == NULL)
        luaL_argerror(L, idx, "the transfer's result was already taken");
    return tk;
}

hcdl_transfer *hcdl_ticket_transfer(lua_State *L, int idx, const void **tag)
{
    ticket_ud *tk = check_ticket(L, idx);
    int done;
    pthread_mutex_lock(&tk->e->mu);
    done = tk->j->state == J_DONE;
    pthread_mutex_unlock(&tk->e->mu);
    *tag = tk->tag;
    return done ? &tk->j->t : NULL;
}

/* The job is freed and the engine released at once, once the answer is
 * read: the ticket's collection then has nothing left to do. */
void hcdl_ticket_spend(lua_State *L, int idx)
{
    ticket_ud *tk = check_ticket(L, idx);
    engine *e = tk->e;
    job_free(tk->j);
    tk->j = NULL;
    tk->e = NULL;
    engine_unref(e);
}

static int ticket_gc(lua_State *L)
{
    ticket_ud *tk = luaL_checkudata(L, 1, TICKET_MT);
    engine *e = tk->e;
    job *j = tk->j;
    tk->j = NULL;
    tk->e = NULL;
    if (e == NULL)
        return 0;
    if (j != NULL) {
        if (in_other_process(e)) {
            job_free(j);
        } else {
            int free_now;
            pthread_mutex_lock(&e->mu);
            free_now = j->state == J_DONE;
            if (!free_now) {
                /* still running: nobody will read it, so cancel it and
                 * let the worker free it */
                j->orphan = 1;
                j->cancel = 1;
                if (e->thread_state == T_RUNNING)
                    curl_multi_wakeup(e->multi);
            }
            pthread_mutex_unlock(&e->mu);
            if (free_now)
                job_free(j);
        }
    }
    engine_unref(e);
    return 0;
}

static int is_ready(const job *j)
{
    return j->state == J_DONE || j->t.stream.len > 0;
}

static int job_ready(engine *e, const void *arg)
{
    (void)e;
    return is_ready((const job *)arg);
}

/* ticket:ready() -> true when done (or, streaming, when data is waiting);
 * for hosts that poll: a worker drives the transfer meanwhile */
static int ticket_ready(lua_State *L)
{
    ticket_ud *tk = check_ticket(L, 1);
    int r;
    pthread_mutex_lock(&tk->e->mu);
    r = is_ready(tk->j);
    if (!r)
        ensure_worker(tk->e);
    pthread_mutex_unlock(&tk->e->mu);
    lua_pushboolean(L, r);
    return 1;
}

/* ticket:wait(seconds) -> ready (blocks this thread at most `seconds`) */
static int ticket_wait(lua_State *L)
{
    ticket_ud *tk = check_ticket(L, 1);
    lua_pushboolean(L, block_until(tk->e, job_ready, tk->j, luaL_checknumber(L, 2)));
    return 1;
}

/* ticket:finished() -> true once the transfer has ended */
static int ticket_finished(lua_State *L)
{
    ticket_ud *tk = check_ticket(L, 1);
    int d;
    pthread_mutex_lock(&tk->e->mu);
    d = tk->j->state == J_DONE;
    pthread_mutex_unlock(&tk->e->mu);
    lua_pushboolean(L, d);
    return 1;
}

/* A buffer owned by a userdata, so a raise while pushing it (out of memory)
 * leaves it to the collector instead of leaking it. */
#define HOLDER_MT "hcdl.buffer"

static int holder_gc(lua_State *L)
{
    hcdl_buf_free(luaL_checkudata(L, 1, HOLDER_MT));
    return 0;
}

static hcdl_buf *push_holder(lua_State *L)
{
    hcdl_buf *b = lua_newuserdata(L, sizeof *b);
    memset(b, 0, sizeof *b);
    luaL_getmetatable(L, HOLDER_MT);
    lua_setmetatable(L, -2);
    return b;
}

/* ticket:headers() -> the accepted answer's headers once its body started
 * (downloads), else nil */
static int ticket_headers(lua_State *L)
{
    ticket_ud *tk = check_ticket(L, 1);
    hcdl_buf *copy = push_holder(L);
    int failed = 0;
    pthread_mutex_lock(&tk->e->mu);
    if (tk->j->t.shared_head.len > 0)
        failed = hcdl_buf_append(copy, tk->j->t.shared_head.data, tk->j->t.shared_head.len) != 0;
    pthread_mutex_unlock(&tk->e->mu);
    if (failed)
        return luaL_error(L, "hcdl: out of memory");
    if (copy->len == 0) {
        lua_pushnil(L);
        return 1;
    }
    hcdl_http_push_headers(L, copy);
    hcdl_buf_free(copy);
    return 1;
}

/* ticket:progress() -> bytes received, bytes known to be on disk */
static int ticket_progress(lua_State *L)
{
    ticket_ud *tk = check_ticket(L, 1);
    long long w, s;
    pthread_mutex_lock(&tk->e->mu);
    if (tk->j->state == J_DONE) {
        w = tk->j->t.written;
        s = tk->j->t.synced;
    } else {
        w = tk->j->t.shared_written;
        s = tk->j->t.shared_synced;
    }
    pthread_mutex_unlock(&tk->e->mu);
    hcdl_pushinteger(L, w);
    hcdl_pushinteger(L, s);
    return 2;
}

/* ticket:read() -> the streamed bytes not read yet ("" when none) */
static int ticket_read(lua_State *L)
{
    ticket_ud *tk = check_ticket(L, 1);
    engine *e = tk->e;
    hcdl_buf *taken = push_holder(L);
    pthread_mutex_lock(&e->mu);
    *taken = tk->j->t.stream;
    memset(&tk->j->t.stream, 0, sizeof tk->j->t.stream);
    if (tk->j->t.paused && tk->j->state != J_DONE) {
        /* room again: let the worker resume the paused transfer */
        tk->j->t.unpause = 1;
        if (e->thread_state == T_RUNNING)
            curl_multi_wakeup(e->multi);
    }
    pthread_mutex_unlock(&e->mu);
    lua_pushlstring(L, taken->data != NULL ? taken->data : "", taken->len);
    hcdl_buf_free(taken);
    return 1;
}

/* ticket:cancel([reason]) */
static int ticket_cancel(lua_State *L)
{
    ticket_ud *tk = check_ticket(L, 1);
    engine *e = tk->e;
    pthread_mutex_lock(&e->mu);
    if (tk->j->state != J_DONE) {
        tk->j->cancel = 1;
        tk->j->cancel_reason = "cancelled";
        if (e->thread_state == T_RUNNING)
            curl_multi_wakeup(e->multi);
    }
    pthread_mutex_unlock(&e->mu);
    return 0;
}

/* ticket:result() -> the result table once done (nil before); the ticket
 * is spent afterwards */
static int ticket_result(lua_State *L)
{
    ticket_ud *tk = check_ticket(L, 1);
    int done;
    pthread_mutex_lock(&tk->e->mu);
    done = tk->j->state == J_DONE;
    pthread_mutex_unlock(&tk->e->mu);
    if (!done) {
        lua_pushnil(L);
        return 1;
    }
    hcdl_transfer_push_result(L, &tk->j->t);
    job_free(tk->j);
    tk->j = NULL;
    return 1;
}

/* ---- Lua: a blocking request (what core.session:perform was) ------------ */

/* engine:perform(spec) -> { status, headers, body } | nil, err */
static int engine_perform(lua_State *L)
{
    int top;
    lua_settop(L, 2);
    lua_pushcfunction(L, engine_start);
    lua_pushvalue(L, 1);
    lua_pushvalue(L, 2);
    lua_call(L, 2, 2);
    if (lua_isnil(L, -2))
        return 2;
    lua_pop(L, 1);
    top = lua_gettop(L); /* the ticket */
    for (;;) {
        lua_pushcfunction(L, ticket_wait);
        lua_pushvalue(L, top);
        lua_pushnumber(L, 3600);
        lua_call(L, 2, 1);
        if (lua_toboolean(L, -1))
            break;
        lua_pop(L, 1);
    }
    lua_pushcfunction(L, ticket_result);
    lua_pushvalue(L, top);
    lua_call(L, 1, 1);
    lua_getfield(L, -1, "error");
    if (!lua_isnil(L, -1)) {
        lua_pushnil(L);
        lua_insert(L, -2);
        return 2;
    }
    lua_pop(L, 1);
    return 1;
}

int hcdl_engine_pid(lua_State *L)
{
    hcdl_pushinteger(L, getpid());
    return 1;
}

void hcdl_engine_init(lua_State *L)
{
    static const luaL_Reg engine_methods[] = {
        {"start", engine_start}, {"events", engine_events}, {"wait", engine_wait},
        {"ready", engine_ready}, {"busy", engine_busy}, {"handles", engine_handles},
        {"perform", engine_perform}, {"close", engine_close_l}, {NULL, NULL},
    };
    static const luaL_Reg ticket_methods[] = {
        {"ready", ticket_ready}, {"wait", ticket_wait}, {"progress", ticket_progress},
        {"finished", ticket_finished}, {"headers", ticket_headers},
        {"read", ticket_read}, {"cancel", ticket_cancel}, {"result", ticket_result},
        {NULL, NULL},
    };
    if (luaL_newmetatable(L, ENGINE_MT)) {
        lua_pushcfunction(L, engine_gc);
        lua_setfield(L, -2, "__gc");
#if LUA_VERSION_NUM >= 504
        lua_pushcfunction(L, engine_close_l);
        lua_setfield(L, -2, "__close");
#endif
        lua_newtable(L);
        hcdl_setfuncs(L, engine_methods, 0);
        lua_setfield(L, -2, "__index");
    }
    lua_pop(L, 1);
    if (luaL_newmetatable(L, HOLDER_MT)) {
        lua_pushcfunction(L, holder_gc);
        lua_setfield(L, -2, "__gc");
    }
    lua_pop(L, 1);
    if (luaL_newmetatable(L, TICKET_MT)) {
        lua_pushcfunction(L, ticket_gc);
        lua_setfield(L, -2, "__gc");
        lua_newtable(L);
        hcdl_setfuncs(L, ticket_methods, 0);
        lua_setfield(L, -2, "__index");
    }
    lua_pop(L, 1);
}

/* ---- C: waking the host from a task (engine.h) ------------------------------ */

struct hcdl_engine_hold {
    engine *e;
};

hcdl_engine_hold_t *hcdl_engine_hold(lua_State *L, int idx)
{
    engine *e = check_engine(L, idx);
    hcdl_engine_hold_t *h = malloc(sizeof *h);
    if (h == NULL)
        luaL_error(L, "hcdl: out of memory");
    h->e = e;
    if (in_other_process(e)) {
        e->refs++;
        return h;
    }
    pthread_mutex_lock(&e->mu);
    e->refs++;
    pthread_mutex_unlock(&e->mu);
    return h;
}

void hcdl_engine_wake(hcdl_engine_hold_t *h)
{
    engine *e = h->e;
    if (in_other_process(e))
        return;
    pthread_mutex_lock(&e->mu);
    e->events++;
    pthread_cond_broadcast(&e->done_cv);
    /* a host driving the transfers itself sits in curl_multi_poll, not on
     * done_cv (block_until): wake it there too */
    if (e->multi != NULL)
        curl_multi_wakeup(e->multi);
    pthread_mutex_unlock(&e->mu);
}

void hcdl_engine_release(hcdl_engine_hold_t *h)
{
    if (h == NULL)
        return;
    engine_unref(h->e);
    free(h);
}
