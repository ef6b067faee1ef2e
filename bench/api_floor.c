/*
 * api_floor.c - the practical limit for one client: a plain C loop over one
 * libcurl easy handle (one kept-alive connection) sending the same signed
 * GET again and again and reading the answer into memory.
 *
 * Usage: api_floor URL SECONDS 'Header: value'...  -> prints "rate <req/s>"
 *        api_floor URL turns 'Header: value'...  -> one slice per line of
 *        stdin (its length in seconds), one rate line back per slice
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>

static size_t sink(char *p, size_t size, size_t n, void *ud)
{
    size_t *total = ud;
    (void)p;
    *total += size * n;
    return size * n;
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Sends the request for `secs` seconds: the rate, or -1 on a failure. */
static double run(CURL *c, double secs)
{
    double t0 = now();
    long n = 0, status = 0;
    while (now() - t0 < secs) {
        if (curl_easy_perform(c) != CURLE_OK)
            return -1;
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
        if (status != 200)
            return -1;
        n++;
    }
    return n / (now() - t0);
}

int main(int argc, char **argv)
{
    struct curl_slist *h = NULL;
    CURL *c;
    size_t total = 0;
    char line[64];
    double rate = 0;
    int i;

    if (argc < 3) {
        fprintf(stderr, "usage: %s URL SECONDS|turns [HEADER...]\n", argv[0]);
        return 2;
    }
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK || !(c = curl_easy_init()))
        return 1;
    for (i = 3; i < argc; i++)
        h = curl_slist_append(h, argv[i]);
    curl_easy_setopt(c, CURLOPT_URL, argv[1]);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, sink);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &total);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    for (i = 0; i < 200; i++)
        if (curl_easy_perform(c) != CURLE_OK)
            return 1;
    if (strcmp(argv[2], "turns") != 0) {
        rate = run(c, atof(argv[2]));
        if (rate >= 0)
            printf("rate %.0f\n", rate);
    } else {
        while (rate >= 0 && fgets(line, sizeof line, stdin) != NULL) {
            rate = run(c, atof(line));
            if (rate >= 0) {
                printf("rate %.0f\n", rate);
                fflush(stdout);
            }
        }
    }
    curl_slist_free_all(h);
    curl_easy_cleanup(c);
    curl_global_cleanup();
    return rate >= 0 ? 0 : 1;
}
