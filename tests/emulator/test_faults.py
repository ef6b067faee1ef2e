"""Every fault kind, observed from the client side and in the request log."""

import http.client
import json
import re
import time
import unittest
import urllib.parse

import content
from harness import EmulatorTestCase


class Faults(EmulatorTestCase):
    def rds(self):
        return self.emu.call("GET", "/v3/{project_id}/backup-files", [("backup_id", self.emu.seed["rds_backup_id"])])

    def fault(self, **spec):
        return self.emu.control("POST", "faults", spec)

    def partial_get(self, url, headers=None):
        """GET that tolerates a short body: returns (status, headers, body, complete)."""
        u = urllib.parse.urlsplit(url)
        c = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
        c.request("GET", u.path + "?" + u.query, headers=headers or {})
        r = c.getresponse()
        try:
            body, complete = r.read(), True
        except http.client.IncompleteRead as e:
            body, complete = e.partial, False
        c.close()
        return r.status, dict(r.getheaders()), body, complete

    def test_status_429_retry_after(self):
        f = self.fault(target="show_backup_download_link", kind="status", status=429, retry_after=3, count=2)
        self.assertEqual(f["count"], 2)
        self.assertEqual(len(self.emu.control("GET", "faults")), 1)
        for _ in range(2):
            r = self.rds()
            self.assertApiError(r, 429, "APIGW.0308")
            self.assertEqual(r.header("Retry-After"), "3")
            self.assertIn("request_id", r.json())
        self.assertEqual(self.rds().status, 200)
        self.assertEqual(self.emu.control("GET", "faults"), [])
        log = self.emu.control("GET", "requests")
        self.assertEqual([e["status"] for e in log], [429, 429, 200])
        self.assertEqual(log[0]["faults"], ["status"])

    def test_status_5xx(self):
        for st in (500, 502, 503, 504):
            with self.subTest(st):
                self.fault(target="api", kind="status", status=st)
                r = self.rds()
                self.assertEqual(r.status, st)
                self.assertTrue(r.json()["error_code"].startswith("APIGW."))
                self.assertEqual(self.rds().status, 200)

    def test_skip_first_503_on_page_3(self):
        self.fault(target="list_audit_log_download_link", kind="status", status=503, skip_first=2)
        iid = self.emu.seed["gaussdb_instance_id"]
        last, statuses = None, []
        for _ in range(4):
            q = [("start_time", "2023-07-24T00:00:00+0800"), ("end_time", "2023-07-25T00:00:00+0800"),
                 ("limit", "50")] + ([("last_file_name", last)] if last else [])
            r = self.emu.call("GET", "/v3/{project_id}/instance/%s/auditlog/download-link" % iid, q)
            statuses.append(r.status)
            if r.status == 200:
                last = r.json()["files"][-1]["name"]
        self.assertEqual(statuses, [200, 200, 503, 200])

    def test_store_status(self):
        o = self.emu.control("POST", "objects", {"name": "s.bin", "size": 100})
        self.fault(target="store", kind="status", status=503, count=1)
        r = self.emu.url(o["url"])
        self.assertEqual(r.status, 503)
        self.assertIn(b"<Code>ServiceUnavailable</Code>", r.body)
        self.assertEqual(self.emu.url(o["url"]).status, 200)

    def test_drop_after_store(self):
        o = self.emu.control("POST", "objects", {"name": "d.bin", "size": 5 * 1048576})
        self.fault(target="store", kind="drop_after", bytes=100000)
        st, h, body, complete = self.partial_get(o["url"])
        self.assertEqual(st, 200)
        self.assertFalse(complete)
        self.assertEqual(len(body), 100000)
        self.assertEqual(body, content.read("d.bin", 0, 100000))
        # resume with a Range works
        st, h, rest, complete = self.partial_get(o["url"], {"Range": "bytes=100000-"})
        self.assertEqual((st, complete, len(rest)), (206, True, 5 * 1048576 - 100000))
        log = self.emu.control("GET", "requests")
        self.assertEqual(log[0]["bytes_sent"], 100000)
        self.assertEqual(log[1]["range"], "bytes=100000-")

    def test_ignore_range_and_shift_range(self):
        o = self.emu.control("POST", "objects", {"name": "r.bin", "size": 10000})
        self.fault(target="store", kind="ignore_range")
        st, h, body, complete = self.partial_get(o["url"], {"Range": "bytes=5000-"})
        self.assertEqual((st, len(body)), (200, 10000))
        self.assertNotIn("Content-Range", h)
        self.fault(target="store", kind="shift_range", by=100)
        st, h, body, complete = self.partial_get(o["url"], {"Range": "bytes=5000-"})
        self.assertEqual(st, 206)
        self.assertEqual(h["Content-Range"], "bytes 4900-9999/10000")
        self.assertEqual(body, content.read("r.bin", 4900, 5100))
        with self.assertRaises(Exception):
            self.fault(target="api", kind="ignore_range")

    def test_drop_after_api(self):
        self.fault(target="api", kind="drop_after", bytes=10)
        with self.assertRaises(http.client.IncompleteRead):
            self.rds()

    def test_throttle(self):
        o = self.emu.control("POST", "objects", {"name": "t.bin", "size": 150000})
        self.fault(target="store", kind="throttle", rate=300000)
        t0 = time.time()
        r = self.emu.url(o["url"])
        el = time.time() - t0
        self.assertEqual(len(r.body), 150000)
        self.assertGreaterEqual(el, 0.4)
        self.assertEqual(len(self.emu.control("GET", "faults")), 1)     # sticky until cleared
        self.emu.control("DELETE", "faults")
        t0 = time.time()
        self.emu.url(o["url"])
        self.assertLess(time.time() - t0, 0.3)

    def test_link_ttl(self):
        self.fault(target="api", kind="link_ttl", ttl=5)
        f = self.rds().json()["files"][0]
        exp = int(re.search(r"Expires=(\d+)", f["download_link"]).group(1))
        self.assertAlmostEqual(exp - time.time(), 5, delta=2)
        self.assertEqual(self.emu.url(f["download_link"]).status, 200)
        self.emu.control("POST", "config", {"clock_offset": 10})
        r = self.emu.url(f["download_link"])
        self.assertEqual(r.status, 403)
        self.assertIn(b"Request has expired", r.body)

    def test_malformed_json(self):
        self.fault(target="show_backup_download_link", kind="malformed_json", count=1)
        r = self.rds()
        self.assertEqual(r.status, 200)
        with self.assertRaises(ValueError):
            json.loads(r.body)
        self.assertEqual(self.rds().json()["bucket"], "rds-backup-emulator")

    def test_lying_length(self):
        o = self.emu.control("POST", "objects", {"name": "l.bin", "size": 1000})
        self.fault(target="store", kind="lying_length", extra=500)
        st, h, body, complete = self.partial_get(o["url"])
        self.assertEqual(h["Content-Length"], "1500")
        self.assertEqual(len(body), 1000)
        self.assertFalse(complete)
        self.fault(target="api", kind="lying_length")
        with self.assertRaises(http.client.IncompleteRead):
            self.rds()

    def test_slow_first_byte(self):
        self.fault(target="api", kind="slow_first_byte", seconds=0.5)
        t0 = time.time()
        self.assertEqual(self.rds().status, 200)
        self.assertGreaterEqual(time.time() - t0, 0.5)

    def test_iam_fault(self):
        self.fault(target="iam_tokens", kind="status", status=500)
        r = self.emu.raw("POST", "/v3/auth/tokens", {"Content-Type": "application/json"}, b"{}")
        self.assertEqual(r.status, 500)

    def test_validation_and_clear(self):
        for bad in ({"target": "nope", "kind": "status"}, {"target": "api", "kind": "nope"},
                    {"target": "store", "kind": "malformed_json"}, {"target": "api", "kind": "status", "status": 200},
                    {"target": "api", "kind": "status", "count": 0}):
            r = self.emu.raw("POST", "/_emulator/faults", {}, json.dumps(bad).encode())
            self.assertEqual(r.status, 400, bad)
        self.fault(target="api", kind="status")
        self.fault(target="store", kind="throttle", rate=10)
        self.assertEqual(len(self.emu.control("GET", "faults")), 2)
        self.emu.control("DELETE", "faults")
        self.assertEqual(self.emu.control("GET", "faults"), [])

    def test_retry_spacing_observable(self):
        self.fault(target="api", kind="status", status=503, count=2)
        for _ in range(3):
            self.rds()
            time.sleep(0.2)
        times = [e["time"] for e in self.emu.control("GET", "requests")]
        self.assertEqual(len(times), 3)
        self.assertTrue(all(b - a >= 0.2 for a, b in zip(times, times[1:])))


class Lifecycle(unittest.TestCase):
    def test_sigterm_and_sigint_exit_clean(self):
        import os
        import signal
        from harness import Emulator
        for sig, args in ((signal.SIGTERM, ()), (signal.SIGINT, ("--tls",))):
            e = Emulator(*args)
            d = e.info["data_dir"]
            self.assertTrue(os.path.isdir(d))
            e.proc.send_signal(sig)
            self.assertEqual(e.proc.wait(timeout=10), 0)
            e.stop()
            self.assertFalse(os.path.exists(d), "temp data dir removed")

if __name__ == "__main__":
    unittest.main()
