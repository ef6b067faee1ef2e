/*
 * redact.h - the one rule for hiding a link's query (docs/architecture.md
 * "Redaction").
 *
 * A pre-signed link carries its signature, access key id and security
 * token in the query, so no text hcdl reports may hold a query as it is.
 * In a text, every '?' that follows a '/' in the same word (a word ends at
 * white space, a quote, '<' or '>', but not at the marker below: a secret
 * masked first does not split a link) starts a query that runs to the end of
 * that word.  In it, each key=value pair keeps its value only when the key
 * is one of the ids, times and sizes listed in redact.c (case does not
 * matter); every other value (an empty key's too) becomes
 * HCDL_REDACT_MARKER.  A pair without
 * '=', or with an empty value, carries nothing and is kept.  The rest of the text is unchanged.
 *
 * Secrets the caller knows (keys, tokens, passwords) are masked with the
 * same marker by lua/hcdl/redact.lua before this rule runs; C errors built
 * from libcurl's messages pass this rule (src/http.c).
 */
#ifndef HCDL_REDACT_H
#define HCDL_REDACT_H

#include <stddef.h>

#include <lauxlib.h>
#include <lua.h>

/* What every hidden value and masked secret is replaced by. */
#define HCDL_REDACT_MARKER "<redacted>"

/* Adds s[0..n) to b with every link query's values hidden (see above). */
void hcdl_redact_add_links(luaL_Buffer *b, const char *s, size_t n);

/* Pushes the C string s with every link query's values hidden. */
void hcdl_redact_push_links(lua_State *L, const char *s);

/* Lua: core.hide_link_queries(s) -> s with every link query's values
 * hidden; core.REDACT_MARKER is the marker. */
int hcdl_redact_lhide(lua_State *L);

#endif
