"""Every API's parameters, limits, shapes and errors."""

import re
import time
import unittest
from datetime import datetime, timedelta, timezone

from harness import EmulatorTestCase, sign

DAY0, DAY1 = "2023-07-24T00:00:00+0800", "2023-07-25T00:00:00+0800"
TIME_RE = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}[+-]\d{4}$"
ISO_UTC_MS = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$"
NOWHERE = "00000000-0000-4000-a000-000000000000"


def call_on(emu, service, method, path, query=()):
    """A signed call addressed to a service's own host name (<service>.localhost:PORT)."""
    host = "%s.localhost:%d" % (service, emu.port)
    path = path.replace("{project_id}", emu.pid_)
    q, hdrs = sign(method, host, path, [(k, str(v)) for k, v in query],
                   {"Content-Type": "application/json", "X-Project-Id": emu.pid_}, b"", emu.info["ak"],
                   emu.info["sk"])
    return emu.raw(method, path + ("?" + q if q else ""), hdrs)


class GaussDB(EmulatorTestCase):
    def list(self, instance=None, **q):
        iid = instance or self.emu.seed["gaussdb_instance_id"]
        q.setdefault("start_time", DAY0)
        q.setdefault("end_time", DAY1)
        return self.emu.call("GET", "/v3/{project_id}/instance/%s/auditlog/download-link" % iid,
                             [(k, str(v)) for k, v in q.items() if v is not None])

    def test_shape(self):
        r = self.list()
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.header("Content-Type"), "application/json")
        files = r.json()["files"]
        self.assertEqual(len(files), 10)       # default limit
        for f in files:
            self.assertEqual(set(f), {"name", "size", "updated_time", "download_link", "link_expired_time"})
            self.assertIsInstance(f["size"], int)
            self.assertRegex(f["updated_time"], TIME_RE)
            self.assertRegex(f["link_expired_time"], TIME_RE)
            self.assertIn(self.emu.seed["gaussdb_instance_id"], f["name"])
            self.assertRegex(f["name"], r"^\d{14}_[0-9a-f]{32}in07_[0-9a-f]{32}no07_SQLAudit_\d+$")
            self.assertIn("AWSAccessKeyId=", f["download_link"])
        names = [f["name"] for f in files]
        self.assertEqual(names, sorted(names))

    def test_pagination_all_files(self):
        seen, last, pages = [], None, 0
        while True:
            r = self.list(limit=50, last_file_name=last)
            self.assertEqual(r.status, 200, r)
            files = r.json()["files"]
            pages += 1
            seen += [f["name"] for f in files]
            if len(files) < 50:
                break
            last = files[-1]["name"]
        self.assertEqual(len(seen), self.emu.seed["gaussdb_file_count"])
        self.assertGreater(pages, 3)
        self.assertEqual(seen, sorted(seen))
        self.assertEqual(len(set(seen)), len(seen))

    def test_resume_strictly_after(self):
        first = self.list(limit=5).json()["files"]
        nxt = self.list(limit=5, last_file_name=first[2]["name"]).json()["files"]
        self.assertEqual([f["name"] for f in nxt[:2]], [f["name"] for f in first[3:5]])
        # a name that is not a file still resumes in lexicographic order
        nxt2 = self.list(limit=1, last_file_name=first[2]["name"] + "0").json()["files"]
        self.assertEqual(nxt2[0]["name"], first[3]["name"])
        # empty last_file_name = first page (what Terraform sends)
        self.assertEqual(self.list(limit=5, last_file_name="").json()["files"], first)

    def test_node_filter(self):
        n0, n1 = self.emu.seed["gaussdb_node_ids"]
        files = self.list(limit=50, node_id=n1).json()["files"]
        self.assertTrue(files)
        self.assertTrue(all(n1 in f["name"] and n0 not in f["name"] for f in files))

    def test_time_filter(self):
        files = self.list(start_time="2023-07-24T10:00:00+0800", end_time="2023-07-24T12:00:00+0800",
                          limit=50).json()["files"]
        self.assertTrue(0 < len(files) < 20)
        for f in files:
            t = datetime.strptime(f["updated_time"], "%Y-%m-%dT%H:%M:%S%z")
            self.assertTrue(datetime(2023, 7, 24, 10, tzinfo=timezone(timedelta(hours=8))) <= t
                            <= datetime(2023, 7, 24, 12, tzinfo=timezone(timedelta(hours=8))))
        # the same instant written in UTC selects the same files
        utc = self.list(start_time="2023-07-24T02:00:00+0000", end_time="2023-07-24T04:00:00+0000",
                        limit=50).json()["files"]
        self.assertEqual([f["name"] for f in utc], [f["name"] for f in files])
        self.assertEqual(self.list(start_time="2023-07-26T00:00:00+0800",
                                   end_time="2023-07-27T00:00:00+0800").json()["files"], [])

    def test_limits(self):
        for bad in ("0", "51", "-1", "abc", "", "10.0"):
            with self.subTest(limit=bad):
                self.assertApiError(self.list(limit=bad), 400, "DBS.280001")
        self.assertEqual(len(self.list(limit=1).json()["files"]), 1)
        self.assertEqual(len(self.list(limit=50).json()["files"]), 50)

    def test_time_errors(self):
        cases = [dict(start_time=None), dict(end_time=None), dict(start_time="2023-07-24 00:00:00+0800"),
                 dict(start_time="2023-07-24T00:00:00Z"), dict(start_time="2023-07-24T00:00:00+08:00"),
                 dict(start_time="2023-07-24T25:00:00+0800"), dict(end_time="1690156800"),
                 dict(start_time="2023-07-25T00:00:01+0800"),            # after end
                 dict(end_time=(datetime.now(timezone.utc) + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%S%z")),
                 dict(start_time="2020-01-01T00:00:00+0800")]            # before instance creation
        for c in cases:
            with self.subTest(**{k: str(v) for k, v in c.items()}):
                r = self.list(**c) if None not in c.values() else self._without(c)
                self.assertApiError(r, 400, "DBS.280001")

    def _without(self, c):
        q = {"start_time": DAY0, "end_time": DAY1}
        for k in c:
            q.pop(k)
        return self.emu.call("GET", "/v3/{project_id}/instance/%s/auditlog/download-link"
                             % self.emu.seed["gaussdb_instance_id"], list(q.items()))

    def test_ids(self):
        self.assertApiError(self.list(instance="abc"), 400, "DBS.280001")
        self.assertApiError(self.list(instance=self.emu.seed["gaussdb_instance_id"][:-4] + "in01"), 400, "DBS.280001")
        self.assertApiError(self.list(instance="0" * 32 + "in07"), 404, "DBS.200002")
        self.assertApiError(self.list(node_id="0" * 32), 400, "DBS.280001")
        self.assertApiError(self.list(node_id="0" * 32 + "no07"), 400, "DBS.280204")

    def test_link_expiry_matches(self):
        f = self.list(limit=1).json()["files"][0]
        exp = int(re.search(r"Expires=(\d+)", f["download_link"]).group(1))
        t = datetime.strptime(f["link_expired_time"], "%Y-%m-%dT%H:%M:%S%z").timestamp()
        self.assertEqual(exp, int(t))
        self.assertAlmostEqual(exp - time.time(), 3600, delta=5)


class Rds(EmulatorTestCase):
    def test_shape_and_errors(self):
        r = self.emu.call("GET", "/v3/{project_id}/backup-files", [("backup_id", self.emu.seed["rds_backup_id"])])
        self.assertEqual(r.status, 200, r)
        b = r.json()
        self.assertIsInstance(b["bucket"], str)
        self.assertEqual(len(b["files"]), 2)
        for f in b["files"]:
            self.assertEqual(set(f), {"name", "size", "download_link", "link_expired_time", "database_name"})
            self.assertIsInstance(f["size"], int)
        self.assertApiError(self.emu.call("GET", "/v3/{project_id}/backup-files"), 400, "DBS.280001")
        self.assertApiError(self.emu.call("GET", "/v3/{project_id}/backup-files", [("backup_id", "")]),
                            400, "DBS.280001")
        self.assertApiError(self.emu.call("GET", "/v3/{project_id}/backup-files", [("backup_id", "0" * 32 + "br01")]),
                            404, "DBS.201010")


class DcsBackup(EmulatorTestCase):
    def links(self, body, backup=None, instance=None):
        s = self.emu.seed
        return self.emu.call("POST", "/v2/{project_id}/instances/%s/backups/%s/links"
                             % (instance or s["dcs_instance_id"], backup or s["dcs_backup_id"]), body=body)

    def test_shape(self):
        r = self.links({"expiration": 1800})
        self.assertEqual(r.status, 200, r)
        b = r.json()
        self.assertEqual(set(b), {"file_path", "bucket_name", "links"})
        self.assertEqual(len(b["links"]), 3)
        for l in b["links"]:
            self.assertTrue(l["file_name"].endswith(".rdb"))
            exp = int(re.search(r"Expires=(\d+)", l["link"]).group(1))
            self.assertAlmostEqual(exp - time.time(), 1800, delta=5)
        self.assertEqual(self.links({"expiration": 300}).status, 200)
        self.assertEqual(self.links({"expiration": 86400}).status, 200)

    def test_errors(self):
        for body in ({"expiration": 299}, {"expiration": 86401}, {"expiration": "abc"}, {"expiration": "1800"},
                     {"expiration": 1800.5}, {"expiration": True}, {}, {"expire": 1800}, [1800]):
            with self.subTest(body=body):
                r = self.links(body)
                self.assertApiError(r, 400, "DCS.4800")
                self.assertIn("error_ext_msg", r.json())
        self.assertApiError(self.links(b""), 400, "DCS.4004")
        self.assertApiError(self.links(b"expiration=1800"), 400, "DCS.4005")
        self.assertApiError(self.links({"expiration": 1800}, backup="00000000-0000-4000-a000-000000000000"),
                            404, "DCS.4001")
        self.assertApiError(self.links({"expiration": 1800}, instance="00000000-0000-4000-a000-000000000000"),
                            404, "DCS.3022")
        self.assertApiError(self.links({"expiration": 1800}, instance="not-a-uuid"), 400, "DCS.4800")


class DcsRunLog(EmulatorTestCase):
    def path(self, suffix="", instance=None):
        return "/v2/{project_id}/instances/%s/redislog%s" % (instance or self.emu.seed["dcs_instance_id"], suffix)

    def lst(self, instance=None, **q):
        q.setdefault("log_type", "run")
        return self.emu.call("GET", self.path(instance=instance), [(k, str(v)) for k, v in q.items()])

    def collect(self, instance=None, **q):
        """Collects on the cluster for its first replica unless told otherwise (None: no replica)."""
        q.setdefault("log_type", "run")
        if instance is None:
            q.setdefault("replication_id", self.emu.seed["dcs_replication_ids"][0])
        return self.emu.call("POST", self.path(instance=instance),
                             [(k, str(v)) for k, v in q.items() if v is not None])

    def test_replication_id_mandatory_unless_single_node(self):
        r = self.collect(replication_id=None)
        self.assertApiError(r, 400, "DCS.4800")
        self.assertIn("mandatory", r.json()["error_msg"])
        single = self.emu.seed["dcs_single_instance_id"]
        self.assertEqual(self.collect(instance=single).status, 204)
        self.assertApiError(self.collect(instance=single, replication_id=self.emu.seed["dcs_replication_ids"][0]),
                            400, "DCS.4800")
        self.emu.control("POST", "config", {"redislog_ready_calls": 0})
        b = self.lst(instance=single).json()
        self.assertEqual(b["total_num"], 1)
        self.assertEqual(self.lst().status, 204)           # run logs are per instance

    def test_logs_per_replica(self):
        self.emu.control("POST", "config", {"redislog_ready_calls": 0})
        groups = self.emu.call("GET", "/v2/{project_id}/instance/%s/groups" % self.emu.seed["dcs_instance_id"])
        reps = [(g["group_name"], r) for g in groups.json()["group_list"] for r in g["replication_list"]]
        self.assertEqual(len(reps), 6)
        for group, rep in reps[:3]:
            self.assertEqual(self.collect(replication_id=rep["replication_id"], query_time=1).status, 204)
        files = self.lst(limit=100).json()["file_list"]
        self.assertEqual(len(files), 6)                    # 2 daily files for each of 3 replicas
        got = {(f["group_name"], f["replication_ip"]) for f in files}
        self.assertEqual(got, {(g, r["replication_ip"]) for g, r in reps[:3]})
        for f in files:
            self.assertTrue(f["file_name"].startswith("redis_%s_" % f["replication_ip"]), f)

    def test_flow(self):
        r = self.lst()
        self.assertEqual(r.status, 204)
        self.assertEqual(r.body, b"")
        self.assertIsNone(r.header("Content-Length"))
        r = self.collect(query_time=0)
        self.assertEqual(r.status, 204, r)
        self.assertEqual(self.lst().status, 204)          # not ready on the first list call
        r = self.lst()
        self.assertEqual(r.status, 200, r)
        b = r.json()
        self.assertEqual(b["total_num"], 1)
        e = b["file_list"][0]
        self.assertEqual(set(e), {"id", "file_name", "group_name", "replication_ip", "status", "time", "backup_id"})
        self.assertEqual(e["status"], "succeed")
        r = self.emu.call("POST", self.path("/%s/links" % e["id"]))
        self.assertEqual(r.status, 200, r)
        self.assertEqual(set(r.json()), {"id", "backup_id", "link"})
        self.assertEqual(r.json()["id"], e["id"])
        dl = self.emu.url(r.json()["link"])
        self.assertEqual(dl.status, 200)

    def test_ready_after_delay(self):
        self.emu.control("POST", "config", {"redislog_ready_calls": 100, "redislog_ready_delay": 0.3})
        self.collect(query_time=3)
        self.assertEqual(self.lst().status, 204)
        time.sleep(0.4)
        b = self.lst(limit=2).json()
        self.assertEqual(b["total_num"], 4)
        self.assertEqual(len(b["file_list"]), 2)
        self.assertEqual(len(self.lst(offset=2, limit=10).json()["file_list"]), 2)

    def test_seed_log_link(self):
        r = self.emu.call("POST", self.path("/%s/links" % self.emu.seed["dcs_log_id"]))
        self.assertEqual(r.status, 200, r)
        exp = int(re.search(r"Expires=(\d+)", r.json()["link"]).group(1))
        self.assertAlmostEqual(exp - time.time(), 86400, delta=5)
        self.assertApiError(self.emu.call("POST", self.path("/00000000-0000-4000-a000-000000000000/links")),
                            404, "DCS.4001")

    def test_errors(self):
        r = self.lst(log_type="slow")
        self.assertApiError(r, 400, "DCS.4800")
        self.assertEqual(r.json()["error_msg"], "Invalid logType.")
        self.assertApiError(self.emu.call("GET", self.path()), 400, "DCS.4800")
        self.assertApiError(self.collect(log_type="slow"), 400, "DCS.4800")
        for qt in ("2", "-1", "x"):
            self.assertApiError(self.collect(query_time=qt), 400, "DCS.4800")
        self.assertApiError(self.collect(replication_id="00000000-0000-4000-a000-000000000000"), 400, "DCS.4800")
        self.assertApiError(self.collect(instance="00000000-0000-4000-a000-000000000000"), 404, "DCS.3022")
        for lim in ("0", "1001", "x"):
            self.assertApiError(self.lst(limit=lim), 400, "DCS.4800")
        self.assertApiError(self.lst(offset="-1"), 400, "DCS.4800")
        for qt in ("0", "1", "3", "7"):
            self.assertEqual(self.collect(query_time=qt).status, 204)


class PgErrorLog(EmulatorTestCase):
    def call(self, instance=None):
        return self.emu.call("POST", "/v3/{project_id}/instances/%s/errorlog-download"
                             % (instance or self.emu.seed["pg_instance_id"]))

    def test_creating_then_finish(self):
        for _ in range(2):
            r = self.call()
            self.assertEqual(r.status, 200, r)
            self.assertEqual(r.json(), {"list": [], "status": "creating", "count": 0})
        b = self.call().json()
        self.assertEqual(b["status"], "finish")
        self.assertEqual(b["count"], len(b["list"]))
        for i in b["list"]:
            self.assertEqual(set(i), {"workflow_id", "file_name", "status", "file_size", "file_link",
                                      "create_at", "update_at"})
            self.assertEqual(i["status"], "success")
            self.assertIsInstance(i["file_size"], str)
            self.assertIsInstance(i["create_at"], int)
            self.assertIn("response-cache-control=no-cache%2Cno-store", i["file_link"])
            dl = self.emu.url(i["file_link"])
            self.assertEqual(dl.status, 200)
            self.assertEqual(len(dl.body), int(i["file_size"]))
            self.assertEqual(dl.header("Cache-Control"), "no-cache,no-store")

    def test_failed_and_upper(self):
        self.emu.control("POST", "config", {"errorlog_creating": 1, "errorlog_upper": True})
        self.assertEqual(self.call().json()["status"], "CREATING")
        b = self.call().json()
        self.assertEqual(b["status"], "FINISH")
        self.assertEqual(b["list"][0]["status"], "SUCCESS")
        self.emu.control("POST", "reset")
        self.emu.control("POST", "config", {"errorlog_creating": 0, "errorlog_failed": True})
        self.assertEqual(self.call().json(), {"list": [], "status": "failed", "count": 0})

    def test_errors(self):
        self.assertApiError(self.call("abc"), 400, "DBS.280001")
        self.assertApiError(self.call("0" * 32 + "in03"), 404, "DBS.200002")


class RdsBackups(EmulatorTestCase):
    def lst(self, **q):
        q.setdefault("instance_id", self.emu.seed["rds_instance_id"])
        return self.emu.call("GET", "/v3/{project_id}/backups", [(k, str(v)) for k, v in q.items() if v is not None])

    def test_shape_and_order(self):
        r = self.lst()
        self.assertEqual(r.status, 200, r)
        b = r.json()
        self.assertEqual(b["total_count"], len(b["backups"]))
        self.assertEqual([x["id"] for x in b["backups"]], self.emu.seed["rds_backup_ids"])
        self.assertGreaterEqual(len(b["backups"]), 6)
        for x in b["backups"]:
            self.assertTrue({"id", "instance_id", "name", "type", "status", "begin_time", "size",
                             "datastore"} <= set(x), x)
            self.assertRegex(x["begin_time"], TIME_RE)
            self.assertIn(x["status"], ("COMPLETED", "BUILDING", "FAILED"))
            self.assertIn(x["type"], ("auto", "manual", "incremental"))
            self.assertIsInstance(x["size"], int)
        begins = [x["begin_time"] for x in b["backups"]]
        self.assertEqual(begins, sorted(begins, reverse=True))               # newest first
        self.assertEqual({x["status"] for x in b["backups"]}, {"COMPLETED", "BUILDING", "FAILED"})
        building = [x for x in b["backups"] if x["status"] == "BUILDING"]
        self.assertNotIn("end_time", building[0])                             # not finished yet

    def test_filters_and_pages(self):
        auto = self.lst(backup_type="auto").json()["backups"]
        self.assertTrue(auto and all(x["type"] == "auto" for x in auto))
        one = self.lst(backup_id=self.emu.seed["rds_backup_id"]).json()
        self.assertEqual((one["total_count"], one["backups"][0]["id"]), (1, self.emu.seed["rds_backup_id"]))
        day = self.lst(begin_time="2023-07-24T00:00:00+0800", end_time="2023-07-25T00:00:00+0800").json()
        self.assertTrue(day["backups"] and all(x["begin_time"].startswith("2023-07-24") for x in day["backups"]))
        every = self.lst().json()["backups"]
        paged, offset = [], 0
        while True:
            page = self.lst(offset=offset, limit=2).json()
            self.assertEqual(page["total_count"], len(every))
            paged += page["backups"]
            offset += 2
            if len(page["backups"]) < 2:
                break
        self.assertEqual(paged, every)
        self.assertEqual(self.lst(offset=1000).json()["backups"], [])
        pg = self.lst(instance_id=self.emu.seed["pg_instance_id"]).json()
        self.assertEqual(pg["total_count"], 1)
        other = self.emu.call("GET", "/v3/{project_id}/instances")    # ambiguous without a host: see Routing
        self.assertEqual(other.status, 404)

    def test_errors(self):
        self.assertApiError(self.emu.call("GET", "/v3/{project_id}/backups"), 400, "DBS.280001")
        self.assertApiError(self.lst(instance_id="abc"), 400, "DBS.280001")
        self.assertApiError(self.lst(instance_id="0" * 32 + "in01"), 404, "DBS.200002")
        for q in (dict(backup_type="full"), dict(limit=0), dict(limit=101), dict(offset=-1), dict(limit="x"),
                  dict(begin_time="2023-07-24T00:00:00+0800"), dict(end_time="2023-07-24T00:00:00+0800"),
                  dict(begin_time="2023-07-25T00:00:00+0800", end_time="2023-07-24T00:00:00+0800"),
                  dict(begin_time="20230724000000", end_time="20230725000000")):
            with self.subTest(**{k: str(v) for k, v in q.items()}):
                self.assertApiError(self.lst(**q), 400, "DBS.280001")

    def test_every_completed_backup_has_files(self):
        for x in self.lst().json()["backups"]:
            r = self.emu.call("GET", "/v3/{project_id}/backup-files", [("backup_id", x["id"])])
            if x["status"] != "COMPLETED":
                self.assertApiError(r, 400, "DBS.201203")
                continue
            self.assertEqual(r.status, 200, r)
            files = r.json()["files"]
            self.assertTrue(files)
            self.assertEqual(x["size"], -(-sum(len(self.emu.url(f["download_link"]).body) for f in files) // 1024))


class DcsBackupRecords(EmulatorTestCase):
    def lst(self, instance=None, **q):
        return self.emu.call("GET", "/v2/{project_id}/instances/%s/backups" % (instance or self.emu.seed["dcs_instance_id"]),
                             [(k, str(v)) for k, v in q.items()])

    def test_shape(self):
        r = self.lst()
        self.assertEqual(r.status, 200, r)
        b = r.json()
        self.assertEqual(b["total_num"], 5)
        recs = b["backup_record_response"]
        self.assertEqual(len(recs), 5)
        self.assertEqual([x["backup_id"] for x in recs], self.emu.seed["dcs_backup_ids"])
        for x in recs:
            for k in ("backup_id", "backup_name", "instance_id", "size", "backup_type", "created_at", "updated_at",
                      "status", "progress", "is_support_restore", "backup_format"):
                self.assertIn(k, x)
            self.assertRegex(x["created_at"], ISO_UTC_MS)
            self.assertRegex(x["updated_at"], ISO_UTC_MS)
            self.assertIn(x["backup_type"], ("manual", "auto"))
        self.assertEqual({x["status"] for x in recs}, {"succeed", "failed", "backuping", "expired"})
        created = [x["created_at"] for x in recs]
        self.assertEqual(created, sorted(created, reverse=True))
        main = next(x for x in recs if x["backup_id"] == self.emu.seed["dcs_backup_id"])
        links = self.emu.call("POST", "/v2/{project_id}/instances/%s/backups/%s/links"
                              % (self.emu.seed["dcs_instance_id"], main["backup_id"]), body={"expiration": 600})
        self.assertEqual(main["size"], sum(len(self.emu.url(l["link"]).body) for l in links.json()["links"]))

    def test_times_are_utc14_and_pages(self):
        day = self.lst(begin_time="20230724000000", end_time="20230724235959").json()["backup_record_response"]
        self.assertEqual(len(day), 3)
        self.assertTrue(all(x["created_at"].startswith("2023-07-24") for x in day))
        for bad in ("2023-07-24T00:00:00+0800", "20231324000000", "2023072400000", "x"):
            with self.subTest(begin_time=bad):
                self.assertApiError(self.lst(begin_time=bad), 400, "DCS.4800")
        self.assertApiError(self.lst(begin_time="20230725000000", end_time="20230724000000"), 400, "DCS.4800")
        page = self.lst(offset=3, limit=10).json()
        self.assertEqual((page["total_num"], len(page["backup_record_response"])), (5, 2))
        for q in (dict(limit=0), dict(limit=1001), dict(offset=-1)):
            with self.subTest(**q):
                self.assertApiError(self.lst(**q), 400, "DCS.4800")

    def test_no_records_and_unknown(self):
        r = self.lst(instance=self.emu.seed["dcs_single_instance_id"])
        self.assertEqual((r.status, r.body), (204, b""))
        self.assertApiError(self.lst(instance=NOWHERE), 404, "DCS.3022")
        self.assertApiError(self.lst(instance="nope"), 400, "DCS.4800")

    def test_links_only_for_succeeded_backups(self):
        for x in self.lst().json()["backup_record_response"]:
            r = self.emu.call("POST", "/v2/{project_id}/instances/%s/backups/%s/links"
                              % (self.emu.seed["dcs_instance_id"], x["backup_id"]), body={"expiration": 600})
            if x["status"] == "succeed":
                self.assertEqual(r.status, 200, r)
                self.assertEqual(len(r.json()["links"]), 3)
            else:
                self.assertApiError(r, 400, "DCS.4800")


class DcsGroups(EmulatorTestCase):
    def groups(self, instance):
        return self.emu.call("GET", "/v2/{project_id}/instance/%s/groups" % instance)

    def test_cluster_shards_and_replicas(self):
        r = self.groups(self.emu.seed["dcs_instance_id"])
        self.assertEqual(r.status, 200, r)
        b = r.json()
        self.assertEqual(b["group_count"], 3)
        ids = []
        for g in b["group_list"]:
            self.assertEqual(set(g), {"group_id", "group_name", "replication_list"})
            self.assertEqual([x["replication_role"] for x in g["replication_list"]], ["master", "slave"])
            for rep in g["replication_list"]:
                self.assertTrue({"replication_id", "replication_ip", "replication_role", "node_id", "status",
                                 "az_code", "is_replication"} <= set(rep))
                ids.append(rep["replication_id"])
        self.assertEqual(sorted(ids), sorted(self.emu.seed["dcs_replication_ids"]))
        # the plural path is a different API (backup links need POST): not this one
        self.assertEqual(self.emu.call("GET", "/v2/{project_id}/instances/%s/groups"
                                       % self.emu.seed["dcs_instance_id"]).status, 404)

    def test_single_node_and_errors(self):
        r = self.groups(self.emu.seed["dcs_single_instance_id"])
        self.assertApiError(r, 400, "DCS.4800")
        self.assertIn("single-node", r.json()["error_msg"])
        self.assertApiError(self.groups(NOWHERE), 404, "DCS.3022")
        self.assertApiError(self.groups("x"), 400, "DCS.4800")


class TaurusInstance(EmulatorTestCase):
    def test_nodes(self):
        s = self.emu.seed
        r = self.emu.call("GET", "/v3/{project_id}/instances/%s" % s["gaussdb_instance_id"])
        self.assertEqual(r.status, 200, r)
        inst = r.json()["instance"]
        self.assertEqual(inst["id"], s["gaussdb_instance_id"])
        self.assertEqual([n["id"] for n in inst["nodes"]], s["gaussdb_node_ids"])
        self.assertEqual([n["type"] for n in inst["nodes"]], ["master", "slave"])
        self.assertEqual(inst["datastore"]["type"], "gaussdb-mysql")
        self.assertApiError(self.emu.call("GET", "/v3/{project_id}/instances/%s" % ("0" * 32 + "in07")),
                            404, "DBS.200002")
        self.assertApiError(self.emu.call("GET", "/v3/{project_id}/instances/abc"), 400, "DBS.280001")
        # other TaurusDB instances exist (listed) and have no full-SQL files
        other = call_on(self.emu, "gaussdb", "GET", "/v3/{project_id}/instances").json()["instances"][1]["id"]
        files = self.emu.call("GET", "/v3/{project_id}/instance/%s/auditlog/download-link" % other,
                              [("start_time", DAY0), ("end_time", DAY1)])
        self.assertEqual(files.json(), {"files": []})


class Routing(EmulatorTestCase):
    def test_a_shared_path_needs_the_service_host(self):
        r = self.emu.call("GET", "/v3/{project_id}/instances")
        self.assertApiError(r, 404, "APIGW.0101")
        self.assertIn("rds.localhost", r.json()["error_msg"])
        rds = call_on(self.emu, "rds", "GET", "/v3/{project_id}/instances").json()
        taurus = call_on(self.emu, "gaussdb", "GET", "/v3/{project_id}/instances").json()
        self.assertEqual(rds["total_count"], self.emu.seed["rds_instance_count"])
        self.assertEqual(taurus["total_count"], self.emu.seed["gaussdb_instance_count"])
        self.assertTrue(all(i["id"].endswith(("in01", "in03", "in04")) for i in rds["instances"]))
        self.assertTrue(all(i["id"].endswith("in07") for i in taurus["instances"]))

    def test_a_service_host_serves_only_its_service(self):
        s = self.emu.seed
        r = call_on(self.emu, "dcs", "GET", "/v3/{project_id}/backups", [("instance_id", s["rds_instance_id"])])
        self.assertApiError(r, 404, "APIGW.0101")
        r = call_on(self.emu, "rds", "GET", "/v3/{project_id}/backups", [("instance_id", s["rds_instance_id"])])
        self.assertEqual(r.status, 200, r)
        self.assertEqual(self.emu.info["endpoints"]["rds"], "http://rds.localhost:%d" % self.emu.port)


class InstanceLists(EmulatorTestCase):
    def rds(self, **q):
        return call_on(self.emu, "rds", "GET", "/v3/{project_id}/instances", q.items())

    def taurus(self, **q):
        return call_on(self.emu, "gaussdb", "GET", "/v3/{project_id}/instances", q.items())

    def dcs(self, **q):
        return self.emu.call("GET", "/v2/{project_id}/instances", [(k, str(v)) for k, v in q.items()])

    def pages(self, get, limit, key, total):
        seen, offset = [], 0
        while True:
            b = get(offset=offset, limit=limit).json()
            seen += b["instances"]
            offset += limit
            if len(b["instances"]) < limit:
                return seen, b[total]

    def test_pages(self):
        for get, key, total, count, limit in (
                (self.rds, "id", "total_count", "rds_instance_count", 5),
                (self.taurus, "id", "total_count", "gaussdb_instance_count", 5),
                (self.dcs, "instance_id", "instance_num", "dcs_instance_count", 10)):
            with self.subTest(total=total, count=count):
                seen, n = self.pages(get, limit, key, total)
                self.assertEqual(n, self.emu.seed[count])
                self.assertEqual(len({i[key] for i in seen}), n)
                self.assertGreater(n, limit)                  # more than one page
        self.assertEqual(len(self.dcs().json()["instances"]), 10)       # DCS default page: 10
        self.assertEqual(len(self.rds().json()["instances"]), self.emu.seed["rds_instance_count"])  # RDS: 100

    def test_filters(self):
        s = self.emu.seed
        self.assertEqual([i["id"] for i in self.rds(name="rds-main").json()["instances"]], [s["rds_instance_id"]])
        fuzzy = self.rds(name="*rds-0").json()["instances"]
        self.assertTrue(len(fuzzy) > 1 and all("rds-0" in i["name"] for i in fuzzy))
        pg = self.rds(datastore_type="PostgreSQL").json()["instances"]
        self.assertIn(s["pg_instance_id"], [i["id"] for i in pg])
        self.assertTrue(all(i["datastore"]["type"] == "PostgreSQL" for i in pg))
        self.assertEqual(self.rds(id=s["rds_instance_id"]).json()["total_count"], 1)
        self.assertEqual(self.taurus(name="taurus-main").json()["instances"][0]["id"], s["gaussdb_instance_id"])
        cluster = self.dcs(name="redis-cluster", name_equal="true").json()
        self.assertEqual([i["instance_id"] for i in cluster["instances"]], [s["dcs_instance_id"]])
        self.assertGreater(self.dcs(name="redis").json()["instance_num"], 2)        # fuzzy by default
        self.assertEqual(self.dcs(instance_id=s["dcs_single_instance_id"]).json()["instances"][0]["cache_mode"],
                         "single")

    def test_errors(self):
        for bad in (dict(limit=0), dict(limit=101), dict(offset=-1), dict(type="Cluster"),
                    dict(datastore_type="mysql"), dict(name="*"), dict(vpc_id="vpc-1")):
            with self.subTest(**bad):
                self.assertApiError(self.rds(**bad), 400, "DBS.280001")
        self.assertApiError(self.taurus(type="Ha"), 400, "DBS.280001")
        for bad in (dict(limit=0), dict(limit=1001), dict(instance_id="x")):
            with self.subTest(**bad):
                self.assertApiError(self.dcs(**bad), 400, "DCS.4800")


class GrowingFullSql(EmulatorTestCase):
    def listing(self, **q):
        q.setdefault("start_time", DAY0)
        q.setdefault("end_time", DAY1)
        q.setdefault("limit", 50)
        out, last = [], None
        while True:
            page = self.emu.call("GET", "/v3/{project_id}/instance/%s/auditlog/download-link"
                                 % self.emu.seed["gaussdb_instance_id"],
                                 [(k, str(v)) for k, v in dict(q, last_file_name=last).items() if v is not None])
            files = page.json()["files"]
            out += files
            if len(files) < 50:
                return out
            last = files[-1]["name"]

    def test_grow_keeps_bytes_a_prefix(self):
        before = {f["name"]: f for f in self.listing()}
        latest = max(before.values(), key=lambda f: (f["updated_time"], f["name"]))
        old_bytes = self.emu.url(latest["download_link"]).body
        r = self.emu.control("POST", "audit", {"grow": "latest", "by": 5000, "seconds": 30})
        self.assertEqual(r["files"][0]["name"], latest["name"])
        after = {f["name"]: f for f in self.listing()}
        grown = after[latest["name"]]
        self.assertGreater(grown["updated_time"], latest["updated_time"])
        self.assertGreater(grown["size"], latest["size"])
        new_bytes = self.emu.url(grown["download_link"]).body
        self.assertEqual(len(new_bytes), len(old_bytes) + 5000)
        self.assertEqual(new_bytes[:len(old_bytes)], old_bytes)          # it grew: the start is unchanged
        self.assertEqual(len(self.emu.url(latest["download_link"]).body), len(new_bytes))  # old link: new size
        # a named file, and the reset
        name = sorted(before)[3]
        sizes = {f["name"]: f["size"] for f in self.emu.control("GET", "audit")["files"]}
        r = self.emu.control("POST", "audit", {"grow": name, "by": 1})
        self.assertEqual((r["files"][0]["name"], r["files"][0]["size"]), (name, sizes[name] + 1))
        self.assertEqual({f["name"]: f["size"] for f in self.emu.control("GET", "audit")["files"]},
                         dict(sizes, **{name: sizes[name] + 1}))
        self.emu.control("POST", "reset")
        self.assertEqual({f["name"]: f["size"] for f in self.listing()}, {n: f["size"] for n, f in before.items()})

    def test_add_appends_after_the_last_name(self):
        before = self.listing()
        r = self.emu.control("POST", "audit", {"add": 3, "node": 1})
        self.assertEqual(len(r["files"]), 3)
        after = self.listing()
        self.assertEqual(len(after), len(before) + 3)
        self.assertEqual(after[:len(before)], [dict(f, download_link=a["download_link"],
                                                    link_expired_time=a["link_expired_time"])
                                               for f, a in zip(before, after)])
        new = after[len(before):]
        self.assertEqual([f["name"] for f in new], [f["name"] for f in r["files"]])
        self.assertTrue(all(f["name"] > before[-1]["name"] for f in new))
        self.assertTrue(all(self.emu.seed["gaussdb_node_ids"][1] in f["name"] for f in new))
        newest = max(f["updated_time"] for f in before)
        self.assertTrue(all(f["updated_time"] > newest for f in new))
        for f in new:
            self.assertEqual(-(-len(self.emu.url(f["download_link"]).body) // 1024), f["size"])
        self.assertEqual(self.emu.control("GET", "audit")["files"][-1]["name"], new[-1]["name"])

    def test_reset_restores_a_grown_object(self):
        before = {f["name"]: f for f in self.listing()}
        grown = self.emu.control("POST", "audit", {"grow": "latest", "by": 777})["files"][0]
        self.emu.control("POST", "reset")
        after = {f["name"]: f for f in self.listing()}
        body = self.emu.url(after[grown["name"]]["download_link"]).body
        self.assertEqual(-(-len(body) // 1024), before[grown["name"]]["size"])
        self.assertEqual(len(body), grown["size"] - 777)

    def test_young_instance_and_growth_while_listed(self):
        r = self.emu.control("POST", "audit", {"replace": 5, "spread": 600, "nodes": 1, "seed": 7})
        self.assertEqual(len(r["files"]), 5)
        now = time.time()
        fmt = lambda t: datetime.fromtimestamp(t, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S+0000")  # noqa: E731
        q = dict(start_time=fmt(now - 3600), end_time=fmt(now - 60))
        files = self.listing(**q)
        self.assertEqual(sorted(f["name"] for f in files), sorted(f["name"] for f in r["files"]))
        self.emu.control("POST", "config", {"audit_grow_on_list": 3000})
        listed = self.listing(**q)
        newest = max(listed, key=lambda f: (f["updated_time"], f["name"]))
        body = self.emu.url(newest["download_link"]).body
        self.assertGreater(len(body), newest["size"] * 1024)    # grew after it was listed
        self.assertEqual(self.emu.control("POST", "audit", {"replace": 0})["files"], [])
        self.assertEqual(self.listing(**q), [])

    def test_bad_requests(self):
        for body in ({}, {"grow": "nope"}, {"grow": "latest", "by": 0}, {"add": 0}, {"add": 1, "node": 5},
                     {"add": 1, "what": 1}, {"grow": "latest", "seconds": -1}, [1]):
            with self.subTest(body=body):
                r = self.emu.raw("POST", "/_emulator/audit", {"Content-Type": "application/json"},
                                 __import__("json").dumps(body).encode())
                self.assertEqual(r.status, 400, r)


class TlsServiceNames(EmulatorTestCase):
    emulator_args = ("--tls",)

    def test_service_names_are_in_the_certificate(self):
        import socket
        import ssl
        ctx = ssl.create_default_context(cafile=self.emu.info["cafile"])
        for svc in ("gaussdb", "rds", "dcs", "iam"):
            with socket.create_connection(("127.0.0.1", self.emu.port), timeout=10) as raw:
                with ctx.wrap_socket(raw, server_hostname=svc + ".localhost") as tls:
                    self.assertTrue(tls.version())
        r = call_on(self.emu, "rds", "GET", "/v3/{project_id}/instances")
        self.assertEqual(r.status, 200, r)


class Control(EmulatorTestCase):
    def test_config_validation(self):
        r = self.emu.raw("POST", "/_emulator/config", {}, b'{"nope": 1}')
        self.assertEqual(r.status, 400)
        r = self.emu.raw("POST", "/_emulator/config", {}, b'{"errorlog_failed": 1}')
        self.assertEqual(r.status, 400)
        self.assertEqual(self.emu.control("GET", "info")["project_id"], self.emu.pid_)

    def test_request_log(self):
        self.emu.call("GET", "/v3/{project_id}/backup-files", [("backup_id", self.emu.seed["rds_backup_id"])])
        log = self.emu.control("GET", "requests")
        self.assertEqual(len(log), 1)
        e = log[0]
        self.assertEqual((e["method"], e["api"], e["status"]), ("GET", "show_backup_download_link", 200))
        self.assertIsInstance(e["time"], float)
        self.assertGreater(e["bytes_sent"], 0)
        self.emu.control("DELETE", "requests")
        self.assertEqual(self.emu.control("GET", "requests"), [])


if __name__ == "__main__":
    unittest.main()
