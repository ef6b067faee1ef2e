/*
 * api.c - the APIs as one table of descriptors (see api.h).
 *
 * Each API is data: its service, method, path template, parameters with
 * their rules, what its answer holds (where the entries are, and their
 * link, name, size, times and id) and how it pages.  build() validates
 * every parameter before anything is sent (an "input" error naming the
 * field and the rule), fills the path, builds the query once (signed and
 * sent alike, by the signer), adds the JSON body, and signs.  parse() turns
 * a response into a table, or into an error carrying the service's
 * error_code, error_msg and X-Request-Id; service data of the wrong shape
 * is an error, never a crash.  apis() hands the same descriptors to Lua,
 * so the client's methods, its pagination and refresh, the CLI and the
 * README's tables all come from this one table.  Neither build nor parse
 * does I/O, so both are testable anywhere.
 *
 * Adding an API: one row in `apis` below, plus the emulator and tests
 * (docs/apis.md "How to add an API").
 *
 * Facts and their sources:
 *   docs/apis.md "The five link APIs"
 *   docs/apis.md "Companion calls"
 *   docs/apis.md "Errors, request ids and retries"
 */
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lauxlib.h>

#include "api.h"
#include "clock.h"
#include "compat.h"
#include "error.h"
#include "status.h"

enum { IN_PATH, IN_QUERY, IN_BODY };

enum {
    PK_TAURUS_INSTANCE, /* 32 letters/digits + "in07" */
    PK_TAURUS_NODE,     /* 32 letters/digits + "no07" */
    PK_UUID,            /* VPC and subnet ids */
    PK_ID,              /* ids whose format is not documented (RDS, DCS): only
                         * what keeps the request safe is checked, so an id
                         * the cloud issues tomorrow is not refused today */
    PK_FILE_NAME,       /* a name from a previous answer */
    PK_FILTER,          /* a name or id to search for ("*x" = fuzzy) */
    PK_IPV4,            /* a dotted-quad address */
    PK_TIME,            /* yyyy-mm-ddThh:mm:ss+hhmm, or epoch seconds */
    PK_TIME14,          /* yyyyMMddHHmmss in UTC, or epoch seconds */
    PK_INT,             /* integer in [min, max] */
    PK_QUERY_TIME,      /* 0, 1, 3 or 7 (days) */
    PK_ENUM,            /* one of `values` */
    PK_FLAG             /* a boolean, sent as true/false */
};

enum { PAGE_NONE, PAGE_MARKER, PAGE_OFFSET };

typedef struct {
    const char *name;
    unsigned char where;
    unsigned char kind;
    unsigned char required;
    long long min, max;        /* PK_INT */
    unsigned char has_default; /* the service's documented default, */
    int default_value;         /* for the CLI and the docs */
    const char *const *values; /* PK_ENUM */
    const char *after;         /* a time: must not be before this one */
    unsigned char together;    /* ... and is given only together with it */
} param_desc;

/*
 * What an answer holds.  Every field is optional (NULL: not applicable);
 * Lua sees the same names through core.apis().
 */
typedef struct {
    const char *list;         /* the field holding the entries; NULL when
                               * the answer itself is the one entry */
    const char *object;       /* the field holding the one entry (an object) */
    const char *id;           /* entry field: its unique id */
    const char *link;         /* entry field: the download link */
    const char *name;         /* entry field: the file or record name */
    const char *size;         /* entry field: its size ... */
    const char *size_unit;    /* ... in "KB" or "B" (number or decimal string) */
    const char *mtime;        /* entry field: its modification time ... */
    const char *mtime_format; /* ... "offset" | "utc14" | "iso_utc" | "epoch_ms" | "date" */
    const char *expires;      /* entry field: link expiry, "offset" format */
    const char *refresh;      /* "recall" (ask again, find by name) | "errorlog" */
    const char *status;       /* entry field: its state ... */
    const char *finished;     /* ... and the value meaning "done" (any case) */
    int growing;              /* the file may still grow after it is listed
                               * (full-SQL files, run logs): the listed size
                               * is a lower bound (hcdl.download) */
} answer_desc;

typedef struct {
    unsigned char style;  /* PAGE_* */
    const char *cursor;   /* marker: the name to resume after; offset: the offset */
    const char *limit;    /* the page-size parameter (its max and default: its row) */
    const char *total;    /* offset: the answer's total count, or NULL */
    const char *iterator; /* client method iterating over every entry */
    const char *collect;  /* client method returning every entry as a list */
} paging_desc;

typedef struct {
    const char *name;        /* the client method: the operation in snake_case */
    const char *operation;   /* the official operation name */
    const char *service;
    const char *method;
    const char *path;
    const char *fixed_query; /* "k=v" always sent (log_type=run), or NULL */
    const param_desc *params;
    int empty_ok;            /* 204 (no body) means "no entries" */
    answer_desc answer;
    paging_desc paging;
} api_desc;

#define END_PARAMS {.name = NULL}
#define DEFAULT(n) .has_default = 1, .default_value = (n)
#define INT32_MAX_ 2147483647LL

/* Paging parameters shared by the offset-paged lists. */
#define OFFSET_PARAM \
    {.name = "offset", .where = IN_QUERY, .kind = PK_INT, .min = 0, .max = INT32_MAX_, DEFAULT(0)}

static const char *const v_rds_backup_type[] = {"auto", "manual", "fragment", "incremental", NULL};
static const char *const v_rds_instance_type[] = {"Single", "Ha", "Replica", NULL};
static const char *const v_rds_datastore[] = {"MySQL", "PostgreSQL", "SQLServer", "MariaDB", NULL};
static const char *const v_taurus_type[] = {"Cluster", NULL};
static const char *const v_taurus_datastore[] = {"gaussdb-mysql", NULL};

static const param_desc p_audit[] = {
    {.name = "instance_id", .where = IN_PATH, .kind = PK_TAURUS_INSTANCE, .required = 1},
    {.name = "start_time", .where = IN_QUERY, .kind = PK_TIME, .required = 1},
    {.name = "end_time", .where = IN_QUERY, .kind = PK_TIME, .required = 1, .after = "start_time"},
    {.name = "node_id", .where = IN_QUERY, .kind = PK_TAURUS_NODE},
    {.name = "last_file_name", .where = IN_QUERY, .kind = PK_FILE_NAME},
    {.name = "limit", .where = IN_QUERY, .kind = PK_INT, .min = 1, .max = 50, DEFAULT(10)},
    END_PARAMS,
};
static const param_desc p_rds_backup[] = {
    {.name = "backup_id", .where = IN_QUERY, .kind = PK_ID, .required = 1},
    END_PARAMS,
};
static const param_desc p_dcs_backup[] = {
    {.name = "instance_id", .where = IN_PATH, .kind = PK_ID, .required = 1},
    {.name = "backup_id", .where = IN_PATH, .kind = PK_ID, .required = 1},
    {.name = "expiration", .where = IN_BODY, .kind = PK_INT, .required = 1, .min = 300, .max = 86400},
    END_PARAMS,
};
static const param_desc p_redislog_link[] = {
    {.name = "instance_id", .where = IN_PATH, .kind = PK_ID, .required = 1},
    {.name = "id", .where = IN_PATH, .kind = PK_ID, .required = 1},
    END_PARAMS,
};
static const param_desc p_errorlog[] = {
    {.name = "instance_id", .where = IN_PATH, .kind = PK_ID, .required = 1},
    END_PARAMS,
};
static const param_desc p_create_redislog[] = {
    {.name = "instance_id", .where = IN_PATH, .kind = PK_ID, .required = 1},
    {.name = "query_time", .where = IN_QUERY, .kind = PK_QUERY_TIME, .max = 7, DEFAULT(0)},
    {.name = "replication_id", .where = IN_QUERY, .kind = PK_ID},
    END_PARAMS,
};
static const param_desc p_list_redislog[] = {
    {.name = "instance_id", .where = IN_PATH, .kind = PK_ID, .required = 1},
    OFFSET_PARAM,
    {.name = "limit", .where = IN_QUERY, .kind = PK_INT, .min = 1, .max = 1000, DEFAULT(10)},
    END_PARAMS,
};
static const param_desc p_list_backups[] = {
    {.name = "instance_id", .where = IN_QUERY, .kind = PK_ID, .required = 1},
    {.name = "backup_id", .where = IN_QUERY, .kind = PK_ID},
    {.name = "backup_type", .where = IN_QUERY, .kind = PK_ENUM, .values = v_rds_backup_type},
    OFFSET_PARAM,
    {.name = "limit", .where = IN_QUERY, .kind = PK_INT, .min = 1, .max = 100, DEFAULT(100)},
    {.name = "begin_time", .where = IN_QUERY, .kind = PK_TIME},
    {.name = "end_time", .where = IN_QUERY, .kind = PK_TIME, .after = "begin_time", .together = 1},
    END_PARAMS,
};
static const param_desc p_list_backup_records[] = {
    {.name = "instance_id", .where = IN_PATH, .kind = PK_ID, .required = 1},
    {.name = "begin_time", .where = IN_QUERY, .kind = PK_TIME14},
    {.name = "end_time", .where = IN_QUERY, .kind = PK_TIME14, .after = "begin_time"},
    OFFSET_PARAM,
    {.name = "limit", .where = IN_QUERY, .kind = PK_INT, .min = 1, .max = 1000, DEFAULT(10)},
    END_PARAMS,
};
static const param_desc p_dcs_instance_only[] = {
    {.name = "instance_id", .where = IN_PATH, .kind = PK_ID, .required = 1},
    END_PARAMS,
};
static const param_desc p_taurus_instance_only[] = {
    {.name = "instance_id", .where = IN_PATH, .kind = PK_TAURUS_INSTANCE, .required = 1},
    END_PARAMS,
};
static const param_desc p_rds_instances[] = {
    {.name = "id", .where = IN_QUERY, .kind = PK_FILTER},
    {.name = "name", .where = IN_QUERY, .kind = PK_FILTER},
    {.name = "type", .where = IN_QUERY, .kind = PK_ENUM, .values = v_rds_instance_type},
    {.name = "datastore_type", .where = IN_QUERY, .kind = PK_ENUM, .values = v_rds_datastore},
    {.name = "vpc_id", .where = IN_QUERY, .kind = PK_UUID},
    {.name = "subnet_id", .where = IN_QUERY, .kind = PK_UUID},
    OFFSET_PARAM,
    {.name = "limit", .where = IN_QUERY, .kind = PK_INT, .min = 1, .max = 100, DEFAULT(100)},
    END_PARAMS,
};
static const param_desc p_dcs_instances[] = {
    {.name = "instance_id", .where = IN_QUERY, .kind = PK_ID},
    {.name = "name", .where = IN_QUERY, .kind = PK_FILTER},
    {.name = "name_equal", .where = IN_QUERY, .kind = PK_FLAG},
    {.name = "include_failure", .where = IN_QUERY, .kind = PK_FLAG},
    {.name = "ip", .where = IN_QUERY, .kind = PK_IPV4},
    OFFSET_PARAM,
    {.name = "limit", .where = IN_QUERY, .kind = PK_INT, .min = 1, .max = 1000, DEFAULT(10)},
    END_PARAMS,
};
static const param_desc p_taurus_instances[] = {
    {.name = "id", .where = IN_QUERY, .kind = PK_FILTER},
    {.name = "name", .where = IN_QUERY, .kind = PK_FILTER},
    {.name = "type", .where = IN_QUERY, .kind = PK_ENUM, .values = v_taurus_type},
    {.name = "datastore_type", .where = IN_QUERY, .kind = PK_ENUM, .values = v_taurus_datastore},
    {.name = "vpc_id", .where = IN_QUERY, .kind = PK_UUID},
    {.name = "subnet_id", .where = IN_QUERY, .kind = PK_UUID},
    {.name = "private_ip", .where = IN_QUERY, .kind = PK_IPV4},
    OFFSET_PARAM,
    {.name = "limit", .where = IN_QUERY, .kind = PK_INT, .min = 1, .max = 100, DEFAULT(100)},
    END_PARAMS,
};

#define MARKER_PAGES(it, all) \
    {PAGE_MARKER, "last_file_name", "limit", NULL, (it), (all)}
#define OFFSET_PAGES(total, it, all) \
    {PAGE_OFFSET, "offset", "limit", (total), (it), (all)}

/*
 * The table.  Names are the official operation names in snake_case; where
 * two services share an operation name (ListInstances: RDS and DCS) the
 * service goes into the name, so no method is ambiguous.
 */
static const api_desc apis[] = {
    /* TaurusDB full-SQL files (links) */
    {"list_audit_log_download_link", "ListAuditLogDownloadLink", "gaussdb", "GET",
     "/v3/{project_id}/instance/{instance_id}/auditlog/download-link", NULL, p_audit, 0,
     {.list = "files", .link = "download_link", .name = "name", .size = "size",
      .size_unit = "KB", .mtime = "updated_time", .mtime_format = "offset",
      .expires = "link_expired_time", .refresh = "recall", .growing = 1},
     MARKER_PAGES("audit_log_files", "list_audit_log_files")},
    /* RDS backup files (links) */
    {"show_backup_download_link", "ShowBackupDownloadLink", "rds", "GET",
     "/v3/{project_id}/backup-files", NULL, p_rds_backup, 0,
     {.list = "files", .link = "download_link", .name = "name", .size = "size",
      .size_unit = "KB", .expires = "link_expired_time", .refresh = "recall"},
     {PAGE_NONE, NULL, NULL, NULL, NULL, NULL}},
    /* DCS backup files (links), one per shard */
    {"list_backup_file_links", "ListBackupFileLinks", "dcs", "POST",
     "/v2/{project_id}/instances/{instance_id}/backups/{backup_id}/links", NULL,
     p_dcs_backup, 0,
     {.list = "links", .link = "link", .name = "file_name", .refresh = "recall"},
     {PAGE_NONE, NULL, NULL, NULL, NULL, NULL}},
    /* DCS run-log file (link): the answer is the entry */
    {"create_redislog_download_link", "CreateRedislogDownloadLink", "dcs", "POST",
     "/v2/{project_id}/instances/{instance_id}/redislog/{id}/links", NULL,
     p_redislog_link, 0,
     {.id = "id", .link = "link", .refresh = "recall", .growing = 1},
     {PAGE_NONE, NULL, NULL, NULL, NULL, NULL}},
    /* RDS for PostgreSQL error logs (links), prepared asynchronously */
    {"download_errorlog", "DownloadErrorlog", "rds", "POST",
     "/v3/{project_id}/instances/{instance_id}/errorlog-download", NULL, p_errorlog, 0,
     {.list = "list", .link = "file_link", .name = "file_name", .size = "file_size",
      .size_unit = "B", .mtime = "update_at", .mtime_format = "epoch_ms",
      .refresh = "errorlog", .status = "status", .finished = "success"},
     {PAGE_NONE, NULL, NULL, NULL, NULL, NULL}},
    /* DCS: collect run logs (answers 204) */
    {"create_redislog", "CreateRedislog", "dcs", "POST",
     "/v2/{project_id}/instances/{instance_id}/redislog", "log_type=run",
     p_create_redislog, 1, {.list = NULL}, {PAGE_NONE, NULL, NULL, NULL, NULL, NULL}},
    /* DCS: the collected run logs */
    {"list_redislog", "ListRedislog", "dcs", "GET",
     "/v2/{project_id}/instances/{instance_id}/redislog", "log_type=run",
     p_list_redislog, 1,
     {.list = "file_list", .id = "id", .name = "file_name", .mtime = "time",
      .mtime_format = "date", .status = "status", .finished = "succeed", .growing = 1},
     OFFSET_PAGES("total_num", "redislog_files", "all_redislog_files")},
    /* RDS backups of an instance (to find a backup_id) */
    {"list_backups", "ListBackups", "rds", "GET", "/v3/{project_id}/backups", NULL,
     p_list_backups, 0,
     {.list = "backups", .id = "id", .name = "name", .size = "size", .size_unit = "KB",
      .mtime = "end_time", .mtime_format = "offset", .status = "status",
      .finished = "COMPLETED"},
     OFFSET_PAGES("total_count", "backups", "all_backups")},
    /* DCS backup records of an instance (to find a backup_id) */
    {"list_backup_records", "ListBackupRecords", "dcs", "GET",
     "/v2/{project_id}/instances/{instance_id}/backups", NULL, p_list_backup_records, 1,
     {.list = "backup_record_response", .id = "backup_id", .name = "backup_name",
      .size = "size", .size_unit = "B", .mtime = "updated_at", .mtime_format = "iso_utc",
      .status = "status", .finished = "succeed"},
     OFFSET_PAGES("total_num", "backup_records", "all_backup_records")},
    /* DCS shards and their replicas (note the singular "instance") */
    {"list_group_replication_info", "ListGroupReplicationInfo", "dcs", "GET",
     "/v2/{project_id}/instance/{instance_id}/groups", NULL, p_dcs_instance_only, 0,
     {.list = "group_list", .id = "group_id", .name = "group_name"},
     {PAGE_NONE, NULL, NULL, NULL, NULL, NULL}},
    /* TaurusDB instance with its nodes */
    {"show_gauss_my_sql_instance_info", "ShowGaussMySqlInstanceInfo", "gaussdb", "GET",
     "/v3/{project_id}/instances/{instance_id}", NULL, p_taurus_instance_only, 0,
     {.object = "instance", .id = "id", .name = "name"},
     {PAGE_NONE, NULL, NULL, NULL, NULL, NULL}},
    /* Instance listings: from a name to an id */
    {"list_rds_instances", "ListInstances", "rds", "GET", "/v3/{project_id}/instances", NULL,
     p_rds_instances, 0,
     {.list = "instances", .id = "id", .name = "name", .status = "status"},
     OFFSET_PAGES("total_count", "rds_instances", "all_rds_instances")},
    {"list_dcs_instances", "ListInstances", "dcs", "GET", "/v2/{project_id}/instances", NULL,
     p_dcs_instances, 0,
     {.list = "instances", .id = "instance_id", .name = "name", .status = "status"},
     OFFSET_PAGES("instance_num", "dcs_instances", "all_dcs_instances")},
    {"list_gauss_my_sql_instances", "ListGaussMySqlInstances", "gaussdb", "GET",
     "/v3/{project_id}/instances", NULL, p_taurus_instances, 0,
     {.list = "instances", .id = "id", .name = "name", .status = "status"},
     OFFSET_PAGES("total_count", "gauss_my_sql_instances", "all_gauss_my_sql_instances")},
    {NULL, NULL, NULL, NULL, NULL, NULL, NULL, 0, {.list = NULL},
     {PAGE_NONE, NULL, NULL, NULL, NULL, NULL}},
};

/* The most parameters one API has (build keeps per-parameter state). */
#define MAX_PARAMS 16
/* A time parameter that was not given. */
#define NOT_GIVEN LLONG_MIN

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

static int param_index(const api_desc *a, const char *name)
{
    int i;
    for (i = 0; a->params[i].name != NULL; i++)
        if (strcmp(a->params[i].name, name) == 0)
            return i;
    return -1;
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
        if (!is_alnum(s[i]) && s[i] != '-' && s[i] != '_')
            return 0;
    return 1;
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

static int is_ipv4(const char *s, size_t n)
{
    size_t i = 0;
    int part;
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

static int is_value(const char *const *values, const char *s)
{
    for (; *values != NULL; values++)
        if (strcmp(*values, s) == 0)
            return 1;
    return 0;
}

static int two(const char *s)
{
    return (s[0] - '0') * 10 + (s[1] - '0');
}

/* A valid UTC calendar moment from 1970 on: the seconds since the epoch. */
static int civil_epoch(int y, int mo, int d, int h, int mi, int se, long long *epoch)
{
    static const int mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (y < 1970 || mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1] || h > 23 ||
        mi > 59 || se > 59)
        return 0;
    if (mo == 2 && d == 29 && !((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
        return 0;
    *epoch = hcdl_days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + se;
    return 1;
}

/*
 * Parses yyyy-mm-ddThh:mm:ss+hhmm; returns 1 and the epoch seconds, or 0.
 * The documented format has a numeric offset ("Z" means "+hhmm" there).
 */
static int parse_time(const char *s, size_t n, long long *epoch)
{
    size_t i;
    int oh, om, sign;
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
        !civil_epoch(two(s) * 100 + two(s + 2), two(s + 5), two(s + 8), two(s + 11),
                     two(s + 14), two(s + 17), epoch))
        return 0;
    *epoch -= sign * (oh * 3600 + om * 60);
    return 1;
}

/* Parses yyyyMMddHHmmss (UTC, DCS); returns 1 and the epoch seconds, or 0. */
static int parse_time14(const char *s, size_t n, long long *epoch)
{
    size_t i;
    if (n != 14)
        return 0;
    for (i = 0; i < 14; i++)
        if (!is_digit(s[i]))
            return 0;
    return civil_epoch(two(s) * 100 + two(s + 2), two(s + 4), two(s + 6), two(s + 8),
                       two(s + 10), two(s + 12), epoch);
}

/* Formats epoch seconds as yyyy-mm-ddThh:mm:ss+0000, or as yyyyMMddHHmmss. */
static void format_time(long long t, int compact, char out[25])
{
    long long z = t / 86400, secs = t % 86400;
    int y, m, d;
    if (secs < 0) {
        secs += 86400;
        z--;
    }
    hcdl_civil_from_days(z, &y, &m, &d);
    snprintf(out, 25, compact ? "%04d%02d%02d%02d%02d%02d" : "%04d-%02d-%02dT%02d:%02d:%02d+0000",
             y, m, d, (int)(secs / 3600), (int)(secs / 60 % 60), (int)(secs % 60));
}

/*
 * Pushes the human rule of a parameter: the text every input error about
 * it carries, and what core.apis() shows as `rule`.
 */
static void push_rule(lua_State *L, const param_desc *p)
{
    switch (p->kind) {
    case PK_TAURUS_INSTANCE:
        lua_pushliteral(L, "must be a TaurusDB instance id: 32 letters or digits followed by 'in07'");
        break;
    case PK_TAURUS_NODE:
        lua_pushliteral(L, "must be a TaurusDB node id: 32 letters or digits followed by 'no07'");
        break;
    case PK_UUID:
        lua_pushliteral(L, "must be a UUID such as 5560df16-cebf-4473-95c4-d1b573c16e79");
        break;
    case PK_ID:
        lua_pushliteral(L, "must be 1 to 128 letters, digits, '-' or '_'");
        break;
    case PK_FILE_NAME:
        lua_pushliteral(L, "must be a file name of 1 to 512 characters without control characters");
        break;
    case PK_FILTER:
        lua_pushliteral(L, "must be 1 to 255 characters without control characters, not '*' "
                           "alone (a leading '*' asks for a fuzzy match)");
        break;
    case PK_IPV4:
        lua_pushliteral(L, "must be an IPv4 address such as 192.168.0.1");
        break;
    case PK_TIME:
        lua_pushliteral(L, "must be a time as yyyy-mm-ddThh:mm:ss+hhmm (e.g. 2023-07-24T09:27:00+0800) "
                           "or a number of seconds since the epoch");
        break;
    case PK_TIME14:
        lua_pushliteral(L, "must be a UTC time as yyyyMMddHHmmss (e.g. 20230724013000) "
                           "or a number of seconds since the epoch");
        break;
    case PK_INT:
        lua_pushfstring(L, "must be an integer from %d to %d", (int)p->min, (int)p->max);
        break;
    case PK_QUERY_TIME:
        lua_pushliteral(L, "must be 0, 1, 3 or 7 (days back)");
        break;
    case PK_FLAG:
        lua_pushliteral(L, "must be true or false");
        break;
    case PK_ENUM: {
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
        break;
    }
    default:
        lua_pushliteral(L, "is not valid");
    }
}

/* nil, an input error "<name>: <rule>[, got <type>]"; returns 2. */
static int refuse(lua_State *L, const param_desc *p, const char *got)
{
    push_rule(L, p);
    if (got != NULL)
        return hcdl_error_input(L, p->name, "%s, got %s", lua_tostring(L, -1), got);
    return hcdl_error_input(L, p->name, "%s", lua_tostring(L, -1));
}

/* A string parameter's value is acceptable for its kind (sets *epoch for times). */
static int string_ok(const param_desc *p, const char *s, size_t n, long long *epoch)
{
    switch (p->kind) {
    case PK_TAURUS_INSTANCE: return alnum_with_suffix(s, n, "in07");
    case PK_TAURUS_NODE: return alnum_with_suffix(s, n, "no07");
    case PK_UUID: return is_uuid(s, n);
    case PK_ID: return is_generic_id(s, n);
    case PK_FILE_NAME: return no_control(s, n, 512);
    case PK_FILTER: return no_control(s, n, 255) && !(n == 1 && s[0] == '*');
    case PK_IPV4: return is_ipv4(s, n);
    case PK_TIME: return parse_time(s, n, epoch);
    case PK_TIME14: return parse_time14(s, n, epoch);
    case PK_ENUM: return strlen(s) == n && is_value(p->values, s);
    default: return 0;
    }
}

/*
 * Validates the parameter value at stack index v and pushes its wire string.
 * Returns 0, or pushes nil, err and returns 2.  *epoch gets time values.
 */
static int check_param(lua_State *L, const param_desc *p, int v, long long *epoch)
{
    int t = lua_type(L, v);
    const char *s;
    size_t n;

    if (p->kind == PK_INT || p->kind == PK_QUERY_TIME) {
        lua_Number x;
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
    if (p->kind == PK_FLAG) {
        if (t != LUA_TBOOLEAN)
            return refuse(L, p, lua_typename(L, t));
        lua_pushstring(L, lua_toboolean(L, v) ? "true" : "false");
        return 0;
    }
    if ((p->kind == PK_TIME || p->kind == PK_TIME14) && t == LUA_TNUMBER) {
        lua_Number x = lua_tonumber(L, v);
        char buf[25];
        if (x != floor(x) || x < 0 || x > 253402300799.0)
            return refuse(L, p, NULL);
        *epoch = (long long)x;
        format_time(*epoch, p->kind == PK_TIME14, buf);
        lua_pushstring(L, buf);
        return 0;
    }
    if (t != LUA_TSTRING)
        return refuse(L, p, lua_typename(L, t));
    s = lua_tolstring(L, v, &n);
    if (!string_ok(p, s, n, epoch))
        return refuse(L, p, NULL);
    lua_pushvalue(L, v);
    return 0;
}

/*
 * The rules between parameters: a time range's end must not be before its
 * start, and some ranges are given whole or not at all.  epochs[i] is
 * NOT_GIVEN for a time that was not given.
 */
static int check_ranges(lua_State *L, const api_desc *a, const long long *epochs)
{
    int i;
    for (i = 0; a->params[i].name != NULL; i++) {
        const param_desc *p = &a->params[i];
        int s;
        if (p->after == NULL)
            continue;
        s = param_index(a, p->after);
        if (p->together && (epochs[i] == NOT_GIVEN) != (epochs[s] == NOT_GIVEN)) {
            const char *missing = epochs[i] == NOT_GIVEN ? p->name : p->after;
            const char *given = epochs[i] == NOT_GIVEN ? p->after : p->name;
            return hcdl_error_input(L, missing, "required together with %s", given);
        }
        if (epochs[i] != NOT_GIVEN && epochs[s] != NOT_GIVEN && epochs[i] < epochs[s])
            return hcdl_error_input(L, p->name, "must not be before %s", p->after);
    }
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
    long long epochs[MAX_PARAMS];
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
        if (nparams >= MAX_PARAMS)
            return luaL_error(L, "hcdl: %s has more than %d parameters", a->name, MAX_PARAMS);
        epochs[nparams] = NOT_GIVEN;
        lua_getfield(L, 2, p->name);
        if (lua_isnil(L, -1)) {
            lua_pop(L, 1);
            if (p->required) {
                push_rule(L, p);
                return hcdl_error_input(L, p->name, "required; %s", lua_tostring(L, -1));
            }
            continue;
        }
        if ((rc = check_param(L, p, lua_gettop(L), &epochs[nparams])) != 0)
            return rc;
        lua_rawseti(L, values, nparams + 1);
        lua_pop(L, 1);
    }
    if ((rc = check_ranges(L, a, epochs)) != 0)
        return rc;

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

    /* Body: the JSON fields, in a fixed order; without fields it is "", signed
     * as the empty payload and sent as nothing (src/method.c: a GET goes bare,
     * a POST with Content-Length: 0). */
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
 * Lua 5.3+), and JSON nulls are removed from objects so a missing value
 * reads as nil; the object then gets a metatable whose field hcdl_nulls
 * is the set of keys that were null, so that `hcdl --json` can write them
 * back as null (lua/hcdl/cli/output.lua).  In arrays a null stays the
 * decoder's null (hcdl.null), keeping the positions and the service's
 * meaning: no value, which false would change.  Strings, such as ids, are
 * never converted.
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

/* Records the key on top of the stack as a null one: in the set at *nulls
 * (created under the key on first use; its stack index is kept). */
static void note_null_key(lua_State *L, int *nulls)
{
    if (*nulls == 0) {
        lua_newtable(L);
        lua_insert(L, -2);
        *nulls = lua_gettop(L) - 1;
    }
    lua_pushvalue(L, -1);
    lua_pushboolean(L, 1);
    lua_rawset(L, *nulls);
}

static void normalize(lua_State *L, int idx, int depth)
{
    int nulls = 0;
    idx = hcdl_absindex(L, idx);
    if (depth > MAX_DEPTH)
        return;
    lua_pushnil(L);
    while (lua_next(L, idx) != 0) {
        int t = lua_type(L, -1);
        if (t == LUA_TTABLE) {
            normalize(L, -1, depth + 1);
        } else if (is_json_null(L, -1)) {
            if (lua_type(L, -2) != LUA_TNUMBER) {
                lua_pop(L, 1);
                note_null_key(L, &nulls);
                lua_pushvalue(L, -1);
                lua_pushnil(L); /* clearing a field during lua_next is allowed */
                lua_rawset(L, idx);
                continue;
            }
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
    if (nulls != 0 && !lua_getmetatable(L, idx)) {
        lua_createtable(L, 0, 1);
        lua_insert(L, -2);
        lua_setfield(L, -2, "hcdl_nulls");
        lua_setmetatable(L, idx);
    } else if (nulls != 0) {
        lua_pop(L, 2); /* a table that already has a metatable keeps it */
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

/* Pushes an error code as a string: 4001, not "4001.0" (cjson decodes
 * JSON numbers as floats on Lua 5.3+). */
static void push_code(lua_State *L, int idx)
{
    if (lua_type(L, idx) == LUA_TNUMBER) {
        lua_Number x = lua_tonumber(L, idx);
        if (x == floor(x) && fabs(x) < 9007199254740992.0) {
            char buf[32];
            snprintf(buf, sizeof buf, "%.0f", (double)x);
            lua_pushstring(L, buf);
            return;
        }
    }
    lua_pushstring(L, lua_tostring(L, idx));
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
            push_code(L, -1); /* numbers become strings */
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

/* True when the table at idx is a JSON array as cjson decodes it: only the
 * keys 1..n.  An empty table is one too ([] and {} decode alike). */
static int is_array(lua_State *L, int idx)
{
    size_t n = hcdl_rawlen(L, idx), count = 0;
    idx = hcdl_absindex(L, idx);
    lua_pushnil(L);
    while (lua_next(L, idx) != 0) {
        lua_Number k;
        lua_pop(L, 1);
        if (lua_type(L, -1) != LUA_TNUMBER) {
            lua_pop(L, 1);
            return 0;
        }
        k = lua_tonumber(L, -1);
        if (k != floor(k) || k < 1 || k > (lua_Number)n) {
            lua_pop(L, 1);
            return 0;
        }
        count++;
    }
    return count == n;
}

/* The answer of a 204 (or of an empty 2xx body): no entries. */
static void push_empty_answer(lua_State *L, const api_desc *a)
{
    lua_newtable(L);
    if (!a->empty_ok)
        return;
    if (a->answer.list != NULL) {
        lua_newtable(L);
        lua_setfield(L, -2, a->answer.list);
    }
    if (a->paging.total != NULL) {
        hcdl_pushinteger(L, 0);
        lua_setfield(L, -2, a->paging.total);
    }
}

/*
 * Service data of the wrong shape must not reach code that indexes it: the
 * entries must be a list of objects, the one entry an object.  Returns 1
 * (the answer at data stays on top), or pushes nil, an "api" error whose
 * field names the offending field, and returns 2.
 */
static int check_answer(lua_State *L, const api_desc *a, int data, int status,
                        const char *request_id)
{
    const char *field = a->answer.list != NULL ? a->answer.list : a->answer.object;
    const char *problem = NULL;
    if (field == NULL)
        return 1;
    lua_getfield(L, data, field);
    if (lua_isnil(L, -1)) {
        lua_pop(L, 1);
        return 1; /* absent: the helpers say what they miss */
    }
    if (!lua_istable(L, -1)) {
        problem = lua_type(L, -1) == LUA_TSTRING ? "a string"
                  : lua_type(L, -1) == LUA_TNUMBER ? "a number" : "a boolean";
    } else if (a->answer.list != NULL) {
        size_t i, n = hcdl_rawlen(L, -1);
        if (!is_array(L, -1))
            problem = "an object";
        for (i = 1; i <= n && problem == NULL; i++) {
            lua_rawgeti(L, -1, (int)i);
            if (!lua_istable(L, -1))
                problem = "a list with an entry that is not an object";
            lua_pop(L, 1);
        }
    } else if (hcdl_rawlen(L, -1) > 0) {
        problem = "an array";
    }
    lua_pop(L, 1);
    if (problem == NULL)
        return 1;
    lua_pushnil(L);
    lua_pushfstring(L, "%s answered HTTP %d with '%s' that is %s, not %s", a->name, status,
                    field, problem, a->answer.list != NULL ? "a list of objects" : "an object");
    hcdl_error_push(L, "api", lua_tostring(L, -1));
    lua_remove(L, -2);
    lua_pushstring(L, field);
    lua_setfield(L, -2, "field");
    hcdl_pushinteger(L, status);
    lua_setfield(L, -2, "status");
    lua_pushstring(L, a->name);
    lua_setfield(L, -2, "api");
    lua_pushboolean(L, 0);
    lua_setfield(L, -2, "retryable");
    if (request_id != NULL) {
        lua_pushstring(L, request_id);
        lua_setfield(L, -2, "request_id");
    }
    return 2;
}

/*
 * An error answer's kind and retryable flag, from the one rule
 * (src/status.c).  An answer the rule calls "http" that carries the
 * service's own error code is the service's refusal: kind "api".
 */
static void set_answer_class(lua_State *L, int err, lua_Integer status, const char *code)
{
    hcdl_status_class c = hcdl_status_classify((long)status, code);
    lua_pushstring(L, strcmp(c.kind, "http") == 0 && code != NULL ? "api" : c.kind);
    lua_setfield(L, err, "kind");
    lua_pushboolean(L, c.retryable);
    lua_setfield(L, err, "retryable");
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
            push_empty_answer(L, a);
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
        return check_answer(L, a, lua_gettop(L), (int)status, request_id);
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
    set_answer_class(L, err, status, lua_isnil(L, -1) ? NULL : lua_tostring(L, -1));
    if (!lua_isnil(L, -1)) {
        lua_getfield(L, err, "message");
        if (lua_type(L, -1) != LUA_TSTRING || hcdl_rawlen(L, -1) == 0) {
            lua_pushfstring(L, "%s failed with HTTP %d", a->name, (int)status);
            lua_setfield(L, err, "message");
        }
        lua_pop(L, 1);
    } else {
        lua_pushfstring(L, "%s failed with HTTP %d and no error code in the body",
                        a->name, (int)status);
        lua_setfield(L, err, "message");
    }
    lua_pop(L, 1);
    lua_settop(L, err);
    return 2;
}

/* ---- apis() ---------------------------------------------------------------- */

static void set_string(lua_State *L, const char *key, const char *value)
{
    if (value == NULL)
        return;
    lua_pushstring(L, value);
    lua_setfield(L, -2, key);
}

static void set_integer(lua_State *L, const char *key, long long value)
{
    hcdl_pushinteger(L, value);
    lua_setfield(L, -2, key);
}

static const char *kind_type(const param_desc *p)
{
    switch (p->kind) {
    case PK_INT: case PK_QUERY_TIME: return "integer";
    case PK_TIME: case PK_TIME14: return "time";
    case PK_FLAG: return "boolean";
    default: return "string";
    }
}

/* { name, where, type, required, rule, min, max, default, values, format, after, together } */
static void push_param(lua_State *L, const param_desc *p)
{
    static const char *const where[] = {"path", "query", "body"};
    lua_createtable(L, 0, 10);
    set_string(L, "name", p->name);
    set_string(L, "where", where[p->where]);
    set_string(L, "type", kind_type(p));
    lua_pushboolean(L, p->required);
    lua_setfield(L, -2, "required");
    push_rule(L, p);
    lua_setfield(L, -2, "rule");
    if (p->kind == PK_INT || p->kind == PK_QUERY_TIME) {
        set_integer(L, "min", p->min);
        set_integer(L, "max", p->max);
    }
    if (p->has_default)
        set_integer(L, "default", p->default_value);
    if (p->kind == PK_QUERY_TIME) {
        static const int days[] = {0, 1, 3, 7};
        size_t i;
        lua_createtable(L, 4, 0);
        for (i = 0; i < 4; i++) {
            hcdl_pushinteger(L, days[i]);
            lua_rawseti(L, -2, (int)i + 1);
        }
        lua_setfield(L, -2, "values");
    } else if (p->kind == PK_ENUM) {
        int i;
        lua_newtable(L);
        for (i = 0; p->values[i] != NULL; i++) {
            lua_pushstring(L, p->values[i]);
            lua_rawseti(L, -2, i + 1);
        }
        lua_setfield(L, -2, "values");
    }
    if (p->kind == PK_TIME)
        set_string(L, "format", "offset");
    else if (p->kind == PK_TIME14)
        set_string(L, "format", "utc14");
    set_string(L, "after", p->after);
    if (p->together) {
        lua_pushboolean(L, 1);
        lua_setfield(L, -2, "together");
    }
}

static void push_answer(lua_State *L, const answer_desc *w)
{
    lua_createtable(L, 0, 8);
    set_string(L, "list", w->list);
    set_string(L, "object", w->object);
    set_string(L, "id", w->id);
    set_string(L, "link", w->link);
    set_string(L, "name", w->name);
    set_string(L, "size", w->size);
    set_string(L, "size_unit", w->size_unit);
    set_string(L, "mtime", w->mtime);
    set_string(L, "mtime_format", w->mtime_format);
    set_string(L, "expires", w->expires);
    set_string(L, "refresh", w->refresh);
    set_string(L, "status", w->status);
    set_string(L, "finished", w->finished);
    if (w->growing) {
        lua_pushboolean(L, 1);
        lua_setfield(L, -2, "growing");
    }
}

/* { style, marker|offset, limit, max, default, total, iterator, collect };
 * the page size's bounds come from the limit parameter's own row. */
static void push_paging(lua_State *L, const api_desc *a)
{
    const paging_desc *g = &a->paging;
    const param_desc *limit = &a->params[param_index(a, g->limit)];
    lua_createtable(L, 0, 8);
    set_string(L, "style", g->style == PAGE_MARKER ? "marker" : "offset");
    set_string(L, g->style == PAGE_MARKER ? "marker" : "offset", g->cursor);
    set_string(L, "limit", g->limit);
    set_integer(L, "max", limit->max);
    if (limit->has_default)
        set_integer(L, "default", limit->default_value);
    set_string(L, "total", g->total);
    set_string(L, "iterator", g->iterator);
    set_string(L, "collect", g->collect);
}

int hcdl_api_list(lua_State *L)
{
    const api_desc *a;
    lua_newtable(L);
    for (a = apis; a->name != NULL; a++) {
        const param_desc *p;
        int i = 0;
        lua_createtable(L, 0, 10);
        set_string(L, "name", a->name);
        set_string(L, "operation", a->operation);
        set_string(L, "service", a->service);
        set_string(L, "method", a->method);
        set_string(L, "path", a->path);
        set_string(L, "fixed_query", a->fixed_query);
        lua_pushboolean(L, a->empty_ok);
        lua_setfield(L, -2, "empty_ok");
        lua_newtable(L);
        for (p = a->params; p->name != NULL; p++) {
            push_param(L, p);
            lua_rawseti(L, -2, ++i);
        }
        lua_setfield(L, -2, "params");
        push_answer(L, &a->answer);
        lua_setfield(L, -2, "answer");
        if (a->paging.style != PAGE_NONE) {
            push_paging(L, a);
            lua_setfield(L, -2, "paging");
        }
        lua_setfield(L, -2, a->name);
    }
    return 1;
}
