/*
 * openssl_floor.c - the bare OpenSSL cost of one SDK-HMAC-SHA256 signature:
 * SHA-256 of a typical canonical request, SHA-256 of the (empty) body and
 * HMAC-SHA256 of the string to sign, with nothing else around them.  It is
 * the floor hcdl.sign is compared against by bench/sign.
 *
 * Usage: openssl_floor ITERATIONS   -> prints "ns_per_signature N"
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/params.h>

static const char canonical[] =
    "GET\n/v3/0b2a5c6d7e8f40a1b2c3d4e5f6a7b8c9/instance/"
    "a1b2c3d4e5f6471890abcdef12345678in07/auditlog/download-link/\n"
    "end_time=2023-07-24T10%3A27%3A00%2B0800&limit=50&node_id="
    "b2c3d4e5f6a7481990bcdef123456789no07&start_time=2023-07-24T09%3A27%3A00%2B0800\n"
    "content-type:application/json\nhost:gaussdb.cn-north-4.myhuaweicloud.com\n"
    "x-project-id:0b2a5c6d7e8f40a1b2c3d4e5f6a7b8c9\nx-sdk-date:20230724T012700Z\n\n"
    "content-type;host;x-project-id;x-sdk-date\n"
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

static double now(void)
{
    struct timespec ts;
    /* CPU time of the process, as bench/sign.lua (os.clock) and the Node
     * signer measure: what another process does meanwhile is not counted. */
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
    long i, n = argc > 1 ? atol(argv[1]) : 1000000;
    const char *sk = "Z9xQeExampleSecretKey0123456789abcdefGHIJ";
    unsigned char md[32], mac[32], body_md[32];
    char sts[128];
    unsigned int len;
    double t0, t1;
    volatile unsigned char sink = 0;

    t0 = now();
    for (i = 0; i < n; i++) {
        /* the body hash a signature needs (empty body) */
        if (EVP_Digest("", 0, body_md, &len, EVP_sha256(), NULL) != 1)
            return 1;
        if (EVP_Digest(canonical, sizeof canonical - 1, md, &len, EVP_sha256(),
                       NULL) != 1)
            return 1;
        memcpy(sts, "SDK-HMAC-SHA256\n20230724T012700Z\n", 33);
        memcpy(sts + 33, md, 32); /* hex formatting is not OpenSSL's cost */
        if (HMAC(EVP_sha256(), sk, (int)strlen(sk), (unsigned char *)sts, 97,
                 mac, &len) == NULL)
            return 1;
        sink ^= mac[0] ^ body_md[0];
    }
    t1 = now();
    printf("ns_per_signature_oneshot %.1f\n", (t1 - t0) / n * 1e9);

    /* The same work with algorithms fetched once and contexts reused. */
    {
        EVP_MD *sha = EVP_MD_fetch(NULL, "SHA256", NULL);
        EVP_MD_CTX *ctx = EVP_MD_CTX_new();
        EVP_MAC *hm = EVP_MAC_fetch(NULL, "HMAC", NULL);
        EVP_MAC_CTX *mc = hm ? EVP_MAC_CTX_new(hm) : NULL;
        char dname[] = "SHA256";
        OSSL_PARAM p[2];
        size_t maclen;
        p[0] = OSSL_PARAM_construct_utf8_string("digest", dname, 0);
        p[1] = OSSL_PARAM_construct_end();
        if (!sha || !ctx || !mc || EVP_MAC_CTX_set_params(mc, p) != 1)
            return 1;
        t0 = now();
        for (i = 0; i < n; i++) {
            /* the body hash (empty body), then the canonical request's */
            if (EVP_DigestInit_ex(ctx, sha, NULL) != 1 ||
                EVP_DigestUpdate(ctx, "", 0) != 1 ||
                EVP_DigestFinal_ex(ctx, body_md, &len) != 1)
                return 1;
            sink ^= body_md[1];
            if (EVP_DigestInit_ex(ctx, sha, NULL) != 1 ||
                EVP_DigestUpdate(ctx, canonical, sizeof canonical - 1) != 1 ||
                EVP_DigestFinal_ex(ctx, md, &len) != 1)
                return 1;
            memcpy(sts, "SDK-HMAC-SHA256\n20230724T012700Z\n", 33);
            memcpy(sts + 33, md, 32);
            if (EVP_MAC_init(mc, (const unsigned char *)sk, strlen(sk), NULL) != 1 ||
                EVP_MAC_update(mc, (unsigned char *)sts, 97) != 1 ||
                EVP_MAC_final(mc, mac, &maclen, sizeof mac) != 1)
                return 1;
            sink ^= mac[0];
        }
        t1 = now();
        printf("ns_per_signature_reused %.1f\n", (t1 - t0) / n * 1e9);
        EVP_MAC_CTX_free(mc);
        EVP_MAC_free(hm);
        EVP_MD_CTX_free(ctx);
        EVP_MD_free(sha);
    }
    printf("checksum %u\n", (unsigned)sink); /* keeps the loops honest */
    return 0;
}
