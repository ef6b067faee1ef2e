"""Every API's parameters, limits, shapes and errors."""

import re
import time
import unittest
from datetime import datetime, timedelta, timezone

from harness import EmulatorTestCase

DAY0, DAY1 = "2023-07-24T00:00:00+0800", "2023-07-25T00:00:00+0800"
TIME_RE = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}[+-]\d{4}$"


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
    def path(self, suffix=""):
        return "/v2/{project_id}/instances/%s/redislog%s" % (self.emu.seed["dcs_instance_id"], suffix)

    def lst(self, **q):
        q.setdefault("log_type", "run")
        return self.emu.call("GET", self.path(), [(k, str(v)) for k, v in q.items()])

    def collect(self, **q):
        q.setdefault("log_type", "run")
        return self.emu.call("POST", self.path(), [(k, str(v)) for k, v in q.items()])

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
