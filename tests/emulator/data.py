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


class Seed:
    """Fixed resources the APIs know about."""

    def __init__(self, project_id):
        self.project_id = project_id
        # TaurusDB (GaussDB for MySQL): 2 nodes, ~170 full-SQL files on 2023-07-24 (+0800).
        self.gaussdb_instance_id = _hex("gaussdb-instance") + "in07"
        self.gaussdb_node_ids = [_hex("gaussdb-node-0") + "no07", _hex("gaussdb-node-1") + "no07"]
        self.gaussdb_created = datetime(2023, 1, 1, tzinfo=TZ8)
        # RDS (MySQL) full backup.
        self.rds_instance_id = _hex("rds-instance") + "in01"
        self.rds_backup_id = _hex("rds-backup") + "br01"
        # DCS Redis cluster: 3 shards.
        self.dcs_instance_id = _uuid("dcs-instance")
        self.dcs_backup_id = _uuid("dcs-backup")
        self.dcs_log_id = _uuid("dcs-log")
        self.dcs_replications = [
            {"replication_id": _uuid(f"dcs-replication-{i}"), "replication_ip": f"192.168.0.{11 + i}",
             "group_name": f"group-{i}"} for i in range(3)]
        # RDS for PostgreSQL instance for error logs.
        self.pg_instance_id = _hex("pg-instance") + "in03"

        self.audit_files = []   # dicts: name, node_id, size, updated (datetime), key
        self.rds_files = []     # dicts: name, size, database_name, key
        self.dcs_backup_files = []
        self.dcs_seed_log = None
        self.objects = {}       # (bucket, key) -> Obj
        self._build()

    def _add(self, bucket, key, size, mtime):
        obj = Obj(bucket, key, size, mtime)
        self.objects[(bucket, key)] = obj
        return obj

    def _build(self):
        inst = self.gaussdb_instance_id
        day = datetime(2023, 7, 24, 0, 5, tzinfo=TZ8)
        for n, node in enumerate(self.gaussdb_node_ids):
            for i in range(85):
                start = day + timedelta(seconds=i * 1000 + n * 437 + _num(f"jit{n}.{i}") % 60)
                updated = start + timedelta(seconds=900)
                # Name: UTC start time, instance, node, counter - lexicographic order = time order.
                name = f"{start.astimezone(UTC):%Y%m%d%H%M%S}_{inst}_{node}_SQLAudit_{i + 1}"
                h = _num("size" + name)
                size = 1024 * (8 + h % 200) - (h >> 20) % 1024
                key = f"{self.project_id}_{inst}/{start:%Y%m%d}/SQLAudit/{name}"
                self.audit_files.append({"name": name, "node_id": node, "size": size,
                                         "updated": updated, "key": key})
                self._add(BUCKET_GAUSSDB, key, size, updated.timestamp())
        self.audit_files.sort(key=lambda f: f["name"])

        rds_time = datetime(2023, 7, 24, 10, 30, tzinfo=TZ8)
        for name, size, db in ((f"{self.rds_instance_id}_20230724023000_full.qp", 5 * 1048576 + 4321, ""),
                               (f"{self.rds_instance_id}_20230724023000_db_orders.qp", 700001, "db_orders")):
            key = f"{self.rds_instance_id}/{self.rds_backup_id}/{name}"
            self.rds_files.append({"name": name, "size": size, "database_name": db, "key": key})
            self._add(BUCKET_RDS, key, size, rds_time.timestamp())

        path = f"{self.dcs_instance_id}/{self.dcs_backup_id}"
        slots = ("0-5460", "5461-10922", "10923-16383")
        for r, slot in zip(self.dcs_replications, slots):
            name = f"redis_{r['replication_ip']}_6379_{slot}_20230724211816.rdb"
            size = 1048576 + _num(name) % 2097152
            self.dcs_backup_files.append({"file_name": name, "key": f"{path}/{name}", "size": size})
            self._add(BUCKET_DCS_BACKUP, f"{path}/{name}", size, rds_time.timestamp())

        r0 = self.dcs_replications[0]
        name = f"redis_{r0['replication_ip']}_2023-07-24.log"
        key = f"{self.dcs_instance_id}/redislog/{name}"
        self.dcs_seed_log = {"id": self.dcs_log_id, "file_name": name, "group_name": r0["group_name"],
                             "replication_ip": r0["replication_ip"], "status": "succeed",
                             "time": "2023-07-24", "backup_id": _uuid("dcs-log-task"), "key": key}
        self._add(BUCKET_DCS_LOG, key, 65536 + 123, rds_time.timestamp())

    def seed_json(self):
        return {
            "gaussdb_instance_id": self.gaussdb_instance_id,
            "gaussdb_node_id": self.gaussdb_node_ids[0],
            "gaussdb_node_ids": list(self.gaussdb_node_ids),
            "gaussdb_file_count": len(self.audit_files),
            "gaussdb_time_range": ["2023-07-24T00:00:00+0800", "2023-07-25T00:00:00+0800"],
            "rds_backup_id": self.rds_backup_id,
            "dcs_instance_id": self.dcs_instance_id,
            "dcs_backup_id": self.dcs_backup_id,
            "dcs_log_id": self.dcs_log_id,
            "dcs_replication_ids": [r["replication_id"] for r in self.dcs_replications],
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
            self.objects = {k: v for k, v in self.objects.items()
                            if k in self.seed.objects or k[0] == BUCKET_ADHOC}

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
