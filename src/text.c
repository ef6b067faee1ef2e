/*
 * text.c - visible text (see text.h).
 */
#include <stdio.h>
#include <string.h>

#include "compat.h"
#include "text.h"

/*
 * Length of the valid UTF-8 sequence at s (at most n bytes) and its code
 * point, or 0 when the bytes there are not one (overlong forms, surrogates
 * and code points above U+10FFFF are not).
 */
static size_t utf8_sequence(const unsigned char *s, size_t n, unsigned long *cp)
{
    size_t len, i;
    unsigned long c = s[0], min;
    if (c < 0x80) {
        *cp = c;
        return 1;
    } else if (c >= 0xC2 && c <= 0xDF) {
        len = 2, c &= 0x1F, min = 0x80;
    } else if (c >= 0xE0 && c <= 0xEF) {
        len = 3, c &= 0x0F, min = 0x800;
    } else if (c >= 0xF0 && c <= 0xF4) {
        len = 4, c &= 0x07, min = 0x10000;
    } else {
        return 0;
    }
    if (n < len)
        return 0;
    for (i = 1; i < len; i++) {
        if ((s[i] & 0xC0) != 0x80)
            return 0;
        c = (c << 6) | (s[i] & 0x3F);
    }
    if (c < min || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF))
        return 0;
    *cp = c;
    return len;
}

/* Code points that move the cursor, end a line or reorder text on screen. */
static int is_hidden_format(unsigned long c)
{
    return (c >= 0x80 && c <= 0x9F) || c == 0x061C || (c >= 0x200B && c <= 0x200F) ||
           (c >= 0x2028 && c <= 0x202E) || (c >= 0x2060 && c <= 0x2069) || c == 0xFEFF;
}

void hcdl_text_add_visible(luaL_Buffer *b, const char *str, size_t n, size_t max)
{
    const unsigned char *s = (const unsigned char *)str;
    size_t i = 0, shown = 0;
    char esc[32];
    while (i < n) {
        unsigned long c = 0;
        size_t len = utf8_sequence(s + i, n - i, &c);
        if (max > 0 && shown >= max) {
            snprintf(esc, sizeof esc, "%lu", (unsigned long)(n - i));
            luaL_addstring(b, "\xE2\x80\xA6 (");
            luaL_addstring(b, esc);
            luaL_addstring(b, " more bytes)");
            return;
        }
        if (len == 0) {
            snprintf(esc, sizeof esc, "\\x%02x", s[i]);
            luaL_addstring(b, esc);
            len = 1;
        } else if (c == '\n') {
            luaL_addstring(b, "\\n");
        } else if (c == '\r') {
            luaL_addstring(b, "\\r");
        } else if (c == '\t') {
            luaL_addstring(b, "\\t");
        } else if (c < 0x20 || c == 0x7F) {
            snprintf(esc, sizeof esc, "\\x%02lx", c);
            luaL_addstring(b, esc);
        } else if (is_hidden_format(c)) {
            snprintf(esc, sizeof esc, "\\u{%04lx}", c);
            luaL_addstring(b, esc);
        } else {
            luaL_addlstring(b, str + i, len);
        }
        i += len;
        shown++;
    }
}

int hcdl_text_lvisible(lua_State *L)
{
    luaL_Buffer b;
    size_t n, max = 0;
    const char *s;
    if (!lua_isnoneornil(L, 2)) {
        lua_Number m = luaL_checknumber(L, 2);
        luaL_argcheck(L, m >= 1 && m <= 1e9, 2, "a positive number of characters");
        max = (size_t)m;
    }
    if (lua_type(L, 1) == LUA_TSTRING) {
        s = lua_tolstring(L, 1, &n);
    } else {
        /* numbers and booleans as tostring shows them; nil as "nil" */
        lua_getglobal(L, "tostring");
        lua_pushvalue(L, 1);
        lua_call(L, 1, 1);
        if (lua_type(L, -1) != LUA_TSTRING)
            return luaL_error(L, "'tostring' must return a string");
        lua_replace(L, 1);
        s = lua_tolstring(L, 1, &n);
    }
    luaL_buffinit(L, &b);
    hcdl_text_add_visible(&b, s, n, max);
    luaL_pushresult(&b);
    return 1;
}

int hcdl_text_lrepair(lua_State *L)
{
    luaL_Buffer b;
    size_t n, i = 0, start = 0, bad = 0;
    const char *s = luaL_checklstring(L, 1, &n);
    luaL_buffinit(L, &b);
    while (i < n) {
        unsigned long c;
        size_t len = utf8_sequence((const unsigned char *)s + i, n - i, &c);
        if (len > 0) {
            i += len;
            continue;
        }
        luaL_addlstring(&b, s + start, i - start);
        luaL_addstring(&b, "\xEF\xBF\xBD"); /* U+FFFD */
        bad++;
        start = ++i;
    }
    if (bad == 0) {
        lua_settop(L, 1); /* the buffer may have left nothing or a box */
        lua_pushvalue(L, 1);
    } else {
        luaL_addlstring(&b, s + start, n - start);
        luaL_pushresult(&b);
    }
    lua_pushinteger(L, (lua_Integer)bad);
    return 2;
}
