/*
 * options.h - the one table of network and transfer options: for each its
 * name, type, range, default, where it is given (the client's engine, one
 * transfer, or both) and what it sets.  Everything else derives from it:
 * the readers of core.engine(opts) and of a transfer's spec, the curl
 * options every transfer gets, and, through core.options(), the Lua
 * checks (hcdl.config, hcdl.download) and the nginx engine key
 * (hcdl.transport).  docs/options.md "The table" describes it; adding an
 * option is one row here and its test.
 */
#ifndef HCDL_OPTIONS_H
#define HCDL_OPTIONS_H

#include <curl/curl.h>
#include <lua.h>

typedef enum {
    HCDL_SECONDS, /* a number of seconds, kept as whole milliseconds (at least 1 when > 0) */
    HCDL_WHOLE,   /* a whole number */
    HCDL_RATE,    /* a number, kept rounded down to a whole number */
    HCDL_BOOLEAN,
    HCDL_STRING   /* no NUL bytes */
} hcdl_opt_type;

/* Where an option is given: core.engine(opts) (every transfer of a client),
 * a transfer's spec (engine:start(spec)), or both (the spec's wins). */
enum { HCDL_PER_CLIENT = 1, HCDL_PER_TRANSFER = 2, HCDL_PER_BOTH = 3 };

typedef enum {
    HCDL_SET_EASY,   /* the curl option on each transfer */
    HCDL_SET_MULTI,  /* the curl option on the engine's multi handle */
    HCDL_SET_TLS,    /* CURLOPT_SSL_VERIFYPEER 1/0 and CURLOPT_SSL_VERIFYHOST 2/0 */
    HCDL_SET_SHARED  /* per transfer the curl option; per client a budget
                      * the engine shares among its transfers (engine.c) */
} hcdl_opt_target;

/*
 * X(ID, name, type, unit, lo, hi, default, scope, target, curl option, what it sets)
 * low_speed_limit/low_speed_time are the stall guard: a transfer below
 * 1 KiB/s for 60 s ends as a (retryable) timeout, so a download without a
 * deadline never hangs on a server that went quiet.
 * Numbers: lo..hi is the accepted range (seconds for HCDL_SECONDS); a
 * default of 0 for HCDL_RATE means none.  Strings have no default here
 * (NULL: libcurl's own; user_agent's is made in src/http.c).
 */
#define HCDL_OPTION_LIST(X)                                                                     \
    X(CONNECT_TIMEOUT, "connect_timeout", HCDL_SECONDS, "seconds", 0.001, 3600, 10,             \
      HCDL_PER_CLIENT, HCDL_SET_EASY, CURLOPT_CONNECTTIMEOUT_MS, "CURLOPT_CONNECTTIMEOUT_MS")    \
    X(LOW_SPEED_LIMIT, "low_speed_limit", HCDL_WHOLE, "bytes/s", 0, 1e12, 1024,                 \
      HCDL_PER_CLIENT, HCDL_SET_EASY, CURLOPT_LOW_SPEED_LIMIT, "CURLOPT_LOW_SPEED_LIMIT (0: off)") \
    X(LOW_SPEED_TIME, "low_speed_time", HCDL_WHOLE, "seconds", 1, 86400, 60,                    \
      HCDL_PER_CLIENT, HCDL_SET_EASY, CURLOPT_LOW_SPEED_TIME, "CURLOPT_LOW_SPEED_TIME")          \
    X(BUFFER_SIZE, "buffer_size", HCDL_WHOLE, "bytes", 1024, CURL_MAX_READ_SIZE, 512 * 1024,    \
      HCDL_PER_BOTH, HCDL_SET_EASY, CURLOPT_BUFFERSIZE, "CURLOPT_BUFFERSIZE")                    \
    X(MAX_HOST_CONNECTIONS, "max_host_connections", HCDL_WHOLE, "", 0, 1024, 0,                 \
      HCDL_PER_CLIENT, HCDL_SET_MULTI, CURLMOPT_MAX_HOST_CONNECTIONS,                            \
      "CURLMOPT_MAX_HOST_CONNECTIONS (0: no limit)")                                             \
    X(VERIFY_TLS, "verify_tls", HCDL_BOOLEAN, "", 0, 1, 1, HCDL_PER_CLIENT, HCDL_SET_TLS,       \
      CURLOPT_SSL_VERIFYPEER, "CURLOPT_SSL_VERIFYPEER 1/0, CURLOPT_SSL_VERIFYHOST 2/0")          \
    X(CAFILE, "cafile", HCDL_STRING, "", 0, 0, 0, HCDL_PER_CLIENT, HCDL_SET_EASY,              \
      CURLOPT_CAINFO, "CURLOPT_CAINFO")                                                          \
    X(PROXY, "proxy", HCDL_STRING, "", 0, 0, 0, HCDL_PER_CLIENT, HCDL_SET_EASY, CURLOPT_PROXY,  \
      "CURLOPT_PROXY (else libcurl reads https_proxy, NO_PROXY...)")                             \
    X(USER_AGENT, "user_agent", HCDL_STRING, "", 0, 0, 0, HCDL_PER_CLIENT, HCDL_SET_EASY,      \
      CURLOPT_USERAGENT, "CURLOPT_USERAGENT (default hcdl/<version> libcurl/<version>)")        \
    X(MAX_RATE, "max_rate", HCDL_RATE, "bytes/s", 1024, 9007199254740992.0, 0, HCDL_PER_BOTH,   \
      HCDL_SET_SHARED, CURLOPT_MAX_RECV_SPEED_LARGE,                                             \
      "CURLOPT_MAX_RECV_SPEED_LARGE; per client, a budget the engine shares among its transfers")

typedef enum {
#define HCDL_OPTION_ID(id, ...) HCDL_OPT_##id,
    HCDL_OPTION_LIST(HCDL_OPTION_ID)
#undef HCDL_OPTION_ID
    HCDL_OPT_COUNT
} hcdl_opt_id;

typedef struct {
    const char *name;
    hcdl_opt_type type;
    const char *unit;
    double lo, hi, dflt;
    int scope;
    hcdl_opt_target target;
    int curl;         /* a CURLoption, or a CURLMoption for HCDL_SET_MULTI */
    const char *sets;
} hcdl_option;

/* The table, HCDL_OPT_COUNT rows in HCDL_OPTION_LIST's order. */
extern const hcdl_option hcdl_options[HCDL_OPT_COUNT];

/* One option's value: given (or defaulted), a number (milliseconds for
 * HCDL_SECONDS, 0/1 for booleans) or an owned string. */
typedef struct {
    int set;
    long long num;
    char *str;
} hcdl_optval;

/* Reads the options of `scope` from the table at idx into v (absent ones:
 * the row's default when with_defaults, else unset).  0, or pushes nil,
 * err (an "input" error naming the option) and returns 2; raises only when
 * out of memory.  v is freed with hcdl_options_free either way. */
int hcdl_options_read(lua_State *L, int idx, int scope, int with_defaults, hcdl_optval *v);
void hcdl_options_free(hcdl_optval *v);

/* Sets the HCDL_SET_EASY and HCDL_SET_TLS options of `scope` that v holds. */
CURLcode hcdl_options_apply(CURL *easy, const hcdl_optval *v, int scope);

/* Sets the HCDL_SET_MULTI options v holds on an engine's multi handle. */
CURLMcode hcdl_options_apply_multi(CURLM *multi, const hcdl_optval *v);

/* Lua: core.options() -> { {name, type, unit, min, max, default, scope, sets}, ... } */
int hcdl_options_lua(lua_State *L);

#endif
