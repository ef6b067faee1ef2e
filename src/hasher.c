/*
 * hasher.c - see hasher.h.
 *
 * Slots [tail, head) are handed over and digested in order by the thread;
 * the receiver fills slot `head` (fill bytes so far), which it may only
 * do while fewer than HCDL_HASHER_SLOTS are handed over, so the slot it
 * writes is never the one being digested.
 */
#include <stdlib.h>
#include <string.h>

#include "hasher.h"
#include "thread.h"

struct hcdl_hasher {
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv; /* a slot handed over, a slot freed, closing */
    hcdl_verifier *v;
    unsigned char *buf;
    size_t len[HCDL_HASHER_SLOTS];
    unsigned long head, tail;
    size_t fill;
    int closing, failed;
};

static unsigned char *slot(hcdl_hasher *h, unsigned long i)
{
    return h->buf + (i % HCDL_HASHER_SLOTS) * (size_t)HCDL_HASHER_SLOT;
}

/* Digests slots as they come; between two, one step of the verifier's
 * other work (a multipart ETag's parts), so neither waits for the other:
 * a step is short (hcdl_md5_lanes_step), and a slot never waits for more
 * than one.  What is left of that work at the end is the verifier's
 * finish. */
static void *run(void *arg)
{
    hcdl_hasher *h = arg;
    int more = 0; /* the verifier has work to do now */
    pthread_mutex_lock(&h->mu);
    for (;;) {
        unsigned long i;
        int bad;
        while (h->tail == h->head && !h->closing && !more)
            pthread_cond_wait(&h->cv, &h->mu);
        if (h->tail == h->head) {
            if (h->closing)
                break; /* all digested; the rest is the verifier's finish */
            pthread_mutex_unlock(&h->mu);
            more = hcdl_verifier_work(h->v);
            pthread_mutex_lock(&h->mu);
            continue;
        }
        i = h->tail;
        pthread_mutex_unlock(&h->mu);
        bad = hcdl_verifier_update(h->v, slot(h, i), h->len[i % HCDL_HASHER_SLOTS]) != 0;
        more = !bad && hcdl_verifier_work(h->v);
        pthread_mutex_lock(&h->mu);
        if (bad)
            h->failed = 1;
        h->tail++;
        pthread_cond_broadcast(&h->cv);
    }
    pthread_mutex_unlock(&h->mu);
    return NULL;
}

hcdl_hasher *hcdl_hasher_start(hcdl_verifier *v)
{
    hcdl_hasher *h = calloc(1, sizeof *h);
    if (h == NULL)
        return NULL;
    h->v = v;
    h->buf = malloc(HCDL_HASHER_BYTES);
    if (h->buf == NULL)
        goto no_buf;
    if (pthread_mutex_init(&h->mu, NULL) != 0)
        goto no_mutex;
    if (hcdl_cond_init(&h->cv) != 0)
        goto no_cond;
    hcdl_verifier_background(v, 1);
    if (hcdl_thread_start(&h->thread, run, h) != 0)
        goto no_thread;
    return h;
no_thread:
    hcdl_verifier_background(v, 0);
    pthread_cond_destroy(&h->cv);
no_cond:
    pthread_mutex_destroy(&h->mu);
no_mutex:
    free(h->buf);
no_buf:
    free(h);
    return NULL;
}

/* Hands the slot being filled to the thread (lock held). */
static void hand_over(hcdl_hasher *h)
{
    h->len[h->head % HCDL_HASHER_SLOTS] = h->fill;
    h->head++;
    h->fill = 0;
    pthread_cond_broadcast(&h->cv);
}

int hcdl_hasher_feed(hcdl_hasher *h, const unsigned char *p, size_t n)
{
    while (n > 0) {
        size_t take = HCDL_HASHER_SLOT - h->fill;
        if (take > n)
            take = n;
        /* the slot being filled is ours: no lock needed to write it */
        memcpy(slot(h, h->head) + h->fill, p, take);
        h->fill += take;
        p += take;
        n -= take;
        if (h->fill == HCDL_HASHER_SLOT) {
            int failed;
            pthread_mutex_lock(&h->mu);
            hand_over(h);
            while (h->head - h->tail >= HCDL_HASHER_SLOTS && !h->failed)
                pthread_cond_wait(&h->cv, &h->mu);
            failed = h->failed;
            pthread_mutex_unlock(&h->mu);
            if (failed)
                return -1;
        }
    }
    return 0;
}

int hcdl_hasher_stop(hcdl_hasher *h)
{
    int failed;
    pthread_mutex_lock(&h->mu);
    if (h->fill > 0)
        hand_over(h);
    h->closing = 1;
    pthread_cond_broadcast(&h->cv);
    pthread_mutex_unlock(&h->mu);
    pthread_join(h->thread, NULL);
    failed = h->failed;
    pthread_cond_destroy(&h->cv);
    pthread_mutex_destroy(&h->mu);
    free(h->buf);
    free(h);
    return failed ? -1 : 0;
}
