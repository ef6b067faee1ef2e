/*
 * transfer.h - one HTTP transfer: an API request into memory, a download
 * into a file at an offset, or a download streamed to Lua in chunks.
 *
 * A transfer is read from its Lua spec on the host's thread (every string
 * copied), run by the engine's worker thread (plain C callbacks, no Lua),
 * and turned back into a Lua table on the host's thread once finished.
 * Lua decides policy; a transfer only moves bytes and reports exactly what
 * happened, and refuses to write a byte anywhere it was not asked to.
 */
#ifndef HCDL_TRANSFER_H
#define HCDL_TRANSFER_H

#include <pthread.h>

#include <curl/curl.h>
#include <lua.h>
#include <openssl/evp.h>

#include "buf.h"
#include "http.h"
#include "sign.h"
#include "verifier.h"

enum { SINK_MEMORY, SINK_FILE, SINK_STREAM };
enum { MODE_UNDECIDED, MODE_BODY, MODE_ERROR_BODY, MODE_REFUSED };

typedef struct hcdl_transfer hcdl_transfer;

struct hcdl_transfer {
    /* ---- the request (owned copies) ---- */
    char *url;
    char *method;
    char *body;
    size_t body_len;
    struct curl_slist *headers;
    char *block;              /* hcdl_transfer_request: url, method, body and headers in one */
    int plain;                /* its handle has only the baseline settings (setup) */
    long timeout_ms;          /* this transfer's total time; 0 = none */
    double deadline;          /* monotonic seconds; 0 = none */
    hcdl_optval opt[HCDL_OPT_COUNT]; /* its HCDL_PER_TRANSFER options (options.h), those given */
    int sink;
    int fd;                   /* SINK_FILE: our own dup of the file */
    long long file_offset;    /* where the first body byte goes */
    long long range_start;    /* -1: no Range (the whole object) */
    long long range_end;      /* -1: open-ended */
    char *expect_etag;        /* the object must still be this one */
    char *expect_headers;     /* ... and answer these: "name\0value\0" pairs, "\0" ends */
    long long expect_total;   /* ... of this size; -1: not checked */
    int want_md5;
    int want_verify;          /* every check the answer allows (verifier.h) */
    int want_crc64;           /* CRC-64/XZ of the bytes this transfer writes */
    long long md5_prefix;     /* check this many bytes of the file first */
    int writeback;            /* start write-back every 8 MiB */
    long long sync_every;     /* fdatasync after this many new bytes; 0 = never */
    double sync_interval;     /* ... or after this many seconds with new bytes */
    size_t max_body;          /* memory sink limit */
    size_t stream_limit;      /* stream sink: pause when this much is unread */

    /* ---- run by the worker ---- */
    CURL *easy;
    pthread_mutex_t *lock;    /* the engine's: guards the shared fields below */
    const EVP_MD *md5_alg;
    int mode;
    long status;
    hcdl_buf head;            /* raw header lines of the final answer */
    hcdl_buf body_in;         /* memory sink, or an error answer */
    long long written, synced, flushed;
    double last_sync;         /* monotonic time of the last fdatasync */
    long long cr_start, cr_end, cr_total, content_length;
    hcdl_verifier check;      /* fed every byte written, once decided */
    int checking;
    struct hcdl_hasher *hasher; /* feeds check on a thread of its own (MD5 work) */
    char refused[160];
    const char *refused_code; /* "range", "changed", "overflow" */
    int io_errno;
    int body_overflow, alloc_failed;
    CURLcode rc;
    int began;                /* the request got past connect and TLS */
    char errbuf[CURL_ERROR_SIZE];

    /* ---- shared with the host thread, under *lock ---- */
    long long shared_written, shared_synced;
    hcdl_buf stream;          /* SINK_STREAM: bytes Lua has not read yet */
    hcdl_buf shared_head;     /* the accepted answer's headers, once decided */
    int paused, unpause;      /* SINK_STREAM back-pressure */
};

/* Reads the spec at idx into a zeroed transfer.  0, or pushes nil, err
 * (an "input" error naming the field) and returns 2; raises for programmer
 * errors.  The transfer must be released with hcdl_transfer_free. */
int hcdl_transfer_read(lua_State *L, int idx, hcdl_transfer *t);

/* An API request into memory, from strings the caller holds: what
 * hcdl_transfer_read makes of { url, method, body, headers, timeout,
 * max_body }, copied into one block. */
typedef struct {
    const char *url;
    size_t url_len;
    const char *method;
    const char *body;
    size_t body_len;
    const hcdl_header *headers; /* sent in this order */
    size_t nheaders;
    double timeout;
    long long max_body;
} hcdl_transfer_call;

/* 0, or -1 when memory runs out (free the transfer either way). */
int hcdl_transfer_request(hcdl_transfer *t, const hcdl_transfer_call *c);

/* The value of the last header `name` ("x-request-id", any case) of the
 * final answer, or NULL; not NUL-terminated. */
const char *hcdl_transfer_header(const hcdl_transfer *t, const char *name, size_t *len);

/* Pushes the error a finished transfer ended with (the result's `error`)
 * and returns 1, or pushes nothing and returns 0 when it got an answer. */
int hcdl_transfer_push_error(lua_State *L, hcdl_transfer *t);

/* Pushes { headers = { name = value } } of the request as sent (what
 * redaction needs to know of it). */
void hcdl_transfer_push_request(lua_State *L, const hcdl_transfer *t);

/* Configures an easy handle for the transfer: `spare` (one a finished
 * transfer gave back) or, when NULL, a new one; spare_plain: what
 * give_back said of it.  On failure t->easy is whatever was used (the
 * caller cleans it up). */
CURLcode hcdl_transfer_setup(hcdl_transfer *t, CURL *spare, int spare_plain, const hcdl_net *net,
                             const EVP_MD *md5_alg);

/* Takes the easy handle back from a finished transfer, or NULL.  No header
 * list, body or pointer of this transfer stays on it, and its connections
 * stay in the multi's pool.  *plain = 1: it keeps the baseline settings of
 * a bare GET into memory, for the next such transfer (setup resets it for
 * any other); 0: it is reset to libcurl's defaults. */
CURL *hcdl_transfer_give_back(hcdl_transfer *t, int *plain);

/* An option of this transfer: its own value, else the client's (0: none). */
long long hcdl_transfer_num(const hcdl_transfer *t, const hcdl_net *net, hcdl_opt_id id);

/* Called once curl reports the transfer done (worker thread). */
void hcdl_transfer_finish(hcdl_transfer *t, CURLcode rc);

/* Pushes the result table (host thread). */
void hcdl_transfer_push_result(lua_State *L, hcdl_transfer *t);

/* Releases everything the transfer owns (the easy handle must already be
 * out of any multi handle). */
void hcdl_transfer_free(hcdl_transfer *t);

#endif
