/*
 * api_table.c - the APIs as data, one row each (see api_table.h): service,
 * method, path template, parameters with their rules, what the answer
 * holds (where the entries are, and their link, name, size, times and id)
 * and how it pages.  The client's methods, its pagination and refresh, the
 * CLI and the README's tables all come from these rows (core.apis()).
 *
 * Adding an API: one row in `hcdl_apis` below, plus the emulator and tests
 * (docs/apis.md "How to add an API").
 *
 * Facts and their sources:
 *   docs/apis.md "The five link APIs"
 *   docs/apis.md "Companion calls"
 *   docs/apis.md "Errors, request ids and retries"
 */
#include <string.h>

#include "api_table.h"

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
    {.style = PAGE_MARKER, .cursor = "last_file_name", .limit = "limit", \
     .iterator = (it), .collect = (all)}
#define OFFSET_PAGES(tot, it, all) \
    {.style = PAGE_OFFSET, .cursor = "offset", .limit = "limit", .total = (tot), \
     .iterator = (it), .collect = (all)}
#define NO_PAGES {.style = PAGE_NONE}

/*
 * The table.  Names are the official operation names in snake_case; where
 * two services share an operation name (ListInstances: RDS and DCS) the
 * service goes into the name, so no method is ambiguous.
 */
const api_desc hcdl_apis[] = {
    /* TaurusDB full-SQL files (links) */
    {.name = "list_audit_log_download_link", .operation = "ListAuditLogDownloadLink",
     .service = "gaussdb", .method = "GET",
     .path = "/v3/{project_id}/instance/{instance_id}/auditlog/download-link", .params = p_audit,
     .answer = {.list = "files", .link = "download_link", .name = "name", .size = "size",
                .size_unit = "KB", .mtime = "updated_time", .mtime_format = "offset",
                .expires = "link_expired_time", .refresh = "recall", .growing = 1},
     .paging = MARKER_PAGES("audit_log_files", "list_audit_log_files")},
    /* RDS backup files (links) */
    {.name = "show_backup_download_link", .operation = "ShowBackupDownloadLink",
     .service = "rds", .method = "GET", .path = "/v3/{project_id}/backup-files",
     .params = p_rds_backup,
     .answer = {.list = "files", .link = "download_link", .name = "name", .size = "size",
                .size_unit = "KB", .expires = "link_expired_time", .refresh = "recall"},
     .paging = NO_PAGES},
    /* DCS backup files (links), one per shard */
    {.name = "list_backup_file_links", .operation = "ListBackupFileLinks", .service = "dcs",
     .method = "POST", .path = "/v2/{project_id}/instances/{instance_id}/backups/{backup_id}/links",
     .params = p_dcs_backup,
     .answer = {.list = "links", .link = "link", .name = "file_name", .refresh = "recall"},
     .paging = NO_PAGES},
    /* DCS run-log file (link): the answer is the entry */
    {.name = "create_redislog_download_link", .operation = "CreateRedislogDownloadLink",
     .service = "dcs", .method = "POST",
     .path = "/v2/{project_id}/instances/{instance_id}/redislog/{id}/links",
     .params = p_redislog_link,
     .answer = {.id = "id", .link = "link", .refresh = "recall", .growing = 1},
     .paging = NO_PAGES},
    /* RDS for PostgreSQL error logs (links), prepared asynchronously */
    {.name = "download_errorlog", .operation = "DownloadErrorlog", .service = "rds",
     .method = "POST", .path = "/v3/{project_id}/instances/{instance_id}/errorlog-download",
     .params = p_errorlog,
     .answer = {.list = "list", .link = "file_link", .name = "file_name", .size = "file_size",
                .size_unit = "B", .mtime = "update_at", .mtime_format = "epoch_ms",
                .refresh = "errorlog", .status = "status", .finished = "success"},
     .paging = NO_PAGES},
    /* DCS: collect run logs (answers 204) */
    {.name = "create_redislog", .operation = "CreateRedislog", .service = "dcs",
     .method = "POST", .path = "/v2/{project_id}/instances/{instance_id}/redislog",
     .fixed_query = "log_type=run", .params = p_create_redislog, .empty_ok = 1,
     .paging = NO_PAGES},
    /* DCS: the collected run logs */
    {.name = "list_redislog", .operation = "ListRedislog", .service = "dcs", .method = "GET",
     .path = "/v2/{project_id}/instances/{instance_id}/redislog", .fixed_query = "log_type=run",
     .params = p_list_redislog, .empty_ok = 1,
     .answer = {.list = "file_list", .id = "id", .name = "file_name", .mtime = "time",
                .mtime_format = "date", .status = "status", .finished = "succeed",
                .growing = 1},
     .paging = OFFSET_PAGES("total_num", "redislog_files", "all_redislog_files")},
    /* RDS backups of an instance (to find a backup_id) */
    {.name = "list_backups", .operation = "ListBackups", .service = "rds", .method = "GET",
     .path = "/v3/{project_id}/backups", .params = p_list_backups,
     .answer = {.list = "backups", .id = "id", .name = "name", .size = "size",
                .size_unit = "KB", .mtime = "end_time", .mtime_format = "offset",
                .status = "status", .finished = "COMPLETED"},
     .paging = OFFSET_PAGES("total_count", "backups", "all_backups")},
    /* DCS backup records of an instance (to find a backup_id) */
    {.name = "list_backup_records", .operation = "ListBackupRecords", .service = "dcs",
     .method = "GET", .path = "/v2/{project_id}/instances/{instance_id}/backups",
     .params = p_list_backup_records, .empty_ok = 1,
     .answer = {.list = "backup_record_response", .id = "backup_id", .name = "backup_name",
                .size = "size", .size_unit = "B", .mtime = "updated_at",
                .mtime_format = "iso_utc", .status = "status", .finished = "succeed"},
     .paging = OFFSET_PAGES("total_num", "backup_records", "all_backup_records")},
    /* DCS shards and their replicas (note the singular "instance") */
    {.name = "list_group_replication_info", .operation = "ListGroupReplicationInfo",
     .service = "dcs", .method = "GET", .path = "/v2/{project_id}/instance/{instance_id}/groups",
     .params = p_dcs_instance_only,
     .answer = {.list = "group_list", .id = "group_id", .name = "group_name"},
     .paging = NO_PAGES},
    /* TaurusDB instance with its nodes */
    {.name = "show_gauss_my_sql_instance_info", .operation = "ShowGaussMySqlInstanceInfo",
     .service = "gaussdb", .method = "GET", .path = "/v3/{project_id}/instances/{instance_id}",
     .params = p_taurus_instance_only,
     .answer = {.object = "instance", .id = "id", .name = "name"},
     .paging = NO_PAGES},
    /* Instance listings: from a name to an id */
    {.name = "list_rds_instances", .operation = "ListInstances", .service = "rds",
     .method = "GET", .path = "/v3/{project_id}/instances", .params = p_rds_instances,
     .answer = {.list = "instances", .id = "id", .name = "name", .status = "status"},
     .paging = OFFSET_PAGES("total_count", "rds_instances", "all_rds_instances")},
    {.name = "list_dcs_instances", .operation = "ListInstances", .service = "dcs",
     .method = "GET", .path = "/v2/{project_id}/instances", .params = p_dcs_instances,
     .answer = {.list = "instances", .id = "instance_id", .name = "name", .status = "status"},
     .paging = OFFSET_PAGES("instance_num", "dcs_instances", "all_dcs_instances")},
    {.name = "list_gauss_my_sql_instances", .operation = "ListGaussMySqlInstances",
     .service = "gaussdb", .method = "GET", .path = "/v3/{project_id}/instances",
     .params = p_taurus_instances,
     .answer = {.list = "instances", .id = "id", .name = "name", .status = "status"},
     .paging = OFFSET_PAGES("total_count", "gauss_my_sql_instances",
                            "all_gauss_my_sql_instances")},
    {.name = NULL},
};

const api_desc *hcdl_api_find(const char *name)
{
    const api_desc *a;
    for (a = hcdl_apis; a->name != NULL; a++)
        if (strcmp(a->name, name) == 0)
            return a;
    return NULL;
}

int hcdl_api_param_index(const api_desc *a, const char *name)
{
    int i;
    for (i = 0; a->params[i].name != NULL; i++)
        if (strcmp(a->params[i].name, name) == 0)
            return i;
    return -1;
}
