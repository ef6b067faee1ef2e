/*
 * param.c - the parameter kinds (see param.h).  Each kind is one row of
 * `kinds`: its rule, its check, whether its wire form is bare JSON (a
 * number or a boolean) or a JSON string, and what core.apis() shows.  A
 * new kind is one enum value in api_table.h and one row here.
 *
 * Facts and their sources: docs/apis.md "The five link APIs".
 */
#include <math.h>
#include <string.h>

#include <lauxlib.h>

#include "clock.h"
#include "compat.h"
#include "fields.h"
#include "error.h"
#include "param.h"

/* ---- the string shapes ------------------------------------------------- */

static int is_alnum(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

static int is_hex(char c)
{
    return (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F') || (c >= '0' && c <= '9');
}

static int is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static int alnum_with_suffix(const char *s, size_t n, const char *suffix)
{
    size_t i;
    if (n != 36)
        return 0;
    for (i = 0; i < 32; i++)
        if (!is_alnum(s[i]))
            return 0;
    return memcmp(s + 32, suffix, 4) == 0;
}

static int no_control(const char *s, size_t n, size_t max)
{
    size_t i;
    if (n == 0 || n > max)
        return 0;
    for (i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
            return 0;
    return 1;
}

static int two(const char *s)
{
    return (s[0] - '0') * 10 + (s[1] - '0');
}

static int taurus_instance_ok(const param_desc *p, const char *s, size_t n, long long *e)
{
    (void)p, (void)e;
    return alnum_with_suffix(s, n, "in07");
}

static int taurus_node_ok(const param_desc *p, const char *s, size_t n, long long *e)
{
    (void)p, (void)e;
    return alnum_with_suffix(s, n, "no07");
}

static int uuid_ok(const param_desc *p, const char *s, size_t n, long long *e)
{
    size_t i;
    (void)p, (void)e;
    if (n != 36)
        return 0;
    for (i = 0; i < 36; i++) {
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (s[i] != '-')
                return 0;
        } else if (!is_hex(s[i])) {
            return 0;
        }
    }
    return 1;
}

static int id_ok(const param_desc *p, const char *s, size_t n, long long *e)
{
    size_t i;
    (void)p, (void)e;
    if (n == 0 || n > 128)
        return 0;
    for (i = 0; i < n; i++)
        if (!is_alnum(s[i]) && s[i] != '-' && s[i] != '_')
            return 0;
    return 1;
}

static int file_name_ok(const param_desc *p, const char *s, size_t n, long long *e)
{
    (void)p, (void)e;
    return no_control(s, n, 512);
}

static int filter_ok(const param_desc *p, const char *s, size_t n, long long *e)
{
    (void)p, (void)e;
    return no_control(s, n, 255) && !(n == 1 && s[0] == '*');
}

static int ipv4_ok(const param_desc *p, const char *s, size_t n, long long *e)
{
    size_t i = 0;
    int part;
    (void)p, (void)e;
    for (part = 0; part < 4; part++) {
        int value = 0, digits = 0;
        if (part > 0) {
            if (i >= n || s[i] != '.')
                return 0;
            i++;
        }
        while (i < n && is_digit(s[i]) && digits < 3) {
            value = value * 10 + (s[i] - '0');
            digits++;
            i++;
        }
        if (digits == 0 || value > 255 || (digits > 1 && s[i - digits] == '0'))
            return 0;
    }
    return i == n;
}

/*
 * yyyy-mm-ddThh:mm:ss+hhmm; 1 and the epoch seconds, or 0.  The documented
 * format has a numeric offset ("Z" means "+hhmm" there).
 */
static int time_ok(const param_desc *p, const char *s, size_t n, long long *epoch)
{
    size_t i;
    int oh, om, sign;
    (void)p;
    if (n != 24)
        return 0;
    for (i = 0; i < 24; i++) {
        char c = s[i];
        switch (i) {
        case 4: case 7: if (c != '-') return 0; break;
        case 10: if (c != 'T') return 0; break;
        case 13: case 16: if (c != ':') return 0; break;
        case 19: if (c != '+' && c != '-') return 0; break;
        default: if (!is_digit(c)) return 0;
        }
    }
    sign = s[19] == '-' ? -1 : 1;
    oh = two(s + 20);
    om = two(s + 22);
    if (oh > 14 || om > 59 ||
        !hcdl_civil_epoch(two(s) * 100 + two(s + 2), two(s + 5), two(s + 8), two(s + 11),
                          two(s + 14), two(s + 17), 59, epoch))
        return 0;
    *epoch -= sign * (oh * 3600 + om * 60);
    return 1;
}

/* yyyyMMddHHmmss (UTC, DCS); 1 and the epoch seconds, or 0. */
static int time14_ok(const param_desc *p, const char *s, size_t n, long long *epoch)
{
    size_t i;
    (void)p;
    if (n != 14)
        return 0;
    for (i = 0; i < 14; i++)
        if (!is_digit(s[i]))
            return 0;
    return hcdl_civil_epoch(two(s) * 100 + two(s + 2), two(s + 4), two(s + 6), two(s + 8),
                            two(s + 10), two(s + 12), 59, epoch);
}

static int enum_ok(const param_desc *p, const char *s, size_t n, long long *e)
{
    const char *const *v;
    (void)e;
    if (strlen(s) != n)
        return 0;
    for (v = p->values; *v != NULL; v++)
        if (strcmp(*v, s) == 0)
            return 1;
    return 0;
}

/* ---- rules --------------------------------------------------------------- */

static void int_rule(lua_State *L, const param_desc *p)
{
    lua_pushfstring(L, "must be an integer from %d to %d", (int)p->min, (int)p->max);
}

static void enum_rule(lua_State *L, const param_desc *p)
{
    const char *const *v;
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    luaL_addstring(&b, "must be one of ");
    for (v = p->values; *v != NULL; v++) {
        if (v != p->values)
            luaL_addstring(&b, v[1] == NULL ? " or " : ", ");
        luaL_addstring(&b, *v);
    }
    luaL_pushresult(&b);
}

/* nil, an input error "<name>: <rule>[, got <type>]"; returns 2. */
static int refuse(lua_State *L, const param_desc *p, const char *got)
{
    hcdl_param_push_rule(L, p);
    if (got != NULL)
        return hcdl_error_input(L, p->name, "%s, got %s", lua_tostring(L, -1), got);
    return hcdl_error_input(L, p->name, "%s", lua_tostring(L, -1));
}

/* ---- checks: each pushes the wire string, or nil, err ------------------- */

typedef int (*string_check)(const param_desc *p, const char *s, size_t n, long long *epoch);

static const string_check string_checks[PK_COUNT] = {
    [PK_TAURUS_INSTANCE] = taurus_instance_ok, [PK_TAURUS_NODE] = taurus_node_ok,
    [PK_UUID] = uuid_ok, [PK_ID] = id_ok, [PK_FILE_NAME] = file_name_ok,
    [PK_FILTER] = filter_ok, [PK_IPV4] = ipv4_ok, [PK_TIME] = time_ok,
    [PK_TIME14] = time14_ok, [PK_ENUM] = enum_ok,
};

static int check_string(lua_State *L, const param_desc *p, int v, long long *epoch)
{
    int t = lua_type(L, v);
    const char *s;
    size_t n;
    if (t != LUA_TSTRING)
        return refuse(L, p, lua_typename(L, t));
    s = lua_tolstring(L, v, &n);
    if (!string_checks[p->kind](p, s, n, epoch))
        return refuse(L, p, NULL);
    lua_pushvalue(L, v);
    return 0;
}

static int check_integer(lua_State *L, const param_desc *p, int v, long long *epoch)
{
    int t = lua_type(L, v);
    lua_Number x;
    (void)epoch;
    if (t != LUA_TNUMBER)
        return refuse(L, p, lua_typename(L, t));
    x = lua_tonumber(L, v);
    if (x != floor(x) || x < (lua_Number)p->min || x > (lua_Number)p->max)
        return refuse(L, p, NULL);
    if (p->kind == PK_QUERY_TIME && x != 0 && x != 1 && x != 3 && x != 7)
        return refuse(L, p, NULL);
    lua_pushfstring(L, "%d", (int)x);
    return 0;
}

static int check_flag(lua_State *L, const param_desc *p, int v, long long *epoch)
{
    int t = lua_type(L, v);
    (void)epoch;
    if (t != LUA_TBOOLEAN)
        return refuse(L, p, lua_typename(L, t));
    lua_pushstring(L, lua_toboolean(L, v) ? "true" : "false");
    return 0;
}

/* A time: its documented text, or seconds since the epoch (sent as text). */
static int check_time(lua_State *L, const param_desc *p, int v, long long *epoch)
{
    lua_Number x;
    char buf[HCDL_TIME_MAX];
    if (lua_type(L, v) != LUA_TNUMBER)
        return check_string(L, p, v, epoch);
    x = lua_tonumber(L, v);
    if (x != floor(x) || x < 0 || x > 253402300799.0)
        return refuse(L, p, NULL);
    *epoch = (long long)x;
    hcdl_format_epoch(*epoch, p->kind == PK_TIME14 ? HCDL_TIME_UTC14 : HCDL_TIME_OFFSET, buf);
    lua_pushstring(L, buf);
    return 0;
}

/* ---- the kinds ------------------------------------------------------------ */

typedef struct {
    const char *type;   /* core.apis() type */
    const char *format; /* core.apis() format of a time, or NULL */
    const char *rule;   /* the rule, or NULL when push_rule builds it */
    void (*push_rule)(lua_State *L, const param_desc *p);
    int (*check)(lua_State *L, const param_desc *p, int v, long long *epoch);
    int bare_json;      /* the wire form is a JSON number or boolean */
    int bounded;        /* core.apis() shows min and max */
} param_kind;

#define STRING_KIND(text) \
    {.type = "string", .rule = (text), .check = check_string}

static const param_kind kinds[PK_COUNT] = {
    [PK_TAURUS_INSTANCE] = STRING_KIND(
        "must be a TaurusDB instance id: 32 letters or digits followed by 'in07'"),
    [PK_TAURUS_NODE] = STRING_KIND(
        "must be a TaurusDB node id: 32 letters or digits followed by 'no07'"),
    [PK_UUID] = STRING_KIND("must be a UUID such as 5560df16-cebf-4473-95c4-d1b573c16e79"),
    [PK_ID] = STRING_KIND("must be 1 to 128 letters, digits, '-' or '_'"),
    [PK_FILE_NAME] = STRING_KIND(
        "must be a file name of 1 to 512 characters without control characters"),
    [PK_FILTER] = STRING_KIND("must be 1 to 255 characters without control characters, not "
                              "'*' alone (a leading '*' asks for a fuzzy match)"),
    [PK_IPV4] = STRING_KIND("must be an IPv4 address such as 192.168.0.1"),
    [PK_TIME] = {.type = "time", .format = "offset", .check = check_time,
                 .rule = "must be a time as yyyy-mm-ddThh:mm:ss+hhmm (e.g. "
                         "2023-07-24T09:27:00+0800) or a number of seconds since the epoch"},
    [PK_TIME14] = {.type = "time", .format = "utc14", .check = check_time,
                   .rule = "must be a UTC time as yyyyMMddHHmmss (e.g. 20230724013000) "
                           "or a number of seconds since the epoch"},
    [PK_INT] = {.type = "integer", .push_rule = int_rule, .check = check_integer,
                .bare_json = 1, .bounded = 1},
    [PK_QUERY_TIME] = {.type = "integer", .rule = "must be 0, 1, 3 or 7 (days back)",
                       .check = check_integer, .bare_json = 1, .bounded = 1},
    [PK_ENUM] = {.type = "string", .push_rule = enum_rule, .check = check_string},
    [PK_FLAG] = {.type = "boolean", .rule = "must be true or false", .check = check_flag,
                 .bare_json = 1},
};

void hcdl_param_push_rule(lua_State *L, const param_desc *p)
{
    const param_kind *k = &kinds[p->kind];
    if (k->push_rule != NULL)
        k->push_rule(L, p);
    else
        lua_pushstring(L, k->rule);
}

int hcdl_param_check(lua_State *L, const param_desc *p, int v, long long *epoch)
{
    return kinds[p->kind].check(L, p, v, epoch);
}

/*
 * A string kind goes into the body quoted.  Every string kind refuses
 * control characters, so '"' and '\' are all that need escaping.
 */
void hcdl_param_put_json(luaL_Buffer *b, const param_desc *p, const char *wire, size_t n,
                         int first)
{
    size_t i;
    luaL_addstring(b, first ? "\"" : ",\"");
    luaL_addstring(b, p->name);
    luaL_addstring(b, "\":");
    if (kinds[p->kind].bare_json) {
        luaL_addlstring(b, wire, n);
        return;
    }
    luaL_addchar(b, '"');
    for (i = 0; i < n; i++) {
        if (wire[i] == '"' || wire[i] == '\\')
            luaL_addchar(b, '\\');
        luaL_addchar(b, wire[i]);
    }
    luaL_addchar(b, '"');
}

/* ---- reflection ----------------------------------------------------------- */

/* values = the allowed values, when the kind has a list of them */
static void push_values(lua_State *L, const param_desc *p)
{
    static const int days[] = {0, 1, 3, 7};
    int i;
    if (p->kind == PK_QUERY_TIME) {
        lua_createtable(L, 4, 0);
        for (i = 0; i < 4; i++) {
            hcdl_pushinteger(L, days[i]);
            lua_rawseti(L, -2, i + 1);
        }
        lua_setfield(L, -2, "values");
    } else if (p->kind == PK_ENUM) {
        lua_newtable(L);
        for (i = 0; p->values[i] != NULL; i++) {
            lua_pushstring(L, p->values[i]);
            lua_rawseti(L, -2, i + 1);
        }
        lua_setfield(L, -2, "values");
    }
}

/* { name, where, type, required, rule, min, max, default, values, format, after, together } */
void hcdl_param_reflect(lua_State *L, const param_desc *p)
{
    static const char *const where[] = {"path", "query", "body"};
    const param_kind *k = &kinds[p->kind];
    lua_createtable(L, 0, 10);
    hcdl_set_string(L, "name", p->name);
    hcdl_set_string(L, "where", where[p->where]);
    hcdl_set_string(L, "type", k->type);
    lua_pushboolean(L, p->required);
    lua_setfield(L, -2, "required");
    hcdl_param_push_rule(L, p);
    lua_setfield(L, -2, "rule");
    if (k->bounded) {
        hcdl_set_integer(L, "min", p->min);
        hcdl_set_integer(L, "max", p->max);
    }
    if (p->has_default)
        hcdl_set_integer(L, "default", p->default_value);
    push_values(L, p);
    hcdl_set_string(L, "format", k->format);
    hcdl_set_string(L, "after", p->after);
    if (p->together) {
        lua_pushboolean(L, 1);
        lua_setfield(L, -2, "together");
    }
}
