"""The five link APIs and their companion calls: validation, shapes and errors.

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


def _gaussdb_instance(ctx):
    iid = ctx.params["instance_id"]
    if not re.fullmatch(HEX32 + "in07", iid):
        raise _dbs_param(f"Invalid instance_id {iid!r}: expected 32 hex digits + 'in07'.")
    inst = ctx.seed.gaussdb_instance(iid)
    if inst is None:
        raise ApiError(404, "DBS.200002", f"The instance {iid} does not exist.")
    return inst


def list_audit_log_download_link(ctx):
    seed = ctx.seed
    inst = _gaussdb_instance(ctx)
    iid = inst["id"]
    nodes = [n["id"] for n in inst["nodes"]]
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
        if node not in nodes:
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
    with ctx.state.lock:
        listed = sorted(ctx.state.audit_files, key=lambda f: f["name"])
    for f in listed:
        if f["node_id"] not in nodes or (node and f["node_id"] != node):
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
    _grow_after_list(ctx.state, [f["name"] for f in files])
    return 200, {"files": files}


def _grow_after_list(state, names):
    """Config audit_grow_on_list: a node's newest file (the one the service is still writing), when
    it is among those just listed, grows, so its download brings more bytes than the listing said."""
    by = state.config.get("audit_grow_on_list", 0)
    if not by or not names:
        return
    with state.lock:
        newest = {}
        for f in state.audit_files:
            if f["node_id"] not in newest or (f["updated"], f["name"]) >= (newest[f["node_id"]]["updated"],
                                                                          newest[f["node_id"]]["name"]):
                newest[f["node_id"]] = f
        for f in newest.values():
            if f["name"] in set(names):
                _grow(state, f, by, 1)


def _grow(state, f, by, seconds):
    f["size"] += by
    f["updated"] += timedelta(seconds=seconds)
    state.objects[(data.BUCKET_GAUSSDB, f["key"])] = data.Obj(data.BUCKET_GAUSSDB, f["key"], f["size"],
                                                              f["updated"].timestamp())


# ---- 2. RDS backup files -------------------------------------------------------------

def show_backup_download_link(ctx):
    seed = ctx.seed
    bid = ctx.query.get("backup_id")
    if not bid:
        raise _dbs_param("Parameter backup_id is mandatory.")
    if not re.fullmatch(HEX32 + r"br\d\d", bid):
        raise _dbs_param(f"Invalid backup_id {bid!r}: expected 32 hex digits + 'br01'.")
    backup = seed.rds_backup(bid)
    if backup is None:
        raise ApiError(404, "DBS.201010", f"The backup {bid} does not exist.")
    if backup["status"] != "COMPLETED":
        raise ApiError(400, "DBS.201203", f"The backup file does not exist: backup {bid} is {backup['status']}.")
    ttl = ctx.ttl("link_ttl_rds")
    files = []
    for f in backup["files"]:
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
    inst = ctx.seed.dcs_instance(iid)
    if inst is None:
        raise ApiError(404, "DCS.3022", f"Instance {iid} does not exist.")
    return inst


def list_backup_file_links(ctx):
    iid = _dcs_instance(ctx)["instance_id"]
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
    record = ctx.seed.dcs_record(iid, bid)
    if record is None:
        raise ApiError(404, "DCS.4001", f"The backup {bid} does not exist.")
    if record["status"] != "succeed":
        raise _dcs_param(f"Invalid backup_id {bid}: the backup is {record['status']}, it has no files.")
    ttl = ctx.link_ttl if ctx.link_ttl is not None else exp
    links = []
    for f in record["files"][:64]:
        obj = ctx.state.get_object(data.BUCKET_DCS_BACKUP, f["key"])
        links.append({"file_name": f["file_name"], "link": ctx.store.presign(ctx.base_url, obj, ttl)[0]})
    return 200, {"file_path": f"{iid}/{bid}", "bucket_name": data.BUCKET_DCS_BACKUP, "links": links}


# ---- 4. DCS run logs -----------------------------------------------------------------

def _log_type(ctx):
    if ctx.query.get("log_type") != "run":
        raise _dcs_param("Invalid logType.")


def _uuid_from(*parts):
    h = hashlib.sha256("|".join(parts).encode()).hexdigest()
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-a{h[17:20]}-{h[20:32]}"


_collect_seq = [0]
_collect_lock = threading.Lock()


def _replicas(inst):
    """Every replica of an instance, with its shard name."""
    if "node" in inst:
        return [inst["node"]]
    return [dict(r, group_name=g["group_name"]) for g in inst["groups"] for r in g["replication_list"]]


def create_redislog(ctx):
    inst = _dcs_instance(ctx)
    iid = inst["instance_id"]
    _log_type(ctx)
    qt = ctx.query.get("query_time", "0")
    if qt not in ("0", "1", "3", "7"):
        raise _dcs_param("Invalid query_time.")
    rid = ctx.query.get("replication_id") or None
    if rid is None:
        if "node" not in inst:          # documented: mandatory unless the instance is single-node
            raise _dcs_param("Invalid replication_id: it is mandatory for an instance that is not single-node.")
        rep = inst["node"]
    else:
        rep = next((r for r in _replicas(inst) if r["replication_id"] == rid), None)
        if rep is None:
            raise _dcs_param("Invalid replication_id.")
    now = ctx.state.now()
    with _collect_lock:
        _collect_seq[0] += 1
        seq = str(_collect_seq[0])
    entries = []
    for d in range(int(qt) + 1):
        day = datetime.fromtimestamp(now, TZ8) - timedelta(days=d)
        name = f"redis_{rep['replication_ip']}_{day:%Y-%m-%d}.log"
        key = f"{iid}/redislog/{seq}/{name}"
        # a later collect of the same day's log finds it longer (the node kept writing)
        size = 4096 + int(hashlib.sha256(name.encode()).hexdigest()[:6], 16) % 200000 + 97 * int(seq)
        ctx.state.add_object(data.BUCKET_DCS_LOG, key, size, now)
        entries.append({"id": _uuid_from("log", seq, name), "file_name": name, "group_name": rep["group_name"],
                        "replication_ip": rep["replication_ip"], "status": "succeed",
                        "time": f"{day:%Y-%m-%d}", "backup_id": _uuid_from("task", seq), "key": key,
                        "_instance": iid})
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


def _int_param(ctx, name, default, lo, hi, error=_dcs_param):
    v = ctx.query.get(name)
    if v is None:
        return default
    if not re.fullmatch(r"\d{1,10}", v) or not lo <= int(v) <= hi:
        raise error(f"Invalid {name} {v!r}: must be an integer from {lo} to {hi}.")
    return int(v)


def _public(entry):
    return {k: v for k, v in entry.items() if k not in ("key", "_instance")}


def list_redislog(ctx):
    iid = _dcs_instance(ctx)["instance_id"]
    _log_type(ctx)
    offset = _int_param(ctx, "offset", 0, 0, 10 ** 9)
    limit = _int_param(ctx, "limit", 10, 1, 1000)
    _promote_ready(ctx.state)
    with ctx.state.lock:
        entries = [e for e in ctx.state.redislog_entries if e["_instance"] == iid]
    if not entries:
        return 204, None            # documented: success with no logs has no body
    page = [_public(e) for e in entries[offset:offset + limit]]
    return 200, {"total_num": len(entries), "file_list": page}


def create_redislog_download_link(ctx):
    iid = _dcs_instance(ctx)["instance_id"]
    log_id = ctx.params["id"]
    with ctx.state.lock:
        known = ([ctx.seed.dcs_seed_log] if iid == ctx.seed.dcs_instance_id else []) + [
            e for e in ctx.state.redislog_entries if e["_instance"] == iid]
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
    inst = ctx.seed.rds_instance(iid)
    if inst is None:
        raise ApiError(404, "DBS.200002", f"The instance {iid} does not exist.")
    if inst["datastore"]["type"] != "PostgreSQL":
        raise _dbs_param(f"The instance {iid} is not an RDS for PostgreSQL instance.")
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


# ---- 6. Companion calls: backups, shards, instances ---------------------------------

def _page(items, ctx, default_limit, max_limit, error):
    """The offset/limit window of a list; both validated like the services do."""
    offset = _int_param(ctx, "offset", 0, 0, 2 ** 31 - 1, error)
    limit = _int_param(ctx, "limit", default_limit, 1, max_limit, error)
    return items[offset:offset + limit]


def _offset_time(ctx, name):
    v = ctx.query.get(name)
    return None if v is None else _parse_time(ctx, name)


def list_backups(ctx):
    """RDS ListBackups: the backups of one instance, newest first."""
    iid = ctx.query.get("instance_id")
    if not iid:
        raise _dbs_param("Parameter instance_id is mandatory.")
    if not re.fullmatch(HEX32 + r"in\d\d", iid):
        raise _dbs_param(f"Invalid instance_id {iid!r}: expected 32 hex digits + 'in01'.")
    if ctx.seed.rds_instance(iid) is None:
        raise ApiError(404, "DBS.200002", f"The instance {iid} does not exist.")
    btype = ctx.query.get("backup_type")
    if btype is not None and btype not in ("auto", "manual", "fragment", "incremental"):
        raise _dbs_param(f"Invalid backup_type {btype!r}: must be auto, manual, fragment or incremental.")
    begin, end = _offset_time(ctx, "begin_time"), _offset_time(ctx, "end_time")
    if (begin is None) != (end is None):
        raise _dbs_param("begin_time and end_time must be given together.")
    if begin is not None and end < begin:
        raise _dbs_param("end_time must be later than begin_time.")
    bid = ctx.query.get("backup_id")
    found = []
    for b in ctx.seed.rds_backups:
        if b["instance_id"] != iid or (bid and b["id"] != bid) or (btype and b["type"] != btype):
            continue
        if begin is not None and not begin <= datetime.strptime(b["begin_time"], "%Y-%m-%dT%H:%M:%S%z") <= end:
            continue
        found.append({k: v for k, v in b.items() if k != "files"})
    return 200, {"backups": _page(found, ctx, 100, 100, _dbs_param), "total_count": len(found)}


def _time14(ctx, name):
    v = ctx.query.get(name)
    if v is None:
        return None
    try:
        if not re.fullmatch(r"\d{14}", v):
            raise ValueError
        return datetime.strptime(v, "%Y%m%d%H%M%S").replace(tzinfo=timezone.utc)
    except ValueError:
        raise _dcs_param(f"Invalid {name} {v!r}: expected yyyyMMddHHmmss (UTC).") from None


def list_backup_records(ctx):
    """DCS ListBackupRecords: newest first; times in the query are yyyyMMddHHmmss UTC."""
    inst = _dcs_instance(ctx)
    begin, end = _time14(ctx, "begin_time"), _time14(ctx, "end_time")
    if begin is not None and end is not None and end < begin:
        raise _dcs_param("Invalid end_time: it is earlier than begin_time.")
    found = []
    for r in ctx.seed.dcs_records.get(inst["instance_id"], []):
        created = datetime.strptime(r["created_at"], "%Y-%m-%dT%H:%M:%S.%f%z")
        if (begin is None or created >= begin) and (end is None or created <= end):
            found.append({k: v for k, v in r.items() if k != "files"})
    page = _page(found, ctx, 10, 1000, _dcs_param)
    if not found:
        return 204, None            # documented: no backup record
    return 200, {"total_num": len(found), "backup_record_response": page}


def list_group_replication_info(ctx):
    """DCS shards and replicas; single-node instances are not described (documented)."""
    inst = _dcs_instance(ctx)
    if "node" in inst:
        raise _dcs_param(f"Invalid instance {inst['instance_id']}: a single-node instance has no shards or "
                         "replicas.")
    return 200, {"group_list": inst["groups"], "group_count": len(inst["groups"])}


def show_gauss_my_sql_instance_info(ctx):
    inst = _gaussdb_instance(ctx)
    return 200, {"instance": dict(inst, project_id=ctx.seed.project_id)}


def _filter_ok(value, pattern):
    """ListInstances name/id filters: a leading '*' is a fuzzy (substring) match."""
    if pattern.startswith("*"):
        return pattern[1:] in value
    return value == pattern


def _filter(ctx, name, error):
    v = ctx.query.get(name)
    if v is not None and (v == "" or v == "*"):
        raise error(f"Invalid {name} {v!r}: '*' alone is not a filter.")
    return v


def _enum(ctx, name, values, error):
    v = ctx.query.get(name)
    if v is not None and v not in values:
        raise error(f"Invalid {name} {v!r}: must be one of {', '.join(values)}.")
    return v


def _uuid_query(ctx, name, error):
    v = ctx.query.get(name)
    if v is not None and not re.fullmatch(UUID, v):
        raise error(f"Invalid {name} {v!r}.")
    return v


def _list_v3_instances(ctx, instances, types, datastores, extra=()):
    """RDS ListInstances and TaurusDB ListGaussMySqlInstances share their rules."""
    fid, fname = _filter(ctx, "id", _dbs_param), _filter(ctx, "name", _dbs_param)
    itype = _enum(ctx, "type", types, _dbs_param)
    store = _enum(ctx, "datastore_type", datastores, _dbs_param)
    vpc, subnet = _uuid_query(ctx, "vpc_id", _dbs_param), _uuid_query(ctx, "subnet_id", _dbs_param)
    found = []
    for inst in instances:
        if ((fid and not _filter_ok(inst["id"], fid)) or (fname and not _filter_ok(inst["name"], fname))
                or (itype and inst["type"] != itype) or (store and inst["datastore"]["type"] != store)
                or (vpc and inst["vpc_id"] != vpc) or (subnet and inst["subnet_id"] != subnet)
                or any(not ok(inst) for ok in extra)):
            continue
        found.append(inst)
    return 200, {"instances": _page(found, ctx, 100, 100, _dbs_param), "total_count": len(found)}


def list_rds_instances(ctx):
    return _list_v3_instances(ctx, ctx.seed.rds_instances, ("Single", "Ha", "Replica"),
                              ("MySQL", "PostgreSQL", "SQLServer", "MariaDB"))


def list_gauss_my_sql_instances(ctx):
    ip = ctx.query.get("private_ip")
    extra = [lambda inst: ip in inst["private_write_ips"]] if ip else []
    return _list_v3_instances(ctx, ctx.seed.gaussdb_instances, ("Cluster",), ("gaussdb-mysql",), extra)


def list_dcs_instances(ctx):
    iid = _uuid_query(ctx, "instance_id", _dcs_param)
    name = ctx.query.get("name")
    exact = ctx.query.get("name_equal") == "true"       # the service: anything else means false
    ip = ctx.query.get("ip")
    found = []
    for inst in ctx.seed.dcs_instances:
        if (iid and inst["instance_id"] != iid) or (ip and inst["ip"] != ip):
            continue
        if name and not (inst["name"] == name if exact else name in inst["name"]):
            continue
        found.append({k: v for k, v in inst.items() if k not in ("groups", "node")})
    return 200, {"instances": _page(found, ctx, 10, 1000, _dcs_param), "instance_num": len(found)}


def _ambiguous(ctx):
    raise ApiError(404, "APIGW.0101", "The API does not exist or has not been published in the environment: "
                   "GET /v3/{project_id}/instances is both RDS ListInstances and TaurusDB "
                   "ListGaussMySqlInstances; call it on the service's host (rds.localhost:PORT or "
                   "gaussdb.localhost:PORT, see the emulator's endpoints).")


# ---- full-SQL files that grow (control endpoint POST /_emulator/audit) ----------------

def _positive_int(req, key, default, lo, hi):
    v = req.get(key, default)
    if isinstance(v, bool) or not isinstance(v, int) or not lo <= v <= hi:
        raise ValueError(f"{key} must be an integer from {lo} to {hi}")
    return v


def _audit_view(f):
    return {"name": f["name"], "node_id": f["node_id"], "size": f["size"], "size_kb": kb(f["size"]),
            "updated_time": fmt_time8(f["updated"])}


def audit_control(state, method, req):
    """GET: the full-SQL files as listed now.  POST {grow: name|"latest", by, seconds} makes a file
    longer with a later updated_time; {add: n, seconds, node, size} appends n files after the last
    name.  Object bytes stay content.py's function of (name, size), so growth appends."""
    if method == "GET":
        with state.lock:
            return {"files": [_audit_view(f) for f in sorted(state.audit_files, key=lambda f: f["name"])]}
    if method != "POST" or not isinstance(req, dict) or not ({"grow", "add", "replace"} & set(req)):
        raise ValueError('POST a JSON object with "grow" (a file name or "latest"), "add" (a count) '
                         'and/or "replace" (a count)')
    unknown = set(req) - {"grow", "by", "seconds", "add", "node", "size", "replace", "spread", "nodes", "seed",
                          "max_size"}
    if unknown:
        raise ValueError(f"unknown keys: {', '.join(sorted(unknown))}")
    seconds = _positive_int(req, "seconds", 10, 1, 86400)
    changed = []
    with state.lock:
        if "replace" in req:
            changed += _replace_audit(state, req)
        files = state.audit_files
        if "grow" in req:
            by = _positive_int(req, "by", 4096, 1, 2 ** 40)
            target = req["grow"]
            if target == "latest":
                f = max(files, key=lambda x: (x["updated"], x["name"]))
            else:
                f = next((x for x in files if x["name"] == target), None)
                if f is None:
                    raise ValueError(f"no full-SQL file named {target!r}")
            _grow(state, f, by, seconds)
            changed.append(f)
        if "add" in req:
            count = _positive_int(req, "add", 1, 1, 1000)
            nodes = state.seed.gaussdb_node_ids
            node = nodes[_positive_int(req, "node", 0, 0, len(nodes) - 1)]
            now = datetime.fromtimestamp(int(state.now()) - 120, timezone.utc)
            last = max(files, key=lambda x: x["name"]) if files else {"start": now - timedelta(seconds=60)}
            newest = max((x["updated"] for x in files), default=now - timedelta(seconds=seconds * count))
            serial = 1 + max((int(x["name"].rsplit("_", 1)[1]) for x in files if x["node_id"] == node), default=0)
            inst = state.seed.gaussdb_instance_id
            for k in range(1, count + 1):
                start = last["start"] + timedelta(seconds=seconds * k)
                name = data.full_sql_name(start, inst, node, serial + k - 1)
                h = data.stable_number("size" + name)
                size = req["size"] if "size" in req else 1024 * (8 + h % 200) - (h >> 20) % 1024
                _positive_int({"size": size}, "size", 0, 0, 2 ** 40)
                key = f"{state.seed.project_id}_{inst}/{start:%Y%m%d}/SQLAudit/{name}"
                f = {"name": name, "node_id": node, "size": size, "start": start,
                     "updated": newest + timedelta(seconds=seconds * k), "key": key}
                files.append(f)
                state.objects[(data.BUCKET_GAUSSDB, key)] = data.Obj(data.BUCKET_GAUSSDB, key, size,
                                                                     f["updated"].timestamp())
                changed.append(f)
        return {"files": [_audit_view(f) for f in changed]}


def _replace_audit(state, req):
    """{replace: n, spread: s, nodes: 1|2, seed: k, max_size: b}: the instance's full-SQL files become n
    files (0 to 1000) of up to max_size bytes, updated within the last `spread` seconds (a young
    instance: spread < 3600), on the first `nodes` nodes; the same seed gives the same files."""
    count = _positive_int(req, "replace", 0, 0, 1000)
    spread = _positive_int(req, "spread", 3600, 1, 86400 * 30)
    nodes = state.seed.gaussdb_node_ids[:_positive_int(req, "nodes", 2, 1, len(state.seed.gaussdb_node_ids))]
    max_size = _positive_int(req, "max_size", 4096, 1, 2 ** 30)
    label = str(_positive_int(req, "seed", 0, 0, 2 ** 53))
    inst = state.seed.gaussdb_instance_id
    for f in state.audit_files:
        state.objects.pop((data.BUCKET_GAUSSDB, f["key"]), None)
    now = datetime.fromtimestamp(int(state.now()) - 120, timezone.utc)
    files = []
    for i in range(count):
        node = nodes[i % len(nodes)]
        h = data.stable_number(f"replace{label}.{i}")
        updated = now - timedelta(seconds=h % spread)
        start = updated - timedelta(seconds=60)
        name = data.full_sql_name(start, inst, node, i + 1)
        key = f"{state.seed.project_id}_{inst}/{start:%Y%m%d}/SQLAudit/{name}"
        f = {"name": name, "node_id": node, "size": 1 + (h >> 16) % max_size, "start": start,
             "updated": updated, "key": key}
        files.append(f)
        state.objects[(data.BUCKET_GAUSSDB, key)] = data.Obj(data.BUCKET_GAUSSDB, key, f["size"],
                                                             updated.timestamp())
    state.audit_files = files
    return files


# ---- routing -------------------------------------------------------------------------

P = r"/(?P<project_id>[^/]+)"
I = r"/(?P<instance_id>[^/]+)"
# (method, path regex, api name, handler, service); groups are path parameters.
ROUTES = [
    ("GET", r"/v3" + P + "/instance" + I + "/auditlog/download-link", "list_audit_log_download_link",
     list_audit_log_download_link, "gaussdb"),
    ("GET", r"/v3" + P + "/backup-files", "show_backup_download_link", show_backup_download_link, "rds"),
    ("POST", r"/v2" + P + "/instances" + I + "/backups/(?P<backup_id>[^/]+)/links", "list_backup_file_links",
     list_backup_file_links, "dcs"),
    ("POST", r"/v2" + P + "/instances" + I + "/redislog", "create_redislog", create_redislog, "dcs"),
    ("GET", r"/v2" + P + "/instances" + I + "/redislog", "list_redislog", list_redislog, "dcs"),
    ("POST", r"/v2" + P + "/instances" + I + "/redislog/(?P<id>[^/]+)/links", "create_redislog_download_link",
     create_redislog_download_link, "dcs"),
    ("POST", r"/v3" + P + "/instances" + I + "/errorlog-download", "download_errorlog", download_errorlog, "rds"),
    ("GET", r"/v3" + P + "/backups", "list_backups", list_backups, "rds"),
    ("GET", r"/v2" + P + "/instances" + I + "/backups", "list_backup_records", list_backup_records, "dcs"),
    ("GET", r"/v2" + P + "/instance" + I + "/groups", "list_group_replication_info", list_group_replication_info,
     "dcs"),
    ("GET", r"/v3" + P + "/instances" + I, "show_gauss_my_sql_instance_info", show_gauss_my_sql_instance_info,
     "gaussdb"),
    ("GET", r"/v3" + P + "/instances", "list_rds_instances", list_rds_instances, "rds"),
    ("GET", r"/v3" + P + "/instances", "list_gauss_my_sql_instances", list_gauss_my_sql_instances, "gaussdb"),
    ("GET", r"/v2" + P + "/instances", "list_dcs_instances", list_dcs_instances, "dcs"),
    ("POST", r"/v3/auth/tokens", "iam_tokens", None, "iam"),
]
_COMPILED = [(m, re.compile(p + r"\Z"), n, h, svc) for m, p, n, h, svc in ROUTES]

# The first label of a Host names the service, as the cloud's hosts do
# (gaussdb / gaussdbformysql / gaussdb-mysql, rds, dcs, iam).
_HOST_SERVICES = {"gaussdb": "gaussdb", "gaussdbformysql": "gaussdb", "gaussdb-mysql": "gaussdb",
                  "rds": "rds", "dcs": "dcs", "iam": "iam"}


def host_service(host):
    """The service a Host header names (rds.localhost:8443 -> "rds"), or None (a bare address)."""
    name = (host or "").strip().lower()
    name = name.rsplit(":", 1)[0] if not name.endswith("]") else name
    return _HOST_SERVICES.get(name.split(".", 1)[0]) if "." in name else None


def route(method, raw_path, host=None):
    """-> (api name, handler, path params) or None.  The gateway matches method + path, and the
    service of the Host when it names one; on a bare address a path two services share is refused."""
    service = host_service(host)
    found = []
    for m, rx, name, handler, svc in _COMPILED:
        if m != method:
            continue
        mo = rx.match(raw_path)
        if mo and (service is None or svc == service):
            found.append((name, handler, {k: urllib.parse.unquote(v) for k, v in mo.groupdict().items()}))
    if len(found) > 1:
        return "ambiguous", _ambiguous, found[0][2]
    return found[0] if found else None
