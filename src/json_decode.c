/*
 * json_decode.c - an API answer's JSON straight into the Lua value that
 * core.parse hands over (see json_decode.h): one pass over the text, each
 * table built once, with what src/api_parse.c's normalize used to do to
 * lua-cjson's result afterwards (whole numbers as integers, object nulls
 * left out and recorded in the hcdl_nulls set) done as the values are
 * read.  No allocation but Lua's own: strings without escapes are pushed
 * from the text itself, the others go through a luaL_Buffer.
 *
 * What is accepted and refused is lua-cjson 2.1.0's (Debian's lua-cjson,
 * with decode_max_depth 64 as src/hcdl.c sets it), so that no answer reads
 * differently than it did through cjson.decode; tests/json_decode_spec.lua
 * checks both on generated texts.  That includes its leniencies:
 *   - numbers are what strtod reads where a number may start ('-', a digit,
 *     '+', or "inf"/"nan" in any case): NaN, Infinity, -Infinity (services
 *     have been seen to send them: tests/hostile_output_spec.lua), hex
 *     (0x10), leading zeros (01), "1.", a leading '+';
 *   - any byte but '"', '\\' and NUL stands for itself in a string, control
 *     characters and bytes that are not UTF-8 included;
 *   - the text ends at its first NUL byte (lua-cjson reads it as a C
 *     string: "{}\0junk" is {}), and a text of 2 bytes or more with a NUL
 *     in one of its first two is refused (lua-cjson's UTF-16 check).
 * And its refusals: a lone surrogate escape (\uD800 not followed by
 * \uDC00-\uDFFF, or \uDC00 first), an unknown escape, a NUL inside a
 * string, whitespace other than space, tab, CR and LF, nesting deeper
 * than HCDL_JSON_MAX_DEPTH, anything after the value but whitespace.
 * Inside Neovim the answers used to be read by vim.json (a lua-cjson too,
 * with its own changes); they are now read by these rules there as well.
 *
 * normalize stops converting below its MAX_DEPTH (64) levels; a decoded
 * text has no table that deep (the deepest is at its level 63), so
 * converting at every level here is the same.
 *
 * The members of an object (the elements of an array) are collected on
 * the Lua stack and their table is made once, of its final size, when it
 * closes (past COLLECT members it is made then and grows as before):
 * lua-cjson grew it one member at a time.  Same contents; the
 * order pairs visits an object's keys in may differ from what it was
 * (Lua leaves that order unspecified; `hcdl --json` sorts the keys).
 */
#include <float.h>
#include <locale.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>

#include <lauxlib.h>

#include "compat.h"
#include "json_decode.h"

typedef struct {
    lua_State *L;
    const char *p; /* the next byte; the text ends at a NUL */
    int decoder;   /* index of the decoder table, or 0 when there is none */
    int depth;     /* objects and arrays open around p */
} jd;

/* What reading a value gave: nothing (the text is refused, the caller
 * unwinds), a value on the stack, or a null (nothing pushed: what a null
 * becomes depends on where it is). */
enum { JD_FAIL = 0, JD_VALUE = 1, JD_NULL = 2 };

/* Byte classes: JSON whitespace, and the bytes that end a run of plain
 * string bytes. */
enum { C_WS = 1, C_STOP = 2 };
static const unsigned char jclass[256] = {
    ['\0'] = C_STOP, ['"'] = C_STOP, ['\\'] = C_STOP,
    [' '] = C_WS, ['\t'] = C_WS, ['\n'] = C_WS, ['\r'] = C_WS,
};

#define TWO_53 9007199254740992.0

static int value(jd *d);

static const char *skip_ws(const char *p)
{
    while (jclass[(unsigned char)*p] & C_WS)
        p++;
    return p;
}

/* After a member or an element: at the closing `close` (1), at the next
 * one (0, p past the comma and the space after it), or at anything else
 * (-1).  *p starts at the end of the value just read. */
static int after_item(const char **p, char close)
{
    const char *q = skip_ws(*p);
    if (*q == close) {
        *p = q;
        return 1;
    }
    if (*q != ',')
        return -1;
    *p = skip_ws(q + 1);
    return 0;
}

static int is_digit(char c)
{
    return c >= '0' && c <= '9';
}

/* The null of an array (or of the whole text): the decoder's own. */
static void push_null(jd *d)
{
    if (d->decoder != 0)
        lua_getfield(d->L, d->decoder, "null");
    else
        lua_pushlightuserdata(d->L, NULL);
}

/* ---- numbers ---- */

/* Pushes x by normalize's rule (src/api_parse.c): inside a table, a whole
 * number within +-2^53 is an integer on Lua 5.3+. */
static int push_double(jd *d, double x)
{
#if LUA_VERSION_NUM >= 503
    if (d->depth > 0 && x == floor(x) && x >= -TWO_53 && x <= TWO_53) {
        lua_pushinteger(d->L, (lua_Integer)x);
        return JD_VALUE;
    }
#endif
    lua_pushnumber(d->L, (lua_Number)x);
    return JD_VALUE;
}

/* Whether strtod could read on after c ends a plain JSON number: then
 * strtod decides (01, 0x10, 1.e5, ...), as it does in lua-cjson. */
static int strtod_may_go_on(char c)
{
    char l = (char)(c | 0x20);
    return is_digit(c) || (l >= 'a' && l <= 'z') || c == '.' || c == '+' || c == '-' ||
           c == '_' || c == '(';
}

/* strtod stopped at a '.': where the locale's decimal point is another
 * character, the number is read again from a copy that has that one (as
 * Lua's own tonumber does).  Returns where the number ends, *x its value,
 * or stop when the copy reads no further. */
static const char *strtod_locale(lua_State *L, const char *s, const char *stop, double *x)
{
    const char *dp = localeconv()->decimal_point;
    const char *q, *copy, *r = stop;
    char *end;
    luaL_Buffer b;
    double y;

    if (dp[0] == '.' || dp[0] == '\0' || dp[1] != '\0' || !lua_checkstack(L, LUA_MINSTACK))
        return stop;
    luaL_buffinit(L, &b);
    for (q = s; strtod_may_go_on(*q); q++)
        luaL_addchar(&b, *q == '.' ? dp[0] : *q);
    luaL_pushresult(&b);
    copy = lua_tostring(L, -1);
    y = strtod(copy, &end);
    if (s + (end - copy) > stop) {
        r = s + (end - copy);
        *x = y;
    }
    lua_pop(L, 1);
    return r;
}

/* The number at d->p as lua-cjson reads it: strtod's. */
static int number_strtod(jd *d)
{
    char *end;
    double x = strtod(d->p, &end);
    const char *stop = end;
    if (*stop == '.')
        stop = strtod_locale(d->L, d->p, stop, &x);
    if (stop == d->p)
        return JD_FAIL;
    d->p = stop;
    return push_double(d, x);
}

/*
 * A number starting with '-' or a digit.  The JSON form
 * -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][-+]?[0-9]+)? with at most 19
 * significant digits is converted here, exactly: an integer up to 2^53 as
 * it is, a decimal m * 10^e with m <= 2^53 and |e| <= 22 with one IEEE
 * multiplication or division of exact operands (so correctly rounded, as
 * strtod is).  Anything else goes to strtod.
 */
static int number(jd *d)
{
    static const double exact_pow10[] = {
        1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11,
        1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
    };
    const char *p = d->p;
    uint64_t m = 0;
    int neg = 0, nd = 0, e = 0, whole = 1;
    double x;

    if (*p == '-') {
        neg = 1;
        p++;
    }
    if (*p == '0') {
        p++;
    } else if (is_digit(*p)) {
        do {
            if (nd == 19)
                return number_strtod(d);
            m = m * 10 + (uint64_t)(*p++ - '0');
            nd++;
        } while (is_digit(*p));
    } else {
        return number_strtod(d); /* -Infinity, -nan, or not a number */
    }
    if (*p == '.') {
        if (!is_digit(*++p))
            return number_strtod(d);
        do {
            if (nd == 19)
                return number_strtod(d);
            m = m * 10 + (uint64_t)(*p++ - '0');
            nd++;
            e--;
        } while (is_digit(*p));
        whole = 0;
    }
    if (*p == 'e' || *p == 'E') {
        int sign = 1, n = 0;
        if (*++p == '+') {
            p++;
        } else if (*p == '-') {
            sign = -1;
            p++;
        }
        if (!is_digit(*p))
            return number_strtod(d);
        do {
            if (n > 9999)
                return number_strtod(d);
            n = n * 10 + (*p++ - '0');
        } while (is_digit(*p));
        e += sign * n;
        whole = 0;
    }
    if (strtod_may_go_on(*p) || m > (uint64_t)1 << 53)
        return number_strtod(d);
    if (whole) {
        d->p = p;
#if LUA_VERSION_NUM >= 503
        if (d->depth > 0) {
            lua_pushinteger(d->L, neg ? -(lua_Integer)m : (lua_Integer)m);
            return JD_VALUE;
        }
#endif
        x = (double)m;
        return push_double(d, neg ? -x : x);
    }
    if (m == 0) {
        x = 0.0;
    } else {
#if defined(FLT_EVAL_METHOD) && FLT_EVAL_METHOD == 0
        if (e < -22 || e > 22)
            return number_strtod(d);
        x = e < 0 ? (double)m / exact_pow10[-e] : (double)m * exact_pow10[e];
#else
        (void)exact_pow10;
        return number_strtod(d); /* wider evaluation would round twice */
#endif
    }
    d->p = p;
    return push_double(d, neg ? -x : x);
}

/* ---- strings ---- */

/* The value of the 4 hex digits at s, or -1; reads no further than the
 * first byte that is not one (so never past the NUL). */
static long hex4(const char *s)
{
    long v = 0;
    int i;
    for (i = 0; i < 4; i++) {
        int c = (unsigned char)s[i], l = c | 0x20;
        if (c >= '0' && c <= '9')
            v = v << 4 | (c - '0');
        else if (l >= 'a' && l <= 'f')
            v = v << 4 | (l - 'a' + 10);
        else
            return -1;
    }
    return v;
}

/* A \u escape at *q (on the 'u') as UTF-8 in out: its length, or 0 when
 * lua-cjson refuses it (bad hex, a lone or reversed surrogate).  A pair
 * \uD800-\uDBFF \uDC00-\uDFFF is one character. */
static int unicode_escape(const char **q, char *out)
{
    const char *s = *q;
    long cp = hex4(s + 1);
    if (cp < 0)
        return 0;
    s += 5;
    if (cp >= 0xD800 && cp <= 0xDFFF) {
        long lo;
        if (cp >= 0xDC00 || s[0] != '\\' || s[1] != 'u')
            return 0;
        lo = hex4(s + 2);
        if (lo < 0xDC00 || lo > 0xDFFF)
            return 0;
        cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
        s += 6;
    }
    *q = s;
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char)(0xC0 | cp >> 6);
        out[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (char)(0xE0 | cp >> 12);
        out[1] = (char)(0x80 | (cp >> 6 & 0x3F));
        out[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (char)(0xF0 | cp >> 18);
    out[1] = (char)(0x80 | (cp >> 12 & 0x3F));
    out[2] = (char)(0x80 | (cp >> 6 & 0x3F));
    out[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

/* The rest of a string that has escapes: run is where its plain bytes not
 * yet taken start, q the backslash ending them. */
static int string_escaped(jd *d, const char *run, const char *q)
{
    luaL_Buffer b;
    if (!lua_checkstack(d->L, LUA_MINSTACK))
        return JD_FAIL;
    luaL_buffinit(d->L, &b);
    for (;;) {
        char u[4];
        int n;
        luaL_addlstring(&b, run, (size_t)(q - run));
        if (*q == '"')
            break;
        if (*q != '\\')
            return JD_FAIL; /* a NUL: the text ends inside the string */
        switch (*++q) {
        case '"': case '\\': case '/':
            luaL_addchar(&b, *q);
            q++;
            break;
        case 'b': luaL_addchar(&b, '\b'); q++; break;
        case 'f': luaL_addchar(&b, '\f'); q++; break;
        case 'n': luaL_addchar(&b, '\n'); q++; break;
        case 'r': luaL_addchar(&b, '\r'); q++; break;
        case 't': luaL_addchar(&b, '\t'); q++; break;
        case 'u':
            if ((n = unicode_escape(&q, u)) == 0)
                return JD_FAIL;
            luaL_addlstring(&b, u, (size_t)n);
            break;
        default:
            return JD_FAIL;
        }
        run = q;
        while (!(jclass[(unsigned char)*q] & C_STOP))
            q++;
    }
    luaL_pushresult(&b);
    d->p = q + 1;
    return JD_VALUE;
}

/* The string at d->p (on its '"'). */
static int string(jd *d)
{
    const char *run = d->p + 1, *q = run;
    while (!(jclass[(unsigned char)*q] & C_STOP))
        q++;
    if (*q != '"')
        return string_escaped(d, run, q);
    lua_pushlstring(d->L, run, (size_t)(q - run));
    d->p = q + 1;
    return JD_VALUE;
}

/* ---- objects and arrays ---- */

/* Opens an object or array: the depth, and the stack room one level needs
 * besides what it collects (null set, key, value, key copy, and two more
 * while the null members are dropped). */
static int descend(jd *d)
{
    return ++d->depth <= HCDL_JSON_MAX_DEPTH && lua_checkstack(d->L, 6);
}

/* Whether the values read so far are put into their table now: after
 * COLLECT of them, or when the stack cannot hold another pair; from then
 * on each goes straight in. */
#define COLLECT 32
static int table_due(lua_State *L, int n)
{
    return n == COLLECT || !lua_checkstack(L, 8);
}

/* The n key, value pairs from index first up make a table of that size,
 * which takes their place (one allocation, where growing one member at a
 * time reallocates at 1, 2, 3, 5, 9, ... members). */
static int make_object(lua_State *L, int first, int n)
{
    int i;
    lua_createtable(L, 0, n);
    for (i = 0; i < 2 * n; i += 2) {
        lua_pushvalue(L, first + i);
        lua_pushvalue(L, first + i + 1);
        lua_rawset(L, -3);
    }
    if (n > 0) {
        lua_replace(L, first);
        lua_settop(L, first);
    }
    return first;
}

/* The n values from index first up make an array, which takes their place. */
static int make_array(lua_State *L, int first, int n)
{
    lua_createtable(L, n, 0);
    lua_insert(L, first);
    for (; n > 0; n--)
        lua_rawseti(L, first, n);
    return first;
}

/*
 * The object at obj ends: its members still holding the placeholder (the
 * null set at nulls) go, and the keys left in the set become its
 * metatable's hcdl_nulls.  A key whose last member had a value (a name
 * given twice) leaves the set.
 */
static void drop_null_members(lua_State *L, int obj, int nulls)
{
    int left = 0;
    lua_pushnil(L);
    while (lua_next(L, nulls) != 0) {
        lua_pop(L, 1);
        lua_pushvalue(L, -1);
        lua_rawget(L, obj);
        lua_pushvalue(L, -2);
        lua_pushnil(L); /* clearing a field during lua_next is allowed */
        if (lua_rawequal(L, -3, nulls)) {
            lua_rawset(L, obj);
            left++;
        } else {
            lua_rawset(L, nulls);
        }
        lua_pop(L, 1);
    }
    if (left > 0) {
        lua_createtable(L, 0, 1);
        lua_pushvalue(L, nulls);
        lua_setfield(L, -2, "hcdl_nulls");
        lua_setmetatable(L, obj);
    }
}

/*
 * Members are collected on the stack (above base: the null set once there
 * is one, then key, value, key, value, ...) and their table is made at the
 * end with its final size; past COLLECT members the table is made and the
 * rest go straight in.  A null member holds a placeholder, the null set
 * itself, until the object ends (so that a later member of the same name
 * replaces it, as in lua-cjson).
 */
static int object(jd *d)
{
    lua_State *L = d->L;
    const char *p;
    int base = lua_gettop(L), obj = 0, nulls = 0, n = 0, r;

    if (!descend(d))
        return JD_FAIL;
    p = skip_ws(d->p + 1);
    if (*p != '}') {
        for (;;) {
            if (*p != '"')
                return JD_FAIL;
            d->p = p;
            if (string(d) == JD_FAIL)
                return JD_FAIL;
            p = skip_ws(d->p);
            if (*p != ':')
                return JD_FAIL;
            d->p = skip_ws(p + 1);
            if ((r = value(d)) == JD_FAIL)
                return JD_FAIL;
            if (r == JD_NULL) {
                if (nulls == 0) {
                    lua_newtable(L);
                    lua_insert(L, base + 1); /* under what is collected */
                    nulls = base + 1;
                    if (obj != 0)
                        obj++;
                }
                lua_pushvalue(L, -1);
                lua_pushboolean(L, 1);
                lua_rawset(L, nulls);
                lua_pushvalue(L, nulls); /* the placeholder */
            }
            if (obj != 0)
                lua_rawset(L, obj);
            else if (table_due(L, ++n))
                obj = make_object(L, base + 1 + (nulls != 0), n);
            p = d->p;
            if ((r = after_item(&p, '}')) != 0) {
                if (r < 0)
                    return JD_FAIL;
                break;
            }
        }
    }
    d->p = p + 1;
    d->depth--;
    if (obj == 0)
        obj = make_object(L, base + 1 + (nulls != 0), n);
    if (nulls != 0) {
        drop_null_members(L, obj, nulls);
        lua_settop(L, obj);
        lua_replace(L, nulls); /* the object in the null set's place */
    }
    return JD_VALUE;
}

/* Elements are collected on the stack as members are (see object). */
static int array(jd *d)
{
    lua_State *L = d->L;
    const char *p;
    int base = lua_gettop(L), arr = 0, n = 0, r;

    if (!descend(d))
        return JD_FAIL;
    p = skip_ws(d->p + 1);
    if (*p != ']') {
        for (;;) {
            d->p = p;
            if ((r = value(d)) == JD_FAIL)
                return JD_FAIL;
            if (r == JD_NULL)
                push_null(d);
            if (arr != 0)
                lua_rawseti(L, arr, ++n);
            else if (table_due(L, ++n))
                arr = make_array(L, base + 1, n);
            p = d->p;
            if ((r = after_item(&p, ']')) != 0) {
                if (r < 0)
                    return JD_FAIL;
                break;
            }
        }
    }
    d->p = p + 1;
    d->depth--;
    if (arr == 0)
        make_array(L, base + 1, n);
    return JD_VALUE;
}

/* Whether s starts with the 3 letters w, in any case; stops at the first
 * byte that differs. */
static int starts_caseless(const char *s, const char *w)
{
    return (s[0] | 0x20) == w[0] && (s[1] | 0x20) == w[1] && (s[2] | 0x20) == w[2];
}

/* A value starting with a letter of inf or nan: strtod's, as in lua-cjson. */
static int number_word(jd *d)
{
    if (!starts_caseless(d->p, "nan") && !starts_caseless(d->p, "inf"))
        return JD_FAIL;
    return number_strtod(d);
}

/* The value at d->p (not whitespace). */
static int value(jd *d)
{
    const char *p = d->p;
    switch (*p) {
    case '{':
        return object(d);
    case '[':
        return array(d);
    case '"':
        return string(d);
    case 't':
        if (p[1] != 'r' || p[2] != 'u' || p[3] != 'e')
            return JD_FAIL;
        lua_pushboolean(d->L, 1);
        d->p = p + 4;
        return JD_VALUE;
    case 'f':
        if (p[1] != 'a' || p[2] != 'l' || p[3] != 's' || p[4] != 'e')
            return JD_FAIL;
        lua_pushboolean(d->L, 0);
        d->p = p + 5;
        return JD_VALUE;
    case 'n':
        if (p[1] == 'u' && p[2] == 'l' && p[3] == 'l') {
            d->p = p + 4;
            return JD_NULL;
        }
        return number_word(d);
    case 'N': case 'i': case 'I':
        return number_word(d);
    case '+':
        return number_strtod(d);
    case '-':
    case '0': case '1': case '2': case '3': case '4':
    case '5': case '6': case '7': case '8': case '9':
        return number(d);
    default:
        return JD_FAIL;
    }
}

int hcdl_json_decode(lua_State *L, const char *s, size_t n, int decoder)
{
    int top = lua_gettop(L), r;
    jd d;

    if (n == 0 || (n >= 2 && (s[0] == '\0' || s[1] == '\0')))
        return 0;
    decoder = hcdl_absindex(L, decoder);
    d.L = L;
    d.p = skip_ws(s);
    d.decoder = lua_istable(L, decoder) ? decoder : 0;
    d.depth = 0;
    r = value(&d);
    if (r != JD_FAIL && *skip_ws(d.p) == '\0') {
        if (r == JD_NULL)
            push_null(&d);
        return 1;
    }
    lua_settop(L, top);
    return 0;
}

int hcdl_json_decode_lua(lua_State *L)
{
    size_t n;
    const char *s = luaL_checklstring(L, 1, &n);
    if (!hcdl_json_decode(L, s, n, lua_upvalueindex(1)))
        lua_pushnil(L);
    return 1;
}
