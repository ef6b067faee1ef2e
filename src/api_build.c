/*
 * api_build.c - core.build and the request of one API call (see
 * api_build.h).  Every parameter is validated before anything is sent (an
 * "input" error naming the field and the rule, src/param.c), the path is
 * filled, the query is built once (signed and sent alike), the JSON body
 * added, and the request signed by src/sign.c straight from these strings.
 *
 * Facts and their sources: docs/apis.md "Signing",
 * docs/apis.md "Errors, request ids and retries".
 */
#include <string.h>

#include <lauxlib.h>

#include "api.h"
#include "api_build.h"
#include "compat.h"
#include "error.h"
#include "param.h"

/* The strings the credentials give (alive: fields of the auth table). */
typedef struct {
    hcdl_span project, token, ak, sk, stoken, language, endpoint, host;
} credentials;

/* The parameters given, as wire strings (alive on the stack); s == NULL:
 * not given. */
typedef struct {
    hcdl_span wire[MAX_PARAMS];
    long long epochs[MAX_PARAMS];
    int n;
} values;

static int is_alnum(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
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

static int auth_string(lua_State *L, int auth, const char *field, int required, hcdl_span *out)
{
    int t;
    lua_getfield(L, auth, field);
    t = lua_type(L, -1);
    out->s = NULL;
    out->n = 0;
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
    out->s = lua_tolstring(L, -1, &out->n);
    lua_pop(L, 1); /* alive: a field of the auth table */
    return 0;
}

static int read_endpoint(lua_State *L, const api_desc *a, int auth, credentials *k)
{
    lua_getfield(L, auth, "endpoints");
    if (!lua_istable(L, -1))
        return hcdl_error_input(L, "endpoints", "required, a table of service = URL");
    lua_getfield(L, -1, a->service);
    if (lua_type(L, -1) != LUA_TSTRING) {
        lua_pushfstring(L, "endpoints.%s", a->service);
        return hcdl_error_input(L, lua_tostring(L, -1), "required, the %s endpoint URL "
                                "such as https://%s.cn-north-4.myhuaweicloud.com",
                                a->service, a->service);
    }
    k->endpoint.s = lua_tolstring(L, -1, &k->endpoint.n);
    lua_pop(L, 2); /* alive: field of auth.endpoints */
    k->host.n = endpoint_authority(k->endpoint.s, k->endpoint.n, &k->host.s);
    if (k->host.n == 0) {
        lua_pushfstring(L, "endpoints.%s", a->service);
        return hcdl_error_input(L, lua_tostring(L, -1), "must be http[s]://host[:port] "
                                "with no path, query or user info");
    }
    return 0;
}

/* Credentials and endpoint, checked in a fixed order (errors are stable). */
static int read_credentials(lua_State *L, const api_desc *a, int auth, credentials *k)
{
    int rc;
    if ((rc = auth_string(L, auth, "project_id", 1, &k->project)) != 0)
        return rc;
    if (!is_project_id(k->project.s, k->project.n))
        return hcdl_error_input(L, "project_id", "must be 32 letters or digits");
    if ((rc = auth_string(L, auth, "token", 0, &k->token)) != 0 ||
        (rc = auth_string(L, auth, "ak", k->token.s == NULL, &k->ak)) != 0 ||
        (rc = auth_string(L, auth, "sk", k->token.s == NULL, &k->sk)) != 0 ||
        (rc = auth_string(L, auth, "security_token", 0, &k->stoken)) != 0 ||
        (rc = auth_string(L, auth, "language", 0, &k->language)) != 0)
        return rc;
    return read_endpoint(L, a, auth, k);
}

/* Every given parameter must be known: nothing is silently ignored. */
static int check_known(lua_State *L, const api_desc *a, int params)
{
    const param_desc *p;
    lua_pushnil(L);
    while (lua_next(L, params) != 0) {
        const char *k;
        lua_pop(L, 1);
        if (lua_type(L, -1) != LUA_TSTRING)
            return hcdl_error_input(L, "params", "keys must be parameter names");
        k = lua_tostring(L, -1);
        if (hcdl_api_param_index(a, k) >= 0)
            continue;
        lua_pushliteral(L, "");
        for (p = a->params; p->name != NULL; p++) {
            lua_pushstring(L, p == a->params ? "" : ", ");
            lua_pushstring(L, p->name);
            lua_concat(L, 3);
        }
        return hcdl_error_input(L, k, "unknown parameter for %s (known: %s)", a->name,
                                lua_tostring(L, -1));
    }
    return 0;
}

/*
 * The rules between parameters: a time range's end must not be before its
 * start, and some ranges are given whole or not at all.
 */
static int check_ranges(lua_State *L, const api_desc *a, const long long *epochs)
{
    int i;
    for (i = 0; a->params[i].name != NULL; i++) {
        const param_desc *p = &a->params[i];
        int s;
        if (p->after == NULL)
            continue;
        s = hcdl_api_param_index(a, p->after);
        if (p->together && (epochs[i] == HCDL_NOT_GIVEN) != (epochs[s] == HCDL_NOT_GIVEN)) {
            const char *missing = epochs[i] == HCDL_NOT_GIVEN ? p->name : p->after;
            const char *given = epochs[i] == HCDL_NOT_GIVEN ? p->after : p->name;
            return hcdl_error_input(L, missing, "required together with %s", given);
        }
        if (epochs[i] != HCDL_NOT_GIVEN && epochs[s] != HCDL_NOT_GIVEN && epochs[i] < epochs[s])
            return hcdl_error_input(L, p->name, "must not be before %s", p->after);
    }
    return 0;
}

/* Validates each parameter, in declaration order; the wire strings stay on
 * the stack. */
static int check_values(lua_State *L, const api_desc *a, int params, values *v)
{
    const param_desc *p;
    int rc;
    v->n = 0;
    luaL_checkstack(L, MAX_PARAMS + 4, "hcdl: building a request");
    for (p = a->params; p->name != NULL; p++, v->n++) {
        hcdl_span *w = &v->wire[v->n];
        if (v->n >= MAX_PARAMS)
            return luaL_error(L, "hcdl: %s has more than %d parameters", a->name, MAX_PARAMS);
        v->epochs[v->n] = HCDL_NOT_GIVEN;
        w->s = NULL;
        lua_getfield(L, params, p->name);
        if (lua_isnil(L, -1)) {
            lua_pop(L, 1);
            if (!p->required)
                continue;
            hcdl_param_push_rule(L, p);
            return hcdl_error_input(L, p->name, "required; %s", lua_tostring(L, -1));
        }
        if ((rc = hcdl_param_check(L, p, lua_gettop(L), &v->epochs[v->n])) != 0)
            return rc;
        lua_remove(L, -2);
        w->s = lua_tolstring(L, -1, &w->n);
    }
    return check_ranges(L, a, v->epochs);
}

/* Pushes the path with {project_id} and the path parameters filled in
 * (raw: the signer encodes it). */
static void push_path(lua_State *L, const api_desc *a, const credentials *k, const values *v)
{
    const char *tpl = a->path;
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    while (*tpl != '\0') {
        const char *open = strchr(tpl, '{'), *close;
        size_t n;
        int i;
        if (open == NULL) {
            luaL_addstring(&b, tpl);
            break;
        }
        close = strchr(open, '}');
        n = (size_t)(close - open - 1);
        luaL_addlstring(&b, tpl, (size_t)(open - tpl));
        for (i = 0; a->params[i].name != NULL; i++)
            if (strlen(a->params[i].name) == n && memcmp(a->params[i].name, open + 1, n) == 0)
                break;
        if (n == 10 && memcmp(open + 1, "project_id", 10) == 0)
            luaL_addlstring(&b, k->project.s, k->project.n);
        else /* path parameters are required, so the value exists */
            luaL_addlstring(&b, v->wire[i].s, v->wire[i].n);
        tpl = close + 1;
    }
    luaL_pushresult(&b);
}

/* The query pairs: the fixed one, then the given query parameters. */
static size_t fill_query(const api_desc *a, const values *v, hcdl_param *q)
{
    size_t n = 0;
    int i;
    if (a->fixed_query != NULL) {
        const char *eq = strchr(a->fixed_query, '=');
        q[n].key = a->fixed_query;
        q[n].key_len = (size_t)(eq - a->fixed_query);
        q[n].value = eq + 1;
        q[n++].value_len = strlen(eq + 1);
    }
    for (i = 0; i < v->n; i++) {
        if (a->params[i].where != IN_QUERY || v->wire[i].s == NULL)
            continue;
        q[n].key = a->params[i].name;
        q[n].key_len = strlen(a->params[i].name);
        q[n].value = v->wire[i].s;
        q[n++].value_len = v->wire[i].n;
    }
    return n;
}

/* Pushes the body: the JSON fields in a fixed order; without fields it is
 * "", signed as the empty payload and sent as nothing (src/method.c). */
static void push_body(lua_State *L, const api_desc *a, const values *v)
{
    luaL_Buffer b;
    int i, first = 1;
    luaL_buffinit(L, &b);
    for (i = 0; i < v->n; i++) {
        if (a->params[i].where != IN_BODY || v->wire[i].s == NULL)
            continue;
        if (first)
            luaL_addchar(&b, '{');
        hcdl_param_put_json(&b, &a->params[i], v->wire[i].s, v->wire[i].n, first);
        first = 0;
    }
    if (!first)
        luaL_addchar(&b, '}');
    luaL_pushresult(&b);
}

/* Adds a header the signer signs; its value trimmed of blanks, as the
 * signer trims the headers of core.sign. */
static int add_header(lua_State *L, hcdl_header *h, const char *name, const char *lname,
                      hcdl_span value)
{
    const char *s = value.s;
    size_t n = value.n;
    if (hcdl_sign_check_header(L, name, s, n) != 0)
        return 2;
    while (n > 0 && (*s == ' ' || *s == '\t')) {
        s++;
        n--;
    }
    while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t'))
        n--;
    h->name = name;
    h->name_len = strlen(name);
    h->lname = lname;
    h->value = s;
    h->value_len = n;
    h->signed_ = 1;
    return 0;
}

/* The caller's headers of every API call (room is left for the signer's). */
static int fill_headers(lua_State *L, const credentials *k, hcdl_sign_req *r)
{
    static const char json[] = "application/json";
    hcdl_span type = {json, sizeof json - 1};
    size_t n = 0;
    if (add_header(L, &r->headers[n++], "Content-Type", "content-type", type) != 0 ||
        add_header(L, &r->headers[n++], "X-Project-Id", "x-project-id", k->project) != 0)
        return 2;
    if (k->language.s != NULL &&
        add_header(L, &r->headers[n++], "X-Language", "x-language", k->language) != 0)
        return 2;
    if (k->stoken.s != NULL && k->token.s == NULL &&
        add_header(L, &r->headers[n++], "X-Security-Token", "x-security-token", k->stoken) != 0)
        return 2;
    r->nheaders = n;
    return 0;
}

static void add_plain(hcdl_api_request *out, const char *name, const char *value, size_t n)
{
    hcdl_header *h = &out->headers[out->nheaders++];
    h->name = name;
    h->name_len = strlen(name);
    h->lname = NULL;
    h->value = value;
    h->value_len = n;
    h->signed_ = 0;
}

/* Pushes url = scheme://authority .. wire path [? query]. */
static void push_url(lua_State *L, const credentials *k, const hcdl_sign_out *o)
{
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    luaL_addlstring(&b, k->endpoint.s, (size_t)(k->host.s - k->endpoint.s) + k->host.n);
    luaL_addlstring(&b, o->wire_path.s, o->wire_path.n);
    if (o->query_string.n > 0) {
        luaL_addchar(&b, '?');
        luaL_addlstring(&b, o->query_string.s, o->query_string.n);
    }
    luaL_pushresult(&b);
}

/*
 * Signs r (encodes only, in token mode: the token is the credential) and
 * fills out's url and headers: the caller's, then Host, X-Sdk-Date and
 * Authorization, or X-Auth-Token.
 */
static int sign_into(lua_State *L, hcdl_crypto *c, const credentials *k, hcdl_sign_req *r,
                     hcdl_api_request *out)
{
    hcdl_sign_out o;
    const char *failure;
    size_t i;
    if (k->token.s != NULL) {
        failure = hcdl_sign_encode(c, r, &o);
    } else if (hcdl_sign_date_now(r->date) != 0) {
        lua_pushnil(L);
        hcdl_error_push(L, "input", "date: the system clock cannot be read");
        return 2;
    } else {
        failure = hcdl_sign_compute(c, r, &o);
    }
    if (failure != NULL)
        return luaL_error(L, "hcdl.sign: %s", failure);
    push_url(L, k, &o);
    out->url.s = lua_tolstring(L, -1, &out->url.n);
    memcpy(out->date, r->date, sizeof out->date);
    out->nheaders = 0;
    for (i = 0; i < r->nheaders + (k->token.s == NULL ? 2 : 0); i++) {
        const hcdl_header *h = &r->headers[i];
        /* X-Sdk-Date's value is r->date: point at out's copy */
        add_plain(out, h->name, h->value == r->date ? out->date : h->value, h->value_len);
    }
    if (k->token.s != NULL)
        add_plain(out, "X-Auth-Token", k->token.s, k->token.n);
    else
        add_plain(out, "Authorization", o.authorization.s, o.authorization.n);
    return 0;
}

int hcdl_api_prepare(lua_State *L, hcdl_crypto *c, const api_desc *a, int params, int auth,
                     hcdl_api_request *out)
{
    credentials k;
    values v;
    hcdl_sign_req r;
    hcdl_param query[MAX_PARAMS + 1];
    hcdl_header headers[HCDL_API_MAX_HEADERS];
    int rc;

    if ((rc = read_credentials(L, a, auth, &k)) != 0 || (rc = check_known(L, a, params)) != 0 ||
        (rc = check_values(L, a, params, &v)) != 0)
        return rc;
    if (k.token.s == NULL && (rc = hcdl_sign_check_ak(L, k.ak.s, k.ak.n)) != 0)
        return rc;
    memset(&r, 0, sizeof r);
    memcpy(r.method, a->method, strlen(a->method) + 1);
    r.host = k.host.s;
    r.host_len = k.host.n;
    r.ak = k.ak.s;
    r.ak_len = k.ak.n;
    r.sk = k.sk.s;
    r.sk_len = k.sk.n;
    r.query = query;
    r.nquery = fill_query(a, &v, query);
    r.headers = headers;
    if ((rc = fill_headers(L, &k, &r)) != 0)
        return rc;
    push_path(L, a, &k, &v);
    r.path = lua_tolstring(L, -1, &r.path_len);
    push_body(L, a, &v);
    r.body = lua_tolstring(L, -1, &r.body_len);
    out->api = a;
    out->body.s = r.body;
    out->body.n = r.body_len;
    return sign_into(L, c, &k, &r, out);
}

/*
 * core.build(api, params, auth) -> spec | nil, err
 *   auth = { endpoints = { gaussdb =, rds =, dcs = }, project_id =,
 *            ak =, sk =, security_token = } | { ..., token = }
 *   spec = { api =, service =, method =, url =, headers =, body = }
 * Upvalue 1: the signer's crypto context (src/sign.c).
 */
void hcdl_api_check_args(lua_State *L, int params, int auth)
{
    if (lua_isnil(L, params)) {
        lua_newtable(L);
        lua_replace(L, params);
    }
    luaL_checktype(L, params, LUA_TTABLE);
    luaL_checktype(L, auth, LUA_TTABLE);
}

int hcdl_api_build(lua_State *L)
{
    hcdl_crypto *c = lua_touserdata(L, lua_upvalueindex(1));
    const api_desc *a = hcdl_api_check(L, 1);
    hcdl_api_request rq;
    size_t i;
    int rc;

    lua_settop(L, 3);
    hcdl_api_check_args(L, 2, 3);
    if ((rc = hcdl_api_prepare(L, c, a, 2, 3, &rq)) != 0)
        return rc;
    lua_createtable(L, 0, 6);
    lua_pushstring(L, a->name);
    lua_setfield(L, -2, "api");
    lua_pushstring(L, a->service);
    lua_setfield(L, -2, "service");
    lua_pushstring(L, a->method);
    lua_setfield(L, -2, "method");
    lua_pushlstring(L, rq.url.s, rq.url.n);
    lua_setfield(L, -2, "url");
    lua_pushlstring(L, rq.body.s, rq.body.n);
    lua_setfield(L, -2, "body");
    lua_createtable(L, 0, (int)rq.nheaders);
    for (i = 0; i < rq.nheaders; i++) {
        lua_pushlstring(L, rq.headers[i].name, rq.headers[i].name_len);
        lua_pushlstring(L, rq.headers[i].value, rq.headers[i].value_len);
        lua_rawset(L, -3);
    }
    lua_setfield(L, -2, "headers");
    return 1;
}
