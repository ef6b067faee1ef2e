"""The emulated cloud's resources (seed data) and its run-time mutable state.

Resource ids are derived from fixed labels, so they are the same on every run (a demo
or a user's test can hard-code them); only credentials are random unless given.
"""

import hashlib
import math
import threading
import time
from datetime import datetime, timedelta, timezone

TZ8 = timezone(timedelta(hours=8))
UTC = timezone.utc

# Buckets of the emulated object store (path-style: /<bucket>/<key>).
BUCKET_GAUSSDB = "gaussdb-fullsql-emulator"
BUCKET_RDS = "rds-backup-emulator"
BUCKET_DCS_BACKUP = "dcs-backup-emulator"
BUCKET_DCS_LOG = "dcs-runlog-emulator"
BUCKET_PG = "rds-errorlog-emulator"
BUCKET_ADHOC = "adhoc-emulator"
BUCKETS = (BUCKET_GAUSSDB, BUCKET_RDS, BUCKET_DCS_BACKUP, BUCKET_DCS_LOG, BUCKET_PG, BUCKET_ADHOC)


def _hex(label, n=32):
    return hashlib.sha256(("hcdl-emulator:" + label).encode()).hexdigest()[:n]


def _num(label):
    return int(_hex(label, 12), 16)


stable_number = _num    # for the control endpoint's new files: the seed's own formula


def _uuid(label):
    h = _hex(label)
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-a{h[17:20]}-{h[20:32]}"


def kb(size_bytes):
    """The APIs report sizes in KB; the emulator rounds up (documented)."""
    return math.ceil(size_bytes / 1024)


def fmt_time8(dt):
    """yyyy-mm-ddThh:mm:ss+0800 (the GaussDB/RDS time format, numeric offset)."""
    return dt.astimezone(TZ8).strftime("%Y-%m-%dT%H:%M:%S%z")


class Obj:
    """An object in the store; its bytes come from content.py (name, size)."""
    __slots__ = ("bucket", "key", "name", "size", "mtime")

    def __init__(self, bucket, key, size, mtime):
        self.bucket, self.key, self.size, self.mtime = bucket, key, int(size), float(mtime)
        self.name = key.rsplit("/", 1)[-1]


def fmt_utc_ms(dt):
    """2019-05-10T08:31:16.166Z (the DCS backup-record time format, UTC with milliseconds)."""
    dt = dt.astimezone(UTC)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"


def full_sql_name(start, inst, node, n):
    # UTC start time, instance, node, counter: lexicographic order = time order.
    return f"{start.astimezone(UTC):%Y%m%d%H%M%S}_{inst}_{node}_SQLAudit_{n}"


class Seed:
    """Fixed resources the APIs know about (see README.md, "Seed")."""

    def __init__(self, project_id):
        self.project_id = project_id
        # TaurusDB (GaussDB for MySQL): 2 nodes, ~170 full-SQL files on 2023-07-24 (+0800).
        self.gaussdb_instance_id = _hex("gaussdb-instance") + "in07"
        self.gaussdb_node_ids = [_hex("gaussdb-node-0") + "no07", _hex("gaussdb-node-1") + "no07"]
        self.gaussdb_created = datetime(2023, 1, 1, tzinfo=TZ8)
        # RDS (MySQL) with several backups; the one with the original id is an auto full backup.
        self.rds_instance_id = _hex("rds-instance") + "in01"
        self.rds_backup_id = _hex("rds-backup") + "br01"
        # DCS Redis cluster: 3 shards x 2 replicas (master + slave); a single-node instance.
        self.dcs_instance_id = _uuid("dcs-instance")
        self.dcs_single_instance_id = _uuid("dcs-single-instance")
        self.dcs_backup_id = _uuid("dcs-backup")
        self.dcs_log_id = _uuid("dcs-log")
        self.dcs_groups = [
            {"group_id": _uuid(f"dcs-group-{g}"), "group_name": f"group-{g}", "replication_list": [
                {"replication_id": _uuid(f"dcs-replication-{g}" + ("" if r == 0 else f".{r}")),
                 "replication_ip": f"192.168.0.{11 + g + 3 * r}", "replication_role": ("master", "slave")[r],
                 "node_id": _hex(f"dcs-node-{g}.{r}"), "is_replication": False, "status": "Active",
                 "az_code": ("az1", "az2")[r]} for r in range(2)]} for g in range(3)]
        # RDS for PostgreSQL instance for error logs (and one backup).
        self.pg_instance_id = _hex("pg-instance") + "in03"

        self.audit_files = []   # dicts: name, node_id, size, updated (datetime), key, start
        self.rds_backups = []   # ListBackups records, + "files": [{name, size, database_name, key}]
        self.dcs_records = {}   # instance id -> ListBackupRecords records, + "files"
        self.dcs_seed_log = None
        self.gaussdb_instances, self.rds_instances, self.dcs_instances = [], [], []
        self.objects = {}       # (bucket, key) -> Obj
        self._build()

    # Backwards-compatible views of the first seeds.
    @property
    def rds_files(self):
        return self.rds_backup(self.rds_backup_id)["files"]

    @property
    def dcs_backup_files(self):
        return self.dcs_record(self.dcs_instance_id, self.dcs_backup_id)["files"]

    @property
    def dcs_replications(self):
        """Every replica of the cluster, masters first (group order)."""
        reps = [dict(r, group_name=g["group_name"]) for g in self.dcs_groups for r in g["replication_list"]]
        return sorted(reps, key=lambda r: r["replication_role"] != "master")

    def rds_backup(self, backup_id):
        return next((b for b in self.rds_backups if b["id"] == backup_id), None)

    def dcs_record(self, instance_id, backup_id):
        return next((r for r in self.dcs_records.get(instance_id, []) if r["backup_id"] == backup_id), None)

    def gaussdb_instance(self, iid):
        return next((i for i in self.gaussdb_instances if i["id"] == iid), None)

    def rds_instance(self, iid):
        return next((i for i in self.rds_instances if i["id"] == iid), None)

    def dcs_instance(self, iid):
        return next((i for i in self.dcs_instances if i["instance_id"] == iid), None)

    def _add(self, bucket, key, size, mtime):
        obj = Obj(bucket, key, size, mtime)
        self.objects[(bucket, key)] = obj
        return obj

    def _build(self):
        self._build_gaussdb()
        self._build_rds()
        self._build_dcs()

    # ---- TaurusDB ----------------------------------------------------------------

    def _build_gaussdb(self):
        inst = self.gaussdb_instance_id
        day = datetime(2023, 7, 24, 0, 5, tzinfo=TZ8)
        for n, node in enumerate(self.gaussdb_node_ids):
            for i in range(85):
                start = day + timedelta(seconds=i * 1000 + n * 437 + _num(f"jit{n}.{i}") % 60)
                updated = start + timedelta(seconds=900)
                name = full_sql_name(start, inst, node, i + 1)
                h = _num("size" + name)
                size = 1024 * (8 + h % 200) - (h >> 20) % 1024
                key = f"{self.project_id}_{inst}/{start:%Y%m%d}/SQLAudit/{name}"
                self.audit_files.append({"name": name, "node_id": node, "size": size, "start": start,
                                         "updated": updated, "key": key})
                self._add(BUCKET_GAUSSDB, key, size, updated.timestamp())
        self.audit_files.sort(key=lambda f: f["name"])
        # 7 TaurusDB instances (2 pages at limit 5); only the first has nodes with files.
        for k in range(7):
            iid = inst if k == 0 else _hex(f"gaussdb-instance-{k}") + "in07"
            nodes = self.gaussdb_node_ids if k == 0 else [_hex(f"gaussdb-node-{k}.{r}") + "no07" for r in range(2)]
            self.gaussdb_instances.append({
                "id": iid, "name": "taurus-main" if k == 0 else f"taurus-{k:02d}", "status": "normal",
                "type": "Cluster", "node_count": len(nodes),
                "datastore": {"type": "gaussdb-mysql", "version": "8.0"},
                "created": fmt_time8(self.gaussdb_created + timedelta(days=k)),
                "updated": fmt_time8(self.gaussdb_created + timedelta(days=k + 1)),
                "vpc_id": _uuid("vpc"), "subnet_id": _uuid("subnet"),
                "private_write_ips": [f"10.0.1.{10 + k}"],
                "nodes": [{"id": nid, "name": f"taurus-{k:02d}_node0{r + 1}", "type": ("master", "slave")[r],
                           "status": "normal", "az_code": ("az1", "az2")[r],
                           "private_read_ips": [f"10.0.1.{100 + 2 * k + r}"]} for r, nid in enumerate(nodes)]})

    # ---- RDS ---------------------------------------------------------------------

    def _rds_backup(self, instance, label, btype, status, begin, end, files):
        bid = self.rds_backup_id if label == "rds-backup" else _hex(label) + "br" + instance["id"][-2:]
        rec = {"id": bid, "instance_id": instance["id"], "name": f"{instance['name']}-{label}", "type": btype,
               "status": status, "begin_time": fmt_time8(begin), "datastore": dict(instance["datastore"]),
               "files": []}
        if end is not None:
            rec["end_time"] = fmt_time8(end)
        for name, size, db in files:
            key = f"{instance['id']}/{bid}/{name}"
            rec["files"].append({"name": name, "size": size, "database_name": db, "key": key})
            self._add(BUCKET_RDS, key, size, (end or begin).timestamp())
        rec["size"] = kb(sum(f["size"] for f in rec["files"]))
        self.rds_backups.append(rec)

    def _build_rds(self):
        engines = [("MySQL", "8.0", "in01"), ("PostgreSQL", "14", "in03"), ("SQLServer", "2019_SE", "in04")]
        # 12 RDS instances (3 pages at limit 5): MySQL with backups, PostgreSQL, then others.
        for k in range(12):
            if k == 0:
                iid, (engine, version, _) = self.rds_instance_id, engines[0]
            elif k == 1:
                iid, (engine, version, _) = self.pg_instance_id, engines[1]
            else:
                engine, version, suffix = engines[k % 3]
                iid = _hex(f"rds-instance-{k}") + suffix
            itype = ("Ha", "Single", "Replica")[k % 3] if k > 1 else ("Ha", "Single")[k]
            self.rds_instances.append({
                "id": iid, "name": ("rds-main", "rds-pg")[k] if k < 2 else f"rds-{k:02d}", "status": "ACTIVE",
                "type": itype, "datastore": {"type": engine, "version": version},
                "created": fmt_time8(datetime(2023, 1, 2, tzinfo=TZ8) + timedelta(days=k)),
                "vpc_id": _uuid("vpc"), "subnet_id": _uuid("subnet" if k % 2 == 0 else "subnet-b"),
                "private_ips": [f"10.0.2.{10 + k}"], "port": 3306 if engine == "MySQL" else 5432,
                "nodes": [{"id": _hex(f"rds-node-{k}.{r}") + "no01", "name": f"rds-{k:02d}_node{r}",
                           "role": ("master", "slave")[r], "status": "ACTIVE", "availability_zone": f"az{r + 1}"}
                          for r in range(2 if itype == "Ha" else 1)]})
        main = self.rds_instances[0]
        t = lambda *a: datetime(*a, tzinfo=TZ8)  # noqa: E731
        iid = main["id"]

        def full(stamp):
            n = f"{iid}_{stamp}_full.qp"
            return [(n, 3 * 1048576 + _num(n) % 1048576, "")]

        def binlog(first):
            return [(f"mysql-bin.{first + i:06d}", 262144 + _num(f"binlog{first + i}") % 524288, "")
                    for i in range(2)]
        # (label, type, status, begin, end, files); the one labelled "rds-backup" keeps the original id
        # and files.  Newest finished: the incremental of 07-24; newest auto: "rds-backup".
        self._rds_backup(main, "rds-backup-0720-manual", "manual", "COMPLETED", t(2023, 7, 20, 9), t(2023, 7, 20, 9, 4),
                         full("20230720010000"))
        self._rds_backup(main, "rds-backup-0723-auto", "auto", "COMPLETED", t(2023, 7, 23, 10, 30),
                         t(2023, 7, 23, 10, 34), full("20230723023000"))
        self._rds_backup(main, "rds-backup-0723-incr", "incremental", "COMPLETED", t(2023, 7, 23, 22),
                         t(2023, 7, 23, 23), binlog(101))
        self._rds_backup(main, "rds-backup", "auto", "COMPLETED", t(2023, 7, 24, 10, 30), t(2023, 7, 24, 10, 35),
                         [(f"{iid}_20230724023000_full.qp", 5 * 1048576 + 4321, ""),
                          (f"{iid}_20230724023000_db_orders.qp", 700001, "db_orders")])
        self._rds_backup(main, "rds-backup-0724-incr", "incremental", "COMPLETED", t(2023, 7, 24, 10, 35),
                         t(2023, 7, 24, 14), binlog(103))
        self._rds_backup(main, "rds-backup-0724-failed", "manual", "FAILED", t(2023, 7, 24, 15), t(2023, 7, 24, 15, 1),
                         [])
        self._rds_backup(main, "rds-backup-0725-building", "auto", "BUILDING", t(2023, 7, 25, 10, 30), None, [])
        pg = self.rds_instances[1]
        self._rds_backup(pg, "pg-backup-0724", "auto", "COMPLETED", t(2023, 7, 24, 3), t(2023, 7, 24, 3, 2),
                         [(f"{pg['id']}_20230723190000_full.tar.gz", 2 * 1048576 + 77, "")])
        self.rds_backups.sort(key=lambda b: b["begin_time"], reverse=True)

    # ---- DCS ---------------------------------------------------------------------

    def _dcs_record(self, iid, label, btype, status, created, masters):
        bid = self.dcs_backup_id if label == "dcs-backup" else _uuid(label)
        done = created + timedelta(seconds=74, milliseconds=380)
        rec = {"backup_id": bid, "period": {}, "backup_name": f"backup_{created.astimezone(TZ8):%Y%m%d%H%M%S}",
               "instance_id": iid, "backup_type": btype, "created_at": fmt_utc_ms(created),
               "updated_at": fmt_utc_ms(done), "progress": "100.00" if status == "succeed" else "0.00",
               "error_code": "dcs.08.0002" if status == "failed" else {}, "remark": label,
               "status": status, "is_support_restore": "TRUE" if status == "succeed" else "FALSE",
               "execution_at": fmt_utc_ms(created), "backup_format": "rdb", "files": []}
        if status == "succeed":
            slots = ("0-5460", "5461-10922", "10923-16383")
            for ip, slot in zip(masters, slots):
                name = f"redis_{ip}_6379_{slot}_{created.astimezone(TZ8):%Y%m%d%H%M%S}.rdb"
                size = 1048576 + _num(name) % 2097152
                key = f"{iid}/{bid}/{name}"
                rec["files"].append({"file_name": name, "key": key, "size": size})
                self._add(BUCKET_DCS_BACKUP, key, size, done.timestamp())
        rec["size"] = sum(f["size"] for f in rec["files"])
        self.dcs_records.setdefault(iid, []).append(rec)

    def _build_dcs(self):
        # 23 DCS instances (3 pages at the default limit 10): the cluster, the single-node one,
        # then single-node and master/standby ("ha") instances.
        for k in range(23):
            if k == 0:
                iid, mode = self.dcs_instance_id, "cluster"
            elif k == 1:
                iid, mode = self.dcs_single_instance_id, "single"
            else:
                iid, mode = _uuid(f"dcs-instance-{k}"), ("single", "ha")[k % 2]
            inst = {"instance_id": iid, "name": ("redis-cluster", "redis-single")[k] if k < 2 else f"redis-{k:02d}",
                    "engine": "Redis", "engine_version": "5.0", "status": "RUNNING", "cache_mode": mode,
                    "capacity": 4 if mode == "cluster" else 1, "port": 6379, "ip": f"10.0.3.{10 + k}",
                    "spec_code": f"redis.{mode}.xu1.large.1", "created_at": f"2023-01-{3 + k % 20:02d}T00:00:00.000Z"}
            if mode == "cluster":
                inst["groups"] = self.dcs_groups
            elif mode == "ha":
                inst["groups"] = [{"group_id": _uuid(f"dcs-group-{k}"), "group_name": "group-0", "replication_list": [
                    {"replication_id": _uuid(f"dcs-replication-{k}.{r}"), "replication_ip": f"10.0.4.{2 * k + r}",
                     "replication_role": ("master", "slave")[r], "node_id": _hex(f"dcs-node-{k}.{r}"),
                     "is_replication": False, "status": "Active", "az_code": f"az{r + 1}"} for r in range(2)]}]
            else:
                # the one node, never shown by ListGroupReplicationInfo
                inst["node"] = {"replication_id": _uuid(f"dcs-replication-{k}"), "replication_ip": inst["ip"],
                                "group_name": "group-0"}
            self.dcs_instances.append(inst)
        masters = [g["replication_list"][0]["replication_ip"] for g in self.dcs_groups]
        u = lambda *a: datetime(*a, tzinfo=UTC)  # noqa: E731
        # Newest succeed: "dcs-backup" (manual); newest auto succeed: 07-23.
        for label, btype, status, created in (
                ("dcs-backup-0717", "auto", "expired", u(2023, 7, 17, 13)),
                ("dcs-backup-0723", "auto", "succeed", u(2023, 7, 23, 13, 18, 16)),
                ("dcs-backup", "manual", "succeed", u(2023, 7, 24, 13, 18, 16)),
                ("dcs-backup-0724-failed", "auto", "failed", u(2023, 7, 24, 16)),
                ("dcs-backup-0724-running", "manual", "backuping", u(2023, 7, 24, 20))):
            self._dcs_record(self.dcs_instance_id, label, btype, status, created, masters)
        self.dcs_records[self.dcs_instance_id].sort(key=lambda r: r["created_at"], reverse=True)

        r0 = self.dcs_groups[0]["replication_list"][0]
        name = f"redis_{r0['replication_ip']}_2023-07-24.log"
        key = f"{self.dcs_instance_id}/redislog/{name}"
        self.dcs_seed_log = {"id": self.dcs_log_id, "file_name": name, "group_name": self.dcs_groups[0]["group_name"],
                             "replication_ip": r0["replication_ip"], "status": "succeed",
                             "time": "2023-07-24", "backup_id": _uuid("dcs-log-task"), "key": key}
        self._add(BUCKET_DCS_LOG, key, 65536 + 123, datetime(2023, 7, 24, 10, 30, tzinfo=TZ8).timestamp())

    def seed_json(self):
        return {
            "gaussdb_instance_id": self.gaussdb_instance_id,
            "gaussdb_node_id": self.gaussdb_node_ids[0],
            "gaussdb_node_ids": list(self.gaussdb_node_ids),
            "gaussdb_file_count": len(self.audit_files),
            "gaussdb_time_range": ["2023-07-24T00:00:00+0800", "2023-07-25T00:00:00+0800"],
            "gaussdb_instance_count": len(self.gaussdb_instances),
            "rds_instance_id": self.rds_instance_id,
            "rds_backup_id": self.rds_backup_id,
            "rds_backup_ids": [b["id"] for b in self.rds_backups if b["instance_id"] == self.rds_instance_id],
            "rds_instance_count": len(self.rds_instances),
            "dcs_instance_id": self.dcs_instance_id,
            "dcs_single_instance_id": self.dcs_single_instance_id,
            "dcs_backup_id": self.dcs_backup_id,
            "dcs_backup_ids": [r["backup_id"] for r in self.dcs_records[self.dcs_instance_id]],
            "dcs_log_id": self.dcs_log_id,
            "dcs_replication_ids": [r["replication_id"] for r in self.dcs_replications],
            "dcs_instance_count": len(self.dcs_instances),
            "pg_instance_id": self.pg_instance_id,
        }


def default_config(errorlog_creating):
    return {
        "clock_offset": 0.0,            # seconds added to the emulator's clock (APIs and store)
        "max_skew": 900,                # X-Sdk-Date window, seconds (cloud: 15 minutes)
        "errorlog_creating": int(errorlog_creating),  # CREATING answers before FINISH, per instance
        "errorlog_failed": False,       # answer FAILED instead of FINISH
        "errorlog_upper": False,        # FINISH/CREATING/SUCCESS instead of the documented lower case
        "redislog_ready_calls": 1,      # collected run logs appear after this many list calls ...
        "redislog_ready_delay": 2.0,    # ... or after this many seconds, whichever comes first
        "store_strict_query": True,     # store rejects a link whose query is not byte-exact as issued
        "link_ttl_gaussdb": 3600,       # default validity of issued links, seconds
        "link_ttl_rds": 3600,
        "link_ttl_redislog": 86400,
        "link_ttl_errorlog": 300,
        "audit_grow_on_list": 0,        # bytes the newest listed file of each node grows by after each
                                        # listing page (real full-SQL files grow while they are listed)
    }


class State:
    """Everything that changes at run time, guarded by one lock (requests are tiny)."""

    def __init__(self, seed, errorlog_creating):
        self.seed = seed
        self.lock = threading.RLock()
        self._errorlog_creating_default = errorlog_creating
        self.objects = dict(seed.objects)
        self.reset()

    def reset(self):
        with self.lock:
            self.config = default_config(self._errorlog_creating_default)
            self.errorlog_calls = {}        # instance id -> calls so far
            self.redislog_entries = []      # collected run logs (dicts)
            self.redislog_pending = []      # [entry, collected_at, list_calls_seen]
            self.audit_files = [dict(f) for f in self.seed.audit_files]   # they grow (control: audit)
            # the seed's objects as seeded (a grown one is restored); ad-hoc ones stay
            self.objects = {k: v for k, v in self.objects.items() if k[0] == BUCKET_ADHOC}
            self.objects.update(self.seed.objects)

    def now(self):
        return time.time() + float(self.config["clock_offset"])

    def set_config(self, changes):
        defaults = default_config(0)
        with self.lock:
            for k, v in changes.items():
                if k not in defaults:
                    raise ValueError(f"unknown config key {k!r}")
                want = type(defaults[k])
                if want is bool:
                    if not isinstance(v, bool):
                        raise ValueError(f"{k} must be a boolean")
                elif not isinstance(v, (int, float)) or isinstance(v, bool):
                    raise ValueError(f"{k} must be a number")
                self.config[k] = want(v) if want is not float else float(v)
            return dict(self.config)

    def add_object(self, bucket, key, size, mtime=None):
        obj = Obj(bucket, key, size, self.now() if mtime is None else mtime)
        with self.lock:
            self.objects[(bucket, key)] = obj
        return obj

    def get_object(self, bucket, key):
        with self.lock:
            return self.objects.get((bucket, key))
