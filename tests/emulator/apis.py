"""The five link APIs (plus the DCS run-log companions): validation, shapes and errors.

Each handler takes a Ctx and returns (status, json-able object or None for no body), or
raises ApiError.  Error bodies follow the owning service: RDS/TaurusDB
{"error_code": "DBS.xxxxxx", "error_msg"}, DCS adds "error_ext_msg": null.
"""

import hashlib
import json
import re
import threading
import urllib.parse
from datetime import datetime, timedelta, timezone

import data
from data import TZ8, fmt_time8, kb

HEX32 = r"[0-9a-f]{32}"
UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
TIME_RE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}[+-]\d{4}$")


class ApiError(Exception):
    def __init__(self, status, code, message):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message

    def body(self):
        b = {"error_code": self.code, "error_msg": self.message}
        if self.code.startswith("DCS."):
            b["error_ext_msg"] = None
        return b


class Ctx:
    def __init__(self, state, store, base_url, params, query, body, link_ttl=None):
        self.state, self.store, self.seed = state, store, state.seed
        self.base_url, self.params, self.query, self.body = base_url, params, query, body
        self.link_ttl = link_ttl        # fault override, seconds

    def ttl(self, key):
        return self.link_ttl if self.link_ttl is not None else self.state.config[key]


def _dbs_param(msg):
    return ApiError(400, "DBS.280001", msg)


def _dcs_param(msg):
    return ApiError(400, "DCS.4800", msg)


# ---- 1. TaurusDB full-SQL links ------------------------------------------------------

def _parse_time(ctx, name):
    v = ctx.query.get(name)
    if v is None or v == "":
        raise _dbs_param(f"Parameter {name} is mandatory.")
    if not TIME_RE.match(v):
        raise _dbs_param(f"Invalid {name} {v!r}: expected yyyy-mm-ddThh:mm:ss+hhmm, e.g. "
                         "2023-07-24T09:27:00+0800 (send '+' as %2B).")
    try:
        return datetime.strptime(v, "%Y-%m-%dT%H:%M:%S%z")
    except ValueError:
        raise _dbs_param(f"Invalid {name} {v!r}: not a valid date/time.") from None


def list_audit_log_download_link(ctx):
    seed = ctx.seed
    iid = ctx.params["instance_id"]
    if not re.fullmatch(HEX32 + "in07", iid):
        raise _dbs_param(f"Invalid instance_id {iid!r}: expected 32 hex digits + 'in07'.")
    if iid != seed.gaussdb_instance_id:
        raise ApiError(404, "DBS.200002", f"The instance {iid} does not exist.")
    start, end = _parse_time(ctx, "start_time"), _parse_time(ctx, "end_time")
    now = datetime.fromtimestamp(ctx.state.now(), timezone.utc)
    if end > now:
        raise _dbs_param("end_time cannot be later than the current time.")
    if start > end:
        raise _dbs_param("start_time cannot be later than end_time.")
    if start < seed.gaussdb_created:
        raise _dbs_param("start_time cannot be earlier than the instance creation time "
                         f"{fmt_time8(seed.gaussdb_created)}.")
    node = ctx.query.get("node_id") or None
    if node is not None:
        if not re.fullmatch(HEX32 + "no07", node):
            raise _dbs_param(f"Invalid node_id {node!r}: expected 32 hex digits + 'no07'.")
        if node not in seed.gaussdb_node_ids:
            raise ApiError(400, "DBS.280204", f"The node {node} does not belong to instance {iid}.")
    raw_limit = ctx.query.get("limit")
    if raw_limit is None:
        limit = 10
    elif not re.fullmatch(r"\d{1,4}", raw_limit) or not 1 <= int(raw_limit) <= 50:
        raise _dbs_param(f"Invalid limit {raw_limit!r}: must be an integer from 1 to 50.")
    else:
        limit = int(raw_limit)
    after = ctx.query.get("last_file_name") or None   # empty = first page (what Terraform sends)

    ttl = ctx.ttl("link_ttl_gaussdb")
    files = []
    for f in seed.audit_files:              # already in lexicographic order
        if node and f["node_id"] != node:
            continue
        if not start <= f["updated"] <= end:
            continue
        if after is not None and f["name"] <= after:
            continue
        obj = ctx.state.get_object(data.BUCKET_GAUSSDB, f["key"])
        url, expires = ctx.store.presign(ctx.base_url, obj, ttl)
        files.append({"name": f["name"], "size": kb(f["size"]), "updated_time": fmt_time8(f["updated"]),
                      "download_link": url, "link_expired_time": fmt_time8(datetime.fromtimestamp(expires, TZ8))})
        if len(files) == limit:
            break
    return 200, {"files": files}


# ---- 2. RDS backup files -------------------------------------------------------------

def show_backup_download_link(ctx):
    seed = ctx.seed
    bid = ctx.query.get("backup_id")
    if not bid:
        raise _dbs_param("Parameter backup_id is mandatory.")
    if not re.fullmatch(HEX32 + r"br\d\d", bid):
        raise _dbs_param(f"Invalid backup_id {bid!r}: expected 32 hex digits + 'br01'.")
    if bid != seed.rds_backup_id:
        raise ApiError(404, "DBS.201010", f"The backup {bid} does not exist.")
    ttl = ctx.ttl("link_ttl_rds")
    files = []
    for f in seed.rds_files:
        obj = ctx.state.get_object(data.BUCKET_RDS, f["key"])
        url, expires = ctx.store.presign(ctx.base_url, obj, ttl)
        files.append({"name": f["name"], "size": kb(f["size"]), "download_link": url,
                      "link_expired_time": fmt_time8(datetime.fromtimestamp(expires, TZ8)),
                      "database_name": f["database_name"]})
    return 200, {"files": files, "bucket": data.BUCKET_RDS}


# ---- 3. DCS backup links -------------------------------------------------------------

def _dcs_instance(ctx):
    iid = ctx.params["instance_id"]
    if not re.fullmatch(UUID, iid):
        raise _dcs_param(f"Invalid instance_id {iid!r}.")
    if iid != ctx.seed.dcs_instance_id:
        raise ApiError(404, "DCS.3022", f"Instance {iid} does not exist.")
    return iid


def list_backup_file_links(ctx):
    _dcs_instance(ctx)
    bid = ctx.params["backup_id"]
    if not re.fullmatch(UUID, bid):
        raise _dcs_param(f"Invalid backup_id {bid!r}.")
    if ctx.body.strip() == b"":
        raise ApiError(400, "DCS.4004", "The request body is empty.")
    try:
        req = json.loads(ctx.body.decode("utf-8"))
    except (ValueError, UnicodeDecodeError):
        raise ApiError(400, "DCS.4005", "The request body is not valid JSON.") from None
    exp = req.get("expiration") if isinstance(req, dict) else None
    if exp is None:
        raise _dcs_param("Invalid expiration: the parameter is mandatory.")
    if isinstance(exp, bool) or not isinstance(exp, int) or not 300 <= exp <= 86400:
        raise _dcs_param(f"Invalid expiration {json.dumps(exp)}: must be an integer from 300 to 86400.")
    if bid != ctx.seed.dcs_backup_id:
        raise ApiError(404, "DCS.4001", f"The backup {bid} does not exist.")
    ttl = ctx.link_ttl if ctx.link_ttl is not None else exp
    links = []
    for f in ctx.seed.dcs_backup_files[:64]:
        obj = ctx.state.get_object(data.BUCKET_DCS_BACKUP, f["key"])
        links.append({"file_name": f["file_name"], "link": ctx.store.presign(ctx.base_url, obj, ttl)[0]})
    return 200, {"file_path": f"{ctx.seed.dcs_instance_id}/{ctx.seed.dcs_backup_id}",
                 "bucket_name": data.BUCKET_DCS_BACKUP, "links": links}


# ---- 4. DCS run logs -----------------------------------------------------------------

def _log_type(ctx):
    if ctx.query.get("log_type") != "run":
        raise _dcs_param("Invalid logType.")


def _uuid_from(*parts):
    h = hashlib.sha256("|".join(parts).encode()).hexdigest()
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-a{h[17:20]}-{h[20:32]}"


_collect_seq = [0]
_collect_lock = threading.Lock()


def create_redislog(ctx):
    iid = _dcs_instance(ctx)
    _log_type(ctx)
    qt = ctx.query.get("query_time", "0")
    if qt not in ("0", "1", "3", "7"):
        raise _dcs_param("Invalid query_time.")
    reps = ctx.seed.dcs_replications
    rid = ctx.query.get("replication_id") or None
    if rid is not None:
        reps = [r for r in reps if r["replication_id"] == rid]
        if not reps:
            raise _dcs_param("Invalid replication_id.")
    rep = reps[0]
    now = ctx.state.now()
    with _collect_lock:
        _collect_seq[0] += 1
        seq = str(_collect_seq[0])
    entries = []
    for d in range(int(qt) + 1):
        day = datetime.fromtimestamp(now, TZ8) - timedelta(days=d)
        name = f"redis_{rep['replication_ip']}_{day:%Y-%m-%d}.log"
        key = f"{iid}/redislog/{seq}/{name}"
        size = 4096 + int(hashlib.sha256(name.encode()).hexdigest()[:6], 16) % 200000
        ctx.state.add_object(data.BUCKET_DCS_LOG, key, size, now)
        entries.append({"id": _uuid_from("log", seq, name), "file_name": name, "group_name": rep["group_name"],
                        "replication_ip": rep["replication_ip"], "status": "succeed",
                        "time": f"{day:%Y-%m-%d}", "backup_id": _uuid_from("task", seq), "key": key})
    with ctx.state.lock:
        for e in entries:
            ctx.state.redislog_pending.append([e, now, 0])
    return 204, None


def _promote_ready(state):
    """Collected logs become visible after N list calls or a delay (config)."""
    now = state.now()
    cfg = state.config
    with state.lock:
        still = []
        for p in state.redislog_pending:
            entry, at, seen = p
            if seen >= cfg["redislog_ready_calls"] or now - at >= cfg["redislog_ready_delay"]:
                state.redislog_entries.insert(0, entry)
            else:
                p[2] += 1
                still.append(p)
        state.redislog_pending = still


def _int_param(ctx, name, default, lo, hi):
    v = ctx.query.get(name)
    if v is None:
        return default
    if not re.fullmatch(r"\d{1,9}", v) or not lo <= int(v) <= hi:
        raise _dcs_param(f"Invalid {name}.")
    return int(v)


def list_redislog(ctx):
    _dcs_instance(ctx)
    _log_type(ctx)
    offset = _int_param(ctx, "offset", 0, 0, 10 ** 9)
    limit = _int_param(ctx, "limit", 10, 1, 1000)
    _promote_ready(ctx.state)
    with ctx.state.lock:
        entries = list(ctx.state.redislog_entries)
    if not entries:
        return 204, None            # documented: success with no logs has no body
    page = [{k: v for k, v in e.items() if k != "key"} for e in entries[offset:offset + limit]]
    return 200, {"total_num": len(entries), "file_list": page}


def create_redislog_download_link(ctx):
    _dcs_instance(ctx)
    log_id = ctx.params["id"]
    with ctx.state.lock:
        known = [ctx.seed.dcs_seed_log] + list(ctx.state.redislog_entries)
    entry = next((e for e in known if e["id"] == log_id), None)
    if entry is None:
        raise ApiError(404, "DCS.4001", f"The log {log_id} does not exist.")
    obj = ctx.state.get_object(data.BUCKET_DCS_LOG, entry["key"])
    url = ctx.store.presign(ctx.base_url, obj, ctx.ttl("link_ttl_redislog"))[0]
    return 200, {"id": entry["id"], "backup_id": entry["backup_id"], "link": url}


# ---- 5. RDS for PostgreSQL error logs ------------------------------------------------

def download_errorlog(ctx):
    iid = ctx.params["instance_id"]
    if not re.fullmatch(HEX32 + r"in\d\d", iid):
        raise _dbs_param(f"Invalid instance_id {iid!r}: expected 32 hex digits + 'in03'.")
    if iid != ctx.seed.pg_instance_id:
        raise ApiError(404, "DBS.200002", f"The instance {iid} does not exist.")
    cfg = ctx.state.config
    up = (lambda s: s.upper()) if cfg["errorlog_upper"] else (lambda s: s)
    with ctx.state.lock:
        calls = ctx.state.errorlog_calls[iid] = ctx.state.errorlog_calls.get(iid, 0) + 1
    if calls <= cfg["errorlog_creating"]:
        return 200, {"list": [], "status": up("creating"), "count": 0}
    if cfg["errorlog_failed"]:
        return 200, {"list": [], "status": up("failed"), "count": 0}
    now = ctx.state.now()
    items = []
    for d, size in ((1, 1234567), (0, 204801)):
        day = datetime.fromtimestamp(now, timezone.utc) - timedelta(days=d)
        name = f"postgresql-{day:%Y-%m-%d}_000000.log"
        obj = ctx.state.add_object(data.BUCKET_PG, f"{iid}/errorlog/{name}", size, now)
        url = ctx.store.presign(ctx.base_url, obj, ctx.ttl("link_ttl_errorlog"),
                                subres=[("response-cache-control", "no-cache,no-store")])[0]
        ms = int(now * 1000)
        items.append({"workflow_id": _uuid_from("workflow", iid), "file_name": name, "status": up("success"),
                      "file_size": str(size), "file_link": url, "create_at": ms - 5000, "update_at": ms})
    return 200, {"list": items, "status": up("finish"), "count": len(items)}


# ---- routing -------------------------------------------------------------------------

# (method, path regex, api name, handler, error style); groups are path parameters.
ROUTES = [
    ("GET", r"/v3/(?P<project_id>[^/]+)/instance/(?P<instance_id>[^/]+)/auditlog/download-link",
     "list_audit_log_download_link", list_audit_log_download_link),
    ("GET", r"/v3/(?P<project_id>[^/]+)/backup-files", "show_backup_download_link", show_backup_download_link),
    ("POST", r"/v2/(?P<project_id>[^/]+)/instances/(?P<instance_id>[^/]+)/backups/(?P<backup_id>[^/]+)/links",
     "list_backup_file_links", list_backup_file_links),
    ("POST", r"/v2/(?P<project_id>[^/]+)/instances/(?P<instance_id>[^/]+)/redislog", "create_redislog",
     create_redislog),
    ("GET", r"/v2/(?P<project_id>[^/]+)/instances/(?P<instance_id>[^/]+)/redislog", "list_redislog",
     list_redislog),
    ("POST", r"/v2/(?P<project_id>[^/]+)/instances/(?P<instance_id>[^/]+)/redislog/(?P<id>[^/]+)/links",
     "create_redislog_download_link", create_redislog_download_link),
    ("POST", r"/v3/(?P<project_id>[^/]+)/instances/(?P<instance_id>[^/]+)/errorlog-download",
     "download_errorlog", download_errorlog),
    ("POST", r"/v3/auth/tokens", "iam_tokens", None),
]
_COMPILED = [(m, re.compile(p + r"\Z"), n, h) for m, p, n, h in ROUTES]


def route(method, raw_path):
    """-> (api name, handler, path params) or None.  The gateway matches method + path."""
    for m, rx, name, handler in _COMPILED:
        if m != method:
            continue
        mo = rx.match(raw_path)
        if mo:
            return name, handler, {k: urllib.parse.unquote(v) for k, v in mo.groupdict().items()}
    return None
