/*
 * redact.c - the one rule for hiding a link's query (see redact.h).
 */
#include <string.h>

#include "redact.h"

/* Query keys whose values are ids, times and sizes, shown because they
 * help an investigation (which backup, which page, when a link expires);
 * every other value - Signature, AWSAccessKeyId, x-obs-security-token,
 * anything unknown - is hidden.  Lower case; keys compare without case. */
static const char *const shown_keys[] = {
    "backup_id", "instance_id", "node_id", "start_time", "end_time", "limit", "offset",
    "last_file_name", "log_type", "query_time", "replication_id", "name", "id", "expires",
    "nocatalog", "partnumber", "uploadid",
    /* the other parameters of the APIs' descriptors: none is a secret */
    "backup_type", "begin_time", "days", "type", "datastore_type", "vpc_id", "subnet_id",
    "private_ip", "ip", "name_equal", "include_failure", "expiration", NULL,
};

static int lower(int c)
{
    return (c >= 'A' && c <= 'Z') ? c - 'A' + 'a' : c;
}

static int key_is_shown(const char *k, size_t n)
{
    const char *const *s;
    size_t i;
    if (n == 0) /* "?=value": nothing says what the value is */
        return 0;
    for (s = shown_keys; *s != NULL; s++) {
        if (strlen(*s) != n)
            continue;
        for (i = 0; i < n && lower((unsigned char)k[i]) == (*s)[i]; i++)
            ;
        if (i == n)
            return 1;
    }
    return 0;
}

/* White space, quotes and angle brackets end a word (a link in a message,
 * in JSON or in XML ends there). */
static int ends_word(unsigned char c)
{
    return c <= ' ' || c == '"' || c == '\'' || c == '<' || c == '>' || c == 127;
}

/* The length of the marker when s[i..n) starts with it, else 0: a secret
 * already masked does not end a word, so a link whose first value was
 * masked is still one link. */
static size_t marker_at(const char *s, size_t i, size_t n)
{
    size_t m = sizeof HCDL_REDACT_MARKER - 1;
    return (n - i >= m && memcmp(s + i, HCDL_REDACT_MARKER, m) == 0) ? m : 0;
}

/* Where the word that goes on at s[i] ends (at n at the latest). */
static size_t word_end(const char *s, size_t i, size_t n)
{
    while (i < n) {
        size_t m = marker_at(s, i, n);
        if (m > 0)
            i += m;
        else if (ends_word((unsigned char)s[i]))
            break;
        else
            i++;
    }
    return i;
}

/* Adds the query q[0..n) (after its '?') with the values hidden (an empty
 * value has nothing to hide: "k=" stays). */
static void add_query(luaL_Buffer *b, const char *q, size_t n)
{
    size_t i = 0;
    while (i < n) {
        size_t end = i, eq;
        while (end < n && q[end] != '&')
            end++;
        for (eq = i; eq < end && q[eq] != '='; eq++)
            ;
        if (eq == end || eq + 1 == end || key_is_shown(q + i, eq - i)) {
            luaL_addlstring(b, q + i, end - i);
        } else {
            luaL_addlstring(b, q + i, eq - i + 1);
            luaL_addstring(b, HCDL_REDACT_MARKER);
        }
        if (end < n)
            luaL_addchar(b, '&');
        i = end + 1;
    }
}

void hcdl_redact_add_links(luaL_Buffer *b, const char *s, size_t n)
{
    size_t i = 0, copied = 0;
    int slash = 0; /* a '/' since the word began */
    while (i < n) {
        unsigned char c = (unsigned char)s[i];
        size_t m = marker_at(s, i, n);
        if (m > 0) {
            i += m;
            continue;
        }
        if (ends_word(c)) {
            slash = 0;
        } else if (c == '/') {
            slash = 1;
        } else if (c == '?' && slash) {
            size_t end = word_end(s, i + 1, n);
            luaL_addlstring(b, s + copied, i + 1 - copied);
            add_query(b, s + i + 1, end - i - 1);
            copied = i = end;
            slash = 0;
            continue;
        }
        i++;
    }
    luaL_addlstring(b, s + copied, n - copied);
}

void hcdl_redact_push_links(lua_State *L, const char *s)
{
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    hcdl_redact_add_links(&b, s, strlen(s));
    luaL_pushresult(&b);
}

int hcdl_redact_lhide(lua_State *L)
{
    size_t n;
    const char *s = luaL_checklstring(L, 1, &n);
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    hcdl_redact_add_links(&b, s, n);
    luaL_pushresult(&b);
    return 1;
}
