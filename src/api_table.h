/*
 * api_table.h - the descriptor types and the one table of APIs
 * (src/api_table.c).  build (api_build.c), parse (api_parse.c) and
 * reflection (api_reflect.c) all read the same rows; each parameter kind's
 * behaviour is one row of src/param.c.
 */
#ifndef HCDL_API_TABLE_H
#define HCDL_API_TABLE_H

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
    PK_FLAG,            /* a boolean, sent as true/false */
    PK_COUNT
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

/* The most parameters one API has (build keeps per-parameter state). */
#define MAX_PARAMS 16

/* The rows, ended by one whose name is NULL. */
extern const api_desc hcdl_apis[];

/* The row named name, or NULL. */
const api_desc *hcdl_api_find(const char *name);

/* The index of a's parameter name, or -1. */
int hcdl_api_param_index(const api_desc *a, const char *name);

#endif
