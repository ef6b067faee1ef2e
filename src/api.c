/*
 * api.c - the link APIs as one table of descriptors (see api.h).
 *
 * Each API is data: its service, method, path template and parameters with
 * their rules.  build() validates every parameter before anything is sent
 * (an "input" error naming the field and the rule), fills the path, builds
 * the query once (signed and sent alike, by the signer), adds the JSON
 * body, and signs.  parse() turns a response into a table, or into an
 * error carrying the service's error_code, error_msg and X-Request-Id.
 * Neither does I/O, so both are testable anywhere.
 *
 * Facts: shared/spec/api-facts.md sections 1-5 and D.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lauxlib.h>

#include "api.h"
#include "clock.h"
#include "compat.h"
#include "error.h"

enum { IN_PATH, IN_QUERY, IN_BODY };

enum {
    PK_TAURUS_INSTANCE, /* 32 letters/digits + "in07" */
    PK_TAURUS_NODE,     /* 32 letters/digits + "no07" */
    PK_RDS_INSTANCE,    /* 32 letters/digits + "in0N" */
    PK_UUID,            /* DCS ids */
    PK_ID,              /* ids whose format is not documented */
    PK_FILE_NAME,       /* a name from a previous answer */
    PK_TIME,            /* yyyy-mm-ddThh:mm:ss+hhmm, or epoch seconds */
    PK_INT,             /* integer in [min, max] */
    PK_QUERY_TIME       /* 0, 1, 3 or 7 (days) */
};

typedef struct {
    const char *name;
    unsigned char where;
    unsigned char kind;
    unsigned char required;
    long long min, max;
} param_desc;

typedef struct {
    const char *name;
    const char *service;
    const char *method;
    const char *path;
    const char *fixed_query; /* "k=v" always sent (log_type=run), or NULL */
    const param_desc *params;
    int empty_ok;            /* 204 is a success */
} api_desc;

#define END_PARAMS {NULL, 0, 0, 0, 0, 0}

static const param_desc p_audit[] = {
    {"instance_id", IN_PATH, PK_TAURUS_INSTANCE, 1, 0, 0},
    {"start_time", IN_QUERY, PK_TIME, 1, 0, 0},
    {"end_time", IN_QUERY, PK_TIME, 1, 0, 0},
    {"node_id", IN_QUERY, PK_TAURUS_NODE, 0, 0, 0},
    {"last_file_name", IN_QUERY, PK_FILE_NAME, 0, 0, 0},
    {"limit", IN_QUERY, PK_INT, 0, 1, 50},
    END_PARAMS,
};
static const param_desc p_rds_backup[] = {
    {"backup_id", IN_QUERY, PK_ID, 1, 0, 0},
    END_PARAMS,
};
static const param_desc p_dcs_backup[] = {
    {"instance_id", IN_PATH, PK_UUID, 1, 0, 0},
    {"backup_id", IN_PATH, PK_ID, 1, 0, 0},
    {"expiration", IN_BODY, PK_INT, 1, 300, 86400},
    END_PARAMS,
};
static const param_desc p_redislog_link[] = {
    {"instance_id", IN_PATH, PK_UUID, 1, 0, 0},
    {"id", IN_PATH, PK_ID, 1, 0, 0},
    END_PARAMS,
};
static const param_desc p_errorlog[] = {
    {"instance_id", IN_PATH, PK_RDS_INSTANCE, 1, 0, 0},
    END_PARAMS,
};
static const param_desc p_create_redislog[] = {
    {"instance_id", IN_PATH, PK_UUID, 1, 0, 0},
    {"query_time", IN_QUERY, PK_QUERY_TIME, 0, 0, 7},
    {"replication_id", IN_QUERY, PK_ID, 0, 0, 0},
    END_PARAMS,
};
static const param_desc p_list_redislog[] = {
    {"instance_id", IN_PATH, PK_UUID, 1, 0, 0},
    {"offset", IN_QUERY, PK_INT, 0, 0, 2147483647LL},
    {"limit", IN_QUERY, PK_INT, 0, 1, 1000},
    END_PARAMS,
};

static const api_desc apis[] = {
    {"list_audit_log_download_link", "gaussdb", "GET",
     "/v3/{project_id}/instance/{instance_id}/auditlog/download-link", NULL,
     p_audit, 0},
    {"show_backup_download_link", "rds", "GET", "/v3/{project_id}/backup-files",
     NULL, p_rds_backup, 0},
    {"list_backup_file_links", "dcs", "POST",
     "/v2/{project_id}/instances/{instance_id}/backups/{backup_id}/links", NULL,
     p_dcs_backup, 0},
    {"create_redislog_download_link", "dcs", "POST",
     "/v2/{project_id}/instances/{instance_id}/redislog/{id}/links", NULL,
     p_redislog_link, 0},
    {"download_errorlog", "rds", "POST",
     "/v3/{project_id}/instances/{instance_id}/errorlog-download", NULL,
     p_errorlog, 0},
    {"create_redislog", "dcs", "POST", "/v2/{project_id}/instances/{instance_id}/redislog",
     "log_type=run", p_create_redislog, 1},
    {"list_redislog", "dcs", "GET", "/v2/{project_id}/instances/{instance_id}/redislog",
     "log_type=run", p_list_redislog, 1},
    {NULL, NULL, NULL, NULL, NULL, NULL, 0},
};

static const api_desc *find_api(lua_State *L, int arg)
{
    const char *name = luaL_checkstring(L, arg);
    const api_desc *a;
    for (a = apis; a->name != NULL; a++)
        if (strcmp(a->name, name) == 0)
            return a;
    luaL_argerror(L, arg, lua_pushfstring(L, "unknown API '%s'", name));
    return NULL;
}

/* ---- validation ---------------------------------------------------------- */

static int is_alnum(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

static int is_hex(char c)
{
    return (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F') || (c >= '0' && c <= '9');
}

static int alnum_with_suffix(const char *s, size_t n, const char *suffix, int any_digit)
{
    size_t i;
    if (n != 36)
        return 0;
    for (i = 0; i < 32; i++)
        if (!is_alnum(s[i]))
            return 0;
    if (any_digit)
        return memcmp(s + 32, suffix, 3) == 0 && s[35] >= '0' && s[35] <= '9';
    return memcmp(s + 32, suffix, 4) == 0;
}

static int is_uuid(const char *s, size_t n)
{
    size_t i;
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

static int is_generic_id(const char *s, size_t n)
{
    size_t i;
    if (n == 0 || n > 128)
        return 0;
    for (i = 0; i < n; i++)
        if (!is_alnum(s[i]) && s[i] != '-' && s[i] != '_' && s[i] != '.')
            return 0;
    return 1;
}

static int is_file_name(const char *s, size_t n)
{
    size_t i;
    if (n == 0 || n > 512)
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

/*
 * Parses yyyy-mm-ddThh:mm:ss+hhmm; returns 1 and the epoch seconds, or 0.
 * The documented format has a numeric offset ("Z" means "+hhmm" there).
 */
static int parse_time(const char *s, size_t n, long long *epoch)
{
    static const int mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    size_t i;
    int y, mo, d, h, mi, se, oh, om, sign;
    if (n != 24)
        return 0;
    for (i = 0; i < 24; i++) {
        char c = s[i];
        switch (i) {
        case 4: case 7: if (c != '-') return 0; break;
        case 10: if (c != 'T') return 0; break;
        case 13: case 16: if (c != ':') return 0; break;
        case 19: if (c != '+' && c != '-') return 0; break;
        default: if (c < '0' || c > '9') return 0;
        }
    }
    y = two(s) * 100 + two(s + 2);
    mo = two(s + 5);
    d = two(s + 8);
    h = two(s + 11);
    mi = two(s + 14);
    se = two(s + 17);
    sign = s[19] == '-' ? -1 : 1;
    oh = two(s + 20);
    om = two(s + 22);
    if (y < 1970 || mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1] || h > 23 ||
        mi > 59 || se > 59 || oh > 14 || om > 59)
        return 0;
    if (mo == 2 && d == 29 && !((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
        return 0;
    *epoch = hcdl_days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + se -
             sign * (oh * 3600 + om * 60);
    return 1;
}

/* Formats epoch seconds as yyyy-mm-ddThh:mm:ss+0000 (UTC). */
static void format_time(long long t, char out[25])
{
    long long z = t / 86400, secs = t % 86400;
    int y, m, d;
    if (secs < 0) {
        secs += 86400;
        z--;
    }
    hcdl_civil_from_days(z, &y, &m, &d);
    snprintf(out, 25, "%04d-%02d-%02dT%02d:%02d:%02d+0000", y, m, d,
             (int)(secs / 3600), (int)(secs / 60 % 60), (int)(secs % 60));
}

static const char *kind_rule(const param_desc *p)
{
    switch (p->kind) {
    case PK_TAURUS_INSTANCE:
        return "must be a TaurusDB instance id: 32 letters or digits followed by 'in07'";
    case PK_TAURUS_NODE:
        return "must be a TaurusDB node id: 32 letters or digits followed by 'no07'";
    case PK_RDS_INSTANCE:
        return "must be an RDS instance id: 32 letters or digits followed by 'in0' and a digit";
    case PK_UUID:
        return "must be a DCS id: a UUID such as 5560df16-cebf-4473-95c4-d1b573c16e79";
    case PK_ID:
        return "must be 1 to 128 letters, digits, '-', '_' or '.'";
    case PK_FILE_NAME:
        return "must be a file name of 1 to 512 characters without control characters";
    case PK_TIME:
        return "must be a time as yyyy-mm-ddThh:mm:ss+hhmm (e.g. 2023-07-24T09:27:00+0800) "
               "or a number of seconds since the epoch";
    case PK_QUERY_TIME:
        return "must be 0, 1, 3 or 7 (days back)";
    default:
        return "is not valid";
    }
}

/*
 * Validates the parameter value at stack index v and pushes its wire string.
 * Returns 0, or pushes nil, err and returns 2.  *epoch gets PK_TIME values.
 */
static int check_param(lua_State *L, const param_desc *p, int v, long long *epoch)
{
    int t = lua_type(L, v);
    const char *s;
    size_t n;

    if (p->kind == PK_INT || p->kind == PK_QUERY_TIME) {
        lua_Number x;
        if (t != LUA_TNUMBER)
            return hcdl_error_input(L, p->name, "must be an integer, got %s",
                                    lua_typename(L, t));
        x = lua_tonumber(L, v);
        if (x != floor(x) || x < (lua_Number)p->min || x > (lua_Number)p->max)
            return p->kind == PK_QUERY_TIME
                       ? hcdl_error_input(L, p->name, "%s", kind_rule(p))
                       : hcdl_error_input(L, p->name, "must be an integer from %d "
                                          "to %d", (int)p->min, (int)p->max);
        if (p->kind == PK_QUERY_TIME && x != 0 && x != 1 && x != 3 && x != 7)
            return hcdl_error_input(L, p->name, "%s", kind_rule(p));
        lua_pushfstring(L, "%d", (int)x);
        return 0;
    }
    if (p->kind == PK_TIME && t == LUA_TNUMBER) {
        lua_Number x = lua_tonumber(L, v);
        char buf[25];
        if (x != floor(x) || x < 0 || x > 253402300799.0)
            return hcdl_error_input(L, p->name, "%s", kind_rule(p));
        *epoch = (long long)x;
        format_time(*epoch, buf);
        lua_pushstring(L, buf);
        return 0;
    }
    if (t != LUA_TSTRING)
        return hcdl_error_input(L, p->name, "must be a string, got %s",
                                lua_typename(L, t));
    s = lua_tolstring(L, v, &n);
    switch (p->kind) {
    case PK_TAURUS_INSTANCE:
        if (!alnum_with_suffix(s, n, "in07", 0))
            return hcdl_error_input(L, p->name, "%s", kind_rule(p));
        break;
    case PK_TAURUS_NODE:
        if (!alnum_with_suffix(s, n, "no07", 0))
            return hcdl_error_input(L, p->name, "%s", kind_rule(p));
        break;
    case PK_RDS_INSTANCE:
        if (!alnum_with_suffix(s, n, "in0", 1))
            return hcdl_error_input(L, p->name, "%s", kind_rule(p));
        break;
    case PK_UUID:
        if (!is_uuid(s, n))
            return hcdl_error_input(L, p->name, "%s", kind_rule(p));
        break;
    case PK_ID:
        if (!is_generic_id(s, n))
            return hcdl_error_input(L, p->name, "%s", kind_rule(p));
        break;
    case PK_FILE_NAME:
        if (!is_file_name(s, n))
            return hcdl_error_input(L, p->name, "%s", kind_rule(p));
        break;
    case PK_TIME:
        if (!parse_time(s, n, epoch))
            return hcdl_error_input(L, p->name, "%s", kind_rule(p));
        break;
    default:
        break;
    }
    lua_pushvalue(L, v);
    return 0;
}

static int is_project_id(const char *s, size_t n)
{
    size_t i;
    if (n != 32)
        return 0;
    for (i = 0; i < n; i++)
        if (!is_alnum(s[i]))
            return 0;
    return 1;
}

/*
 * Splits "http[s]://authority[/]" into its authority (what the Host header
 * carries).  Returns the authority length, or 0 when the URL is not of that
 * form.
 */
static size_t endpoint_authority(const char *url, size_t n, const char **auth)
{
    size_t skip, i;
    if (n > 8 && strncmp(url, "https://", 8) == 0)
        skip = 8;
    else if (n > 7 && strncmp(url, "http://", 7) == 0)
        skip = 7;
    else
        return 0;
    *auth = url + skip;
    for (i = skip; i < n; i++) {
        unsigned char c = (unsigned char)url[i];
        if (c == '/')
            break;
        if (c <= ' ' || c >= 0x7f || c == '?' || c == '#' || c == '@')
            return 0;
    }
    if (i == skip || (i < n && !(i == n - 1 && url[i] == '/')))
        return 0;
    return i - skip;
}

/* ---- build ---------------------------------------------------------------- */

static int auth_string(lua_State *L, int auth, const char *field, int required,
                       const char **out, size_t *len)
{
    int t;
    lua_getfield(L, auth, field);
    t = lua_type(L, -1);
    *out = NULL;
    *len = 0;
    if (t == LUA_TNIL) {
        lua_pop(L, 1);
        if (required)
            return hcdl_error_input(L, field, "required, a non-empty string");
        return 0;
    }
    if (t != LUA_TSTRING || hcdl_rawlen(L, -1) == 0) {
        lua_pop(L, 1);
        return hcdl_error_input(L, field, "must be a non-empty string");
    }
    *out = lua_tolstring(L, -1, len);
    lua_pop(L, 1); /* alive: a field of the auth table */
    return 0;
}

/*
 * core.build(api, params, auth) -> spec | nil, err
 *   auth = { endpoints = { gaussdb =, rds =, dcs = }, project_id =,
 *            ak =, sk =, security_token = } | { ..., token = }
 *   spec = { api =, service =, method =, url =, headers =, body = }
 */
int hcdl_api_build(lua_State *L)
{
    const api_desc *a = find_api(L, 1);
    const param_desc *p;
    const char *project, *token, *ak, *sk, *stoken, *language, *endpoint, *host, *tpl;
    size_t project_len, token_len, ak_len, sk_len, stoken_len, language_len,
        endpoint_len, host_len;
    int rc, nparams = 0, values, query, signreq, headers, i, qn = 0;
    long long start_epoch = -1, end_epoch = -1;
    luaL_Buffer b;

    lua_settop(L, 3);
    if (lua_isnil(L, 2)) {
        lua_newtable(L);
        lua_replace(L, 2);
    }
    luaL_checktype(L, 2, LUA_TTABLE);
    luaL_checktype(L, 3, LUA_TTABLE);

    /* Credentials and endpoint. */
    if ((rc = auth_string(L, 3, "project_id", 1, &project, &project_len)) != 0)
        return rc;
    if (!is_project_id(project, project_len))
        return hcdl_error_input(L, "project_id", "must be 32 letters or digits");
    if ((rc = auth_string(L, 3, "token", 0, &token, &token_len)) != 0 ||
        (rc = auth_string(L, 3, "ak", token == NULL, &ak, &ak_len)) != 0 ||
        (rc = auth_string(L, 3, "sk", token == NULL, &sk, &sk_len)) != 0 ||
        (rc = auth_string(L, 3, "security_token", 0, &stoken, &stoken_len)) != 0 ||
        (rc = auth_string(L, 3, "language", 0, &language, &language_len)) != 0)
        return rc;
    lua_getfield(L, 3, "endpoints");
    if (!lua_istable(L, -1))
        return hcdl_error_input(L, "endpoints", "required, a table of service = URL");
    lua_getfield(L, -1, a->service);
    if (lua_type(L, -1) != LUA_TSTRING) {
        lua_pushfstring(L, "endpoints.%s", a->service);
        return hcdl_error_input(L, lua_tostring(L, -1), "required, the %s endpoint URL "
                                "such as https://%s.cn-north-4.myhuaweicloud.com",
                                a->service, a->service);
    }
    endpoint = lua_tolstring(L, -1, &endpoint_len);
    lua_pop(L, 2); /* alive: field of auth.endpoints */
    host_len = endpoint_authority(endpoint, endpoint_len, &host);
    if (host_len == 0) {
        lua_pushfstring(L, "endpoints.%s", a->service);
        return hcdl_error_input(L, lua_tostring(L, -1), "must be http[s]://host[:port] "
                                "with no path, query or user info");
    }

    /* Every given parameter must be known: nothing is silently ignored. */
    lua_pushnil(L);
    while (lua_next(L, 2) != 0) {
        const char *k;
        lua_pop(L, 1);
        if (lua_type(L, -1) != LUA_TSTRING)
            return hcdl_error_input(L, "params", "keys must be parameter names");
        k = lua_tostring(L, -1);
        for (p = a->params; p->name != NULL; p++)
            if (strcmp(p->name, k) == 0)
                break;
        if (p->name == NULL) {
            lua_pushliteral(L, "");
            for (p = a->params; p->name != NULL; p++) {
                lua_pushstring(L, p == a->params ? "" : ", ");
                lua_pushstring(L, p->name);
                lua_concat(L, 3);
            }
            return hcdl_error_input(L, k, "unknown parameter for %s (known: %s)",
                                    a->name, lua_tostring(L, -1));
        }
    }

    /* Validate each parameter, in declaration order; keep wire strings. */
    lua_newtable(L);
    values = lua_gettop(L);
    for (p = a->params; p->name != NULL; p++, nparams++) {
        long long epoch = -1;
        lua_getfield(L, 2, p->name);
        if (lua_isnil(L, -1)) {
            lua_pop(L, 1);
            if (p->required)
                return hcdl_error_input(L, p->name, "required; %s", kind_rule(p));
            continue;
        }
        if ((rc = check_param(L, p, lua_gettop(L), &epoch)) != 0)
            return rc;
        lua_rawseti(L, values, nparams + 1);
        lua_pop(L, 1);
        if (strcmp(p->name, "start_time") == 0)
            start_epoch = epoch;
        else if (strcmp(p->name, "end_time") == 0)
            end_epoch = epoch;
    }
    if (start_epoch >= 0 && end_epoch >= 0 && end_epoch < start_epoch)
        return hcdl_error_input(L, "end_time", "must not be before start_time");

    /* The request for the signer (which also encodes path and query). */
    lua_createtable(L, 0, 9);
    signreq = lua_gettop(L);
    lua_pushstring(L, a->method);
    lua_setfield(L, signreq, "method");
    lua_pushlstring(L, host, host_len);
    lua_setfield(L, signreq, "host");

    luaL_buffinit(L, &b);
    for (tpl = a->path; *tpl != '\0';) {
        const char *open = strchr(tpl, '{'), *close;
        if (open == NULL) {
            luaL_addstring(&b, tpl);
            break;
        }
        close = strchr(open, '}');
        luaL_addlstring(&b, tpl, (size_t)(open - tpl));
        if ((size_t)(close - open - 1) == 10 && memcmp(open + 1, "project_id", 10) == 0) {
            luaL_addlstring(&b, project, project_len);
        } else {
            int k = 0;
            for (p = a->params; p->name != NULL; p++, k++) {
                if (strlen(p->name) == (size_t)(close - open - 1) &&
                    memcmp(p->name, open + 1, (size_t)(close - open - 1)) == 0)
                    break;
            }
            /* path parameters are required, so the value exists */
            lua_rawgeti(L, values, k + 1);
            luaL_addvalue(&b);
        }
        tpl = close + 1;
    }
    luaL_pushresult(&b);
    lua_setfield(L, signreq, "path");

    lua_newtable(L);
    query = lua_gettop(L);
    if (a->fixed_query != NULL) {
        const char *eq = strchr(a->fixed_query, '=');
        lua_createtable(L, 2, 0);
        lua_pushlstring(L, a->fixed_query, (size_t)(eq - a->fixed_query));
        lua_rawseti(L, -2, 1);
        lua_pushstring(L, eq + 1);
        lua_rawseti(L, -2, 2);
        lua_rawseti(L, query, ++qn);
    }
    i = 0;
    for (p = a->params; p->name != NULL; p++, i++) {
        if (p->where != IN_QUERY)
            continue;
        lua_rawgeti(L, values, i + 1);
        if (lua_isnil(L, -1)) {
            lua_pop(L, 1);
            continue;
        }
        lua_createtable(L, 2, 0);
        lua_pushstring(L, p->name);
        lua_rawseti(L, -2, 1);
        lua_insert(L, -2);
        lua_rawseti(L, -2, 2);
        lua_rawseti(L, query, ++qn);
    }
    lua_setfield(L, signreq, "query");

    /* Body: the JSON fields, in a fixed order; POST without fields sends none. */
    lua_pushliteral(L, "");
    i = 0;
    for (p = a->params; p->name != NULL; p++, i++) {
        if (p->where != IN_BODY)
            continue;
        lua_rawgeti(L, values, i + 1);
        if (lua_isnil(L, -1)) {
            lua_pop(L, 1);
            continue;
        }
        /* integers only today: {"expiration":1800} */
        lua_pushfstring(L, "%s\"%s\":%s", hcdl_rawlen(L, -2) > 0 ? "," : "",
                        p->name, lua_tostring(L, -1));
        lua_remove(L, -2);
        lua_concat(L, 2);
    }
    if (hcdl_rawlen(L, -1) > 0) {
        lua_pushliteral(L, "{");
        lua_insert(L, -2);
        lua_pushliteral(L, "}");
        lua_concat(L, 3);
    }
    lua_setfield(L, signreq, "body");

    lua_createtable(L, 0, 4);
    headers = lua_gettop(L);
    lua_pushliteral(L, "application/json");
    lua_setfield(L, headers, "Content-Type");
    lua_pushlstring(L, project, project_len);
    lua_setfield(L, headers, "X-Project-Id");
    if (language != NULL) {
        lua_pushlstring(L, language, language_len);
        lua_setfield(L, headers, "X-Language");
    }
    if (stoken != NULL && token == NULL) {
        lua_pushlstring(L, stoken, stoken_len);
        lua_setfield(L, headers, "X-Security-Token");
    }
    lua_setfield(L, signreq, "headers");

    if (token != NULL) {
        /* Token mode: the signer still encodes path and query (one place
         * does encoding), but its signature is not used. */
        lua_pushliteral(L, "token-mode");
        lua_setfield(L, signreq, "ak");
        lua_pushliteral(L, "token-mode");
        lua_setfield(L, signreq, "sk");
    } else {
        lua_pushlstring(L, ak, ak_len);
        lua_setfield(L, signreq, "ak");
        lua_pushlstring(L, sk, sk_len);
        lua_setfield(L, signreq, "sk");
    }

    lua_pushvalue(L, lua_upvalueindex(1)); /* core.sign */
    lua_pushvalue(L, signreq);
    lua_call(L, 1, 2);
    if (lua_isnil(L, -2))
        return 2; /* nil, err from the signer */
    lua_pop(L, 1);
    /* stack: ..., signreq, s */

    lua_createtable(L, 0, 7);
    lua_pushstring(L, a->name);
    lua_setfield(L, -2, "api");
    lua_pushstring(L, a->service);
    lua_setfield(L, -2, "service");
    lua_pushstring(L, a->method);
    lua_setfield(L, -2, "method");
    /* url = scheme://authority .. path [? query] */
    lua_pushlstring(L, endpoint, (size_t)(host - endpoint) + host_len);
    lua_getfield(L, -3, "path");
    lua_getfield(L, -4, "query_string");
    if (hcdl_rawlen(L, -1) > 0) {
        lua_pushliteral(L, "?");
        lua_insert(L, -2);
        lua_concat(L, 4);
    } else {
        lua_pop(L, 1);
        lua_concat(L, 2);
    }
    lua_setfield(L, -2, "url");
    lua_getfield(L, signreq, "body");
    lua_setfield(L, -2, "body");
    if (token != NULL) {
        lua_getfield(L, signreq, "headers");
        lua_pushlstring(L, token, token_len);
        lua_setfield(L, -2, "X-Auth-Token");
    } else {
        lua_getfield(L, -2, "headers");
    }
    lua_setfield(L, -2, "headers");
    return 1;
}

/* ---- parse ---------------------------------------------------------------- */

#define MAX_DEPTH 64

/*
 * Integral floats become integers (Debian's lua-cjson decodes 5 as 5.0 on
 * Lua 5.3+), and JSON nulls (lightuserdata NULL) are removed from objects
 * so a missing value reads as nil; in arrays they become false, keeping
 * the positions.  Strings, such as ids, are never converted.
 */
/* The decoder's null: lua-cjson's is a NULL light userdata, Neovim's
 * vim.json uses vim.NIL; the decoder (upvalue 1) names its own. */
static int is_json_null(lua_State *L, int idx)
{
    int t = lua_type(L, idx), r = 0;
    if (t == LUA_TLIGHTUSERDATA)
        return lua_touserdata(L, idx) == NULL;
    if (t != LUA_TUSERDATA || !lua_istable(L, lua_upvalueindex(1)))
        return 0;
    idx = hcdl_absindex(L, idx);
    lua_getfield(L, lua_upvalueindex(1), "null");
    r = lua_rawequal(L, -1, idx);
    lua_pop(L, 1);
    return r;
}

static void normalize(lua_State *L, int idx, int depth)
{
    idx = hcdl_absindex(L, idx);
    if (depth > MAX_DEPTH)
        return;
    lua_pushnil(L);
    while (lua_next(L, idx) != 0) {
        int t = lua_type(L, -1);
        if (t == LUA_TTABLE) {
            normalize(L, -1, depth + 1);
        } else if (is_json_null(L, -1)) {
            lua_pushvalue(L, -2);
            if (lua_type(L, -1) == LUA_TNUMBER)
                lua_pushboolean(L, 0);
            else
                lua_pushnil(L); /* clearing a field during lua_next is allowed */
            lua_rawset(L, idx);
#if LUA_VERSION_NUM >= 503
        } else if (t == LUA_TNUMBER && !lua_isinteger(L, -1)) {
            lua_Number x = lua_tonumber(L, -1);
            if (x == floor(x) && x >= -9007199254740992.0 && x <= 9007199254740992.0) {
                lua_pushvalue(L, -2);
                lua_pushinteger(L, (lua_Integer)x);
                lua_rawset(L, idx);
            }
#endif
        }
        lua_pop(L, 1);
    }
}

int hcdl_api_normalize(lua_State *L)
{
    lua_settop(L, 1);
    if (lua_istable(L, 1))
        normalize(L, 1, 0);
    return 1;
}

static const char *header(lua_State *L, int res, const char *name)
{
    const char *v = NULL;
    lua_getfield(L, res, "headers");
    if (lua_istable(L, -1)) {
        lua_getfield(L, -1, name);
        if (lua_type(L, -1) == LUA_TSTRING)
            v = lua_tostring(L, -1);
        lua_pop(L, 1);
    }
    lua_pop(L, 1);
    return v; /* alive: a field of res.headers */
}

/* Decodes body with the private decoder (upvalue 1): 1 and the value, or
 * 0.  Protected: cjson.safe returns nil, Neovim's vim.json raises. */
static int decode_json(lua_State *L, const char *body, size_t n)
{
    lua_getfield(L, lua_upvalueindex(1), "decode");
    lua_pushlstring(L, body, n);
    if (lua_pcall(L, 1, 1, 0) != 0 || lua_isnil(L, -1)) {
        lua_pop(L, 1);
        return 0;
    }
    return 1;
}

/* Finds error code and message in a decoded body (the SDKs' order). */
static void find_error_fields(lua_State *L, int obj, int depth, int err)
{
    static const char *const pairs[][2] = {
        {"error_code", "error_msg"}, {"errorCode", "errorMsg"}, {"code", "message"},
    };
    size_t i;
    obj = hcdl_absindex(L, obj);
    for (i = 0; i < sizeof pairs / sizeof pairs[0]; i++) {
        lua_getfield(L, obj, pairs[i][0]);
        if (lua_type(L, -1) == LUA_TSTRING || lua_type(L, -1) == LUA_TNUMBER) {
            lua_pushstring(L, lua_tostring(L, -1)); /* numbers become strings */
            lua_setfield(L, err, "code");
            lua_pop(L, 1);
            lua_getfield(L, obj, pairs[i][1]);
            if (lua_type(L, -1) == LUA_TSTRING)
                lua_setfield(L, err, "message");
            else
                lua_pop(L, 1);
            return;
        }
        lua_pop(L, 1);
    }
    if (depth > 0)
        return;
    /* e.g. {"NeutronError": {...}}: one level down */
    lua_pushnil(L);
    while (lua_next(L, obj) != 0) {
        if (lua_istable(L, -1)) {
            lua_getfield(L, err, "code");
            if (lua_isnil(L, -1)) {
                lua_pop(L, 1);
                find_error_fields(L, -1, depth + 1, err);
            } else {
                lua_pop(L, 1);
            }
        }
        lua_pop(L, 1);
    }
}

/*
 * The kind of an error answer.  Throttling (429, or the gateway's
 * APIGW.0308/APIG.0308 whatever the status) has a meaning of its own:
 * retry later, the credentials are fine.  Authentication failures are 401,
 * the gateway's other APIGW.03xx codes and the services' invalid-token code.
 */
static const char *answer_kind(lua_Integer status, const char *code)
{
    if (status == 429 || (code != NULL && (strcmp(code, "APIGW.0308") == 0 ||
                                           strcmp(code, "APIG.0308") == 0)))
        return "throttled";
    if (status == 401)
        return "auth";
    if (code == NULL)
        return "http";
    if (strncmp(code, "APIGW.03", 8) == 0 || strncmp(code, "APIG.03", 7) == 0 ||
        strcmp(code, "DBS.280056") == 0)
        return "auth";
    return "api";
}

/*
 * core.parse(api, res) -> data | nil, err
 * res = { status =, headers = {lower-case name = value}, body = }
 */
int hcdl_api_parse(lua_State *L)
{
    const api_desc *a = find_api(L, 1);
    lua_Integer status;
    const char *body, *request_id, *retry_after;
    size_t body_len;
    int err;

    luaL_checktype(L, 2, LUA_TTABLE);
    lua_settop(L, 2);
    lua_getfield(L, 2, "status");
    status = (lua_Integer)lua_tonumber(L, -1);
    lua_pop(L, 1);
    lua_getfield(L, 2, "body");
    body = lua_type(L, -1) == LUA_TSTRING ? lua_tolstring(L, -1, &body_len) : "";
    if (lua_type(L, -1) != LUA_TSTRING)
        body_len = 0;
    request_id = header(L, 2, "x-request-id");

    if (status >= 200 && status < 300) {
        if (status == 204 || body_len == 0) {
            lua_newtable(L);
            if (strcmp(a->name, "list_redislog") == 0) {
                hcdl_pushinteger(L, 0);
                lua_setfield(L, -2, "total_num");
                lua_newtable(L);
                lua_setfield(L, -2, "file_list");
            }
            return 1;
        }
        /* the answers are JSON objects: an array (a table with items) is not */
        if (!decode_json(L, body, body_len) || !lua_istable(L, -1) ||
            hcdl_rawlen(L, -1) > 0) {
            lua_pushnil(L);
            lua_pushfstring(L, "%s answered HTTP %d with a body that is not a JSON "
                            "object (%d bytes)", a->name, (int)status, (int)body_len);
            hcdl_error_push(L, "http", lua_tostring(L, -1));
            lua_remove(L, -2);
            hcdl_pushinteger(L, status);
            lua_setfield(L, -2, "status");
            lua_pushboolean(L, 1); /* a truncated or garbled answer may not recur */
            lua_setfield(L, -2, "retryable");
            if (request_id != NULL) {
                lua_pushstring(L, request_id);
                lua_setfield(L, -2, "request_id");
            }
            return 2;
        }
        normalize(L, -1, 0);
        return 1;
    }

    /* An error answer. */
    lua_pushnil(L);
    hcdl_error_push(L, "http", "");
    err = lua_gettop(L);
    hcdl_pushinteger(L, status);
    lua_setfield(L, err, "status");
    if (request_id != NULL) {
        lua_pushstring(L, request_id);
        lua_setfield(L, err, "request_id");
    }
    lua_pushboolean(L, status == 429 || status == 500 || status == 502 ||
                           status == 503 || status == 504);
    lua_setfield(L, err, "retryable");
    retry_after = header(L, 2, "retry-after");
    if (retry_after != NULL) {
        char *end;
        double secs = strtod(retry_after, &end);
        if (end != retry_after && *end == '\0' && secs >= 0) {
            lua_pushnumber(L, secs);
            lua_setfield(L, err, "retry_after");
        }
    }
    lua_pushstring(L, a->name);
    lua_setfield(L, err, "api");

    if (body_len > 0 && decode_json(L, body, body_len)) {
        if (lua_istable(L, -1)) {
            find_error_fields(L, -1, 0, err);
            lua_getfield(L, -1, "request_id");
            if (request_id == NULL && lua_type(L, -1) == LUA_TSTRING)
                lua_setfield(L, err, "request_id");
            else
                lua_pop(L, 1);
        }
        lua_pop(L, 1);
    }
    lua_getfield(L, err, "code");
    if (!lua_isnil(L, -1)) {
        const char *code = lua_tostring(L, -1);
        lua_pushstring(L, answer_kind(status, code));
        lua_setfield(L, err, "kind");
        if (strcmp(answer_kind(status, code), "throttled") == 0) {
            lua_pushboolean(L, 1);
            lua_setfield(L, err, "retryable");
        }
        lua_getfield(L, err, "message");
        if (lua_type(L, -1) != LUA_TSTRING || hcdl_rawlen(L, -1) == 0) {
            lua_pushfstring(L, "%s failed with HTTP %d", a->name, (int)status);
            lua_setfield(L, err, "message");
        }
        lua_pop(L, 1);
    } else {
        lua_pushstring(L, answer_kind(status, NULL));
        lua_setfield(L, err, "kind");
        lua_pushfstring(L, "%s failed with HTTP %d and no error code in the body",
                        a->name, (int)status);
        lua_setfield(L, err, "message");
    }
    lua_pop(L, 1);
    lua_settop(L, err);
    return 2;
}

int hcdl_api_list(lua_State *L)
{
    const api_desc *a;
    lua_newtable(L);
    for (a = apis; a->name != NULL; a++) {
        const param_desc *p;
        int i = 0;
        lua_createtable(L, 0, 4);
        lua_pushstring(L, a->service);
        lua_setfield(L, -2, "service");
        lua_pushstring(L, a->method);
        lua_setfield(L, -2, "method");
        lua_pushstring(L, a->path);
        lua_setfield(L, -2, "path");
        lua_newtable(L);
        for (p = a->params; p->name != NULL; p++) {
            lua_pushstring(L, p->name);
            lua_rawseti(L, -2, ++i);
        }
        lua_setfield(L, -2, "params");
        lua_setfield(L, -2, a->name);
    }
    return 1;
}
