"""Run-time switchable faults (POST/GET/DELETE /_emulator/faults).

A fault matches requests by target; the first `skip_first` matching requests pass
untouched, then the fault applies to the next `count` matching requests and is removed.
Kinds that describe a condition rather than an event (throttle, link_ttl) default to an
unlimited count; the others default to 1.
"""

import itertools
import threading

from identity import NAMES as IDENTITY_NAMES

API_NAMES = (
    "list_audit_log_download_link", "show_backup_download_link", "list_backup_file_links",
    "create_redislog", "list_redislog", "create_redislog_download_link", "download_errorlog",
    "list_backups", "list_backup_records", "list_group_replication_info", "show_gauss_my_sql_instance_info",
    "list_rds_instances", "list_dcs_instances", "list_gauss_my_sql_instances",
    "iam_tokens",
)
# The identity calls (metadata, pod identity, IAM lookups) are targets of their own; the
# "api" wildcard does not include them.
TARGETS = API_NAMES + IDENTITY_NAMES + ("api", "store")

# kind -> {param: (type, default)}
KINDS = {
    "status": {"status": (int, 503), "retry_after": (int, None)},
    "drop_after": {"bytes": (int, 0)},
    "throttle": {"rate": (int, 1048576)},
    "link_ttl": {"ttl": (int, 60)},
    "malformed_json": {},
    "lying_length": {"extra": (int, 1000)},
    "slow_first_byte": {"seconds": (float, 1.0)},
    # A store that ignores Range (answers 200 with the whole object), or
    # answers a range starting `by` bytes before the one asked: clients must
    # restart instead of appending.
    "ignore_range": {},
    "shift_range": {"by": (int, 1)},
}
STICKY = {"throttle", "link_ttl"}
API_ONLY = {"malformed_json", "link_ttl"}
STORE_ONLY = {"ignore_range", "shift_range"}


class FaultError(ValueError):
    pass


class Faults:
    def __init__(self):
        self._lock = threading.Lock()
        self._faults = []
        self._ids = itertools.count(1)

    def add(self, spec):
        if not isinstance(spec, dict):
            raise FaultError("body must be a JSON object")
        target, kind = spec.get("target"), spec.get("kind")
        if target not in TARGETS:
            raise FaultError(f"target must be one of {', '.join(TARGETS)}")
        if kind not in KINDS:
            raise FaultError(f"kind must be one of {', '.join(KINDS)}")
        if target == "store" and kind in API_ONLY:
            raise FaultError(f"kind {kind} does not apply to the store")
        if target != "store" and kind in STORE_ONLY:
            raise FaultError(f"kind {kind} applies to the store only")
        fault = {"id": next(self._ids), "target": target, "kind": kind}
        for name, (typ, default) in KINDS[kind].items():
            value = spec.get(name, default)
            if value is not None:
                if isinstance(value, bool) or not isinstance(value, (int, float)):
                    raise FaultError(f"{name} must be a number")
                value = typ(value)
            fault[name] = value
        if kind == "status" and not 400 <= fault["status"] <= 599:
            raise FaultError("status must be 400..599")
        if kind == "status" and fault["status"] == 429 and fault["retry_after"] is None:
            fault["retry_after"] = 1
        if kind == "throttle" and fault["rate"] <= 0:
            raise FaultError("rate must be > 0")
        count = spec.get("count", None if kind in STICKY else 1)
        if count is not None and (not isinstance(count, int) or isinstance(count, bool) or count < 1):
            raise FaultError("count must be a positive integer or null (unlimited)")
        skip = spec.get("skip_first", 0)
        if not isinstance(skip, int) or isinstance(skip, bool) or skip < 0:
            raise FaultError("skip_first must be an integer >= 0")
        fault["count"], fault["skip_first"] = count, skip
        with self._lock:
            self._faults.append(fault)
        return dict(fault)

    def clear(self):
        with self._lock:
            self._faults.clear()

    def list(self):
        with self._lock:
            return [dict(f) for f in self._faults]

    def take(self, api_name):
        """Consume the faults matching one request; returns {kind: fault}."""
        applied = {}
        with self._lock:
            for f in list(self._faults):
                t = f["target"]
                if not (t == api_name or (t == "api" and api_name in API_NAMES)):
                    continue
                if f["kind"] in applied:
                    continue        # one fault per kind per request; later ones wait
                if f["skip_first"] > 0:
                    f["skip_first"] -= 1
                    continue
                applied[f["kind"]] = dict(f)
                if f["count"] is not None:
                    f["count"] -= 1
                    if f["count"] <= 0:
                        self._faults.remove(f)
        return applied
