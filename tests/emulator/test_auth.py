"""Authentication: official SDK signatures accepted, every tampered byte rejected,
date window, unknown keys, project checks, temporary keys, IAM tokens."""

import json
import os
import shutil
import subprocess
import time
import unittest

from harness import REPO, EmulatorTestCase, HERE, sdk_date, sign

NODE_CORE = os.path.join(REPO, "tools", "official-signer", "node_modules", "@huaweicloud", "huaweicloud-sdk-core")


def other(ch):
    """A different character that keeps the request well-formed."""
    if ch.isdigit():
        return str((int(ch) + 1) % 10)
    if "a" <= ch <= "z":
        return chr((ord(ch) - 97 + 1) % 26 + 97)
    if "A" <= ch <= "Z":
        return chr((ord(ch) - 65 + 1) % 26 + 65)
    return "x"


def alter(s, i):
    return s[:i] + other(s[i]) + s[i + 1:]


class OfficialSigner(EmulatorTestCase):
    def official(self, specs):
        if shutil.which("node") is None or not os.path.isdir(NODE_CORE):
            self.skipTest("node or tools/official-signer/node_modules missing "
                          "(npm install --prefix tools/official-signer)")
        for s in specs:
            s.setdefault("endpoint", self.emu.info["endpoint"])
            s.setdefault("ak", self.emu.info["ak"])
            s.setdefault("sk", self.emu.info["sk"])
            s.setdefault("projectId", self.emu.pid_)
        out = subprocess.run(["node", os.path.join(HERE, "official_sign.js")], input=json.dumps(specs).encode(),
                             capture_output=True, timeout=60)
        self.assertEqual(out.returncode, 0, out.stderr.decode())
        return json.loads(out.stdout)

    def send(self, signed, method):
        target = signed["path"] + ("?" + signed["query"] if signed["query"] else "")
        return self.emu.raw(method, target, signed["headers"], signed["body"].encode())

    def test_all_apis_accept_official_signatures(self):
        seed = self.emu.seed
        # Make the run-log list non-empty and the errorlog finish on the first call.
        self.emu.control("POST", "config", {"redislog_ready_calls": 0, "errorlog_creating": 0})
        specs = [
            ("GET", "/v3/{project_id}/instance/%s/auditlog/download-link" % seed["gaussdb_instance_id"],
             {"start_time": "2023-07-24T00:00:00+0800", "end_time": "2023-07-25T00:00:00+0800",
              "node_id": seed["gaussdb_node_id"], "limit": 50}, {}),
            ("GET", "/v3/{project_id}/backup-files", {"backup_id": seed["rds_backup_id"]}, {}),
            ("POST", "/v2/{project_id}/instances/%s/backups/%s/links" % (seed["dcs_instance_id"],
                                                                         seed["dcs_backup_id"]),
             {}, {"expiration": 1800}),
            ("POST", "/v2/{project_id}/instances/%s/redislog" % seed["dcs_instance_id"],
             {"log_type": "run", "query_time": 1, "replication_id": seed["dcs_replication_ids"][0]}, {}),
            ("GET", "/v2/{project_id}/instances/%s/redislog" % seed["dcs_instance_id"],
             {"log_type": "run", "offset": 0, "limit": 10}, {}),
            ("POST", "/v2/{project_id}/instances/%s/redislog/%s/links" % (seed["dcs_instance_id"],
                                                                          seed["dcs_log_id"]), {}, {}),
            ("POST", "/v3/{project_id}/instances/%s/errorlog-download" % seed["pg_instance_id"], {}, {}),
        ]
        signed = self.official([{"method": m, "url": u, "queryParams": q, "data": d} for m, u, q, d in specs])
        for (m, u, q, d), s in zip(specs, signed):
            with self.subTest(u):
                r = self.send(s, m)
                self.assertIn(r.status, (200, 204), r)
        # The same with a temporary AK + security token (signed X-Security-Token).
        tmp = self.emu.info["temporary"]
        signed = self.official([{"method": "GET", "url": specs[1][1], "queryParams": specs[1][2], "data": {},
                                 "ak": tmp["ak"], "sk": tmp["sk"], "securityToken": tmp["security_token"]}])
        self.assertEqual(self.send(signed[0], "GET").status, 200)

    def test_official_signature_tampered_body_rejected(self):
        seed = self.emu.seed
        s = self.official([{"method": "POST", "url": "/v2/{project_id}/instances/%s/backups/%s/links" % (
            seed["dcs_instance_id"], seed["dcs_backup_id"]), "queryParams": {}, "data": {"expiration": 1800}}])[0]
        s["body"] = '{"expiration":1801}'
        r = self.send(s, "POST")
        self.assertApiError(r, 401, "APIGW.0301")


class Tampering(EmulatorTestCase):
    def base(self):
        seed = self.emu.seed
        path = "/v3/%s/instance/%s/auditlog/download-link" % (self.emu.pid_, seed["gaussdb_instance_id"])
        query = [("start_time", "2023-07-24T00:00:00+0800"), ("end_time", "2023-07-24T03:00:00+0800"),
                 ("node_id", seed["gaussdb_node_id"]), ("limit", "5")]
        hdrs = {"Content-Type": "application/json", "X-Project-Id": self.emu.pid_}
        q, h = sign("GET", self.emu.hostport, path, query, hdrs, b"{}", self.emu.info["ak"], self.emu.info["sk"])
        return path, q, h, b"{}"

    def test_untampered_ok(self):
        path, q, h, body = self.base()
        r = self.emu.raw("GET", path + "?" + q, h, body)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(len(r.json()["files"]), 5)

    def test_every_altered_byte_rejected(self):
        path, q, h, body = self.base()
        conn = self.emu.conn()
        checked = 0

        def expect_401(method, p, qq, hh, bb, what):
            nonlocal checked, conn
            try:
                r = self.emu.raw(method, p + "?" + qq, hh, bb, conn)
            except (ConnectionError, OSError):
                conn = self.emu.conn()
                r = self.emu.raw(method, p + "?" + qq, hh, bb, conn)
            checked += 1
            self.assertEqual(r.status, 401, f"{what}: {r}")
            self.assertEqual(r.json()["error_code"], "APIGW.0301", what)

        # Path: every byte of the path parameters (project id, instance id).  Other path
        # bytes make a different API, which the gateway answers 404 APIGW.0101.
        start = path.index(self.emu.pid_)
        for i in list(range(start, start + 32)) + list(range(path.index("/instance/") + 10,
                                                                path.index("/auditlog"))):
            expect_401("GET", alter(path, i), q, h, body, f"path byte {i}")
        r = self.emu.raw("GET", alter(path, path.index("auditlog")) + "?" + q, h, body)
        self.assertEqual((r.status, r.json()["error_code"]), (404, "APIGW.0101"))
        for i in range(len(q)):
            expect_401("GET", path, alter(q, i), h, body, f"query byte {i} ({q[i]!r})")
        for name in ("Content-Type", "X-Project-Id", "X-Sdk-Date", "Host"):
            for i in range(len(h[name])):
                hh = dict(h)
                hh[name] = alter(h[name], i)
                expect_401("GET", path, q, hh, body, f"header {name} byte {i}")
        for i in range(len(body)):
            expect_401("GET", path, q, h, alter(body.decode(), i).encode(), f"body byte {i}")
        expect_401("GET", path, q, h, b"", "body removed")
        auth = h["Authorization"]
        for i in range(len(auth)):
            if auth[i] in " ,=":
                continue
            hh = dict(h)
            hh["Authorization"] = alter(auth, i)
            expect_401("GET", path, q, hh, body, f"authorization byte {i}")
        conn.close()
        self.assertGreater(checked, 300)

    def test_method_is_signed(self):
        seed = self.emu.seed
        path = "/v2/%s/instances/%s/redislog" % (self.emu.pid_, seed["dcs_instance_id"])
        q, h = sign("GET", self.emu.hostport, path, [("log_type", "run")], {}, b"",
                    self.emu.info["ak"], self.emu.info["sk"])
        self.assertEqual(self.emu.raw("GET", path + "?" + q, h).status, 204)
        self.assertApiError(self.emu.raw("POST", path + "?" + q, h), 401, "APIGW.0301")

    def test_literal_plus_is_space(self):
        # The client signs '+0800' but sends a raw '+', which the gateway reads as ' '.
        path, q, h, body = self.base()
        r = self.emu.raw("GET", path + "?" + q.replace("%2B", "+"), h, body)
        self.assertApiError(r, 401, "APIGW.0301")

    def test_loose_wire_encoding_accepted(self):
        # ':' sent raw: decoded and re-encoded by the verifier, so still valid.
        path, q, h, body = self.base()
        r = self.emu.raw("GET", path + "?" + q.replace("%3A", ":"), h, body)
        self.assertEqual(r.status, 200, r)


class AuthRules(EmulatorTestCase):
    def gaussdb(self, **kw):
        seed = self.emu.seed
        return self.emu.call("GET", "/v3/{project_id}/instance/%s/auditlog/download-link" % seed["gaussdb_instance_id"],
                             [("start_time", "2023-07-24T00:00:00+0800"), ("end_time", "2023-07-24T01:00:00+0800")],
                             **kw)

    def test_date_window(self):
        self.assertEqual(self.gaussdb(date=sdk_date(time.time() - 14 * 60)).status, 200)
        self.assertEqual(self.gaussdb(date=sdk_date(time.time() + 14 * 60)).status, 200)
        r = self.gaussdb(date=sdk_date(time.time() - 16 * 60))
        self.assertApiError(r, 401, "APIGW.0301")
        self.assertIn("signature expired, signature time:", r.json()["error_msg"])
        self.assertApiError(self.gaussdb(date=sdk_date(time.time() + 16 * 60)), 401, "APIGW.0301")
        self.assertApiError(self.gaussdb(date="2023-07-24T00:00:00Z"), 401, "APIGW.0301")

    def test_clock_offset(self):
        self.emu.control("POST", "config", {"clock_offset": 3600})
        self.assertApiError(self.gaussdb(), 401, "APIGW.0301")
        self.assertEqual(self.gaussdb(date=sdk_date(time.time() + 3600)).status, 200)

    def test_unknown_ak(self):
        r = self.gaussdb(ak="AAAAAAAAAAAAAAAAAAAA")
        self.assertApiError(r, 401, "APIGW.0301")
        self.assertIn("does not exist", r.json()["error_msg"])

    def test_missing_date_and_unsigned_date(self):
        r = self.gaussdb(signed=["content-type", "host", "x-project-id"])
        self.assertApiError(r, 401, "APIGW.0301")
        self.assertIn("x-sdk-date", r.json()["error_msg"].lower())

    def test_minimal_signed_headers(self):
        self.assertEqual(self.gaussdb(signed=["x-sdk-date"]).status, 200)

    def test_no_credentials(self):
        r = self.emu.raw("GET", "/v3/%s/backup-files?backup_id=x" % self.emu.pid_)
        self.assertApiError(r, 401, "APIGW.0301")

    def test_project_mismatch(self):
        r = self.gaussdb(headers={"X-Project-Id": "f" * 32})
        self.assertApiError(r, 401, "APIGW.0301")
        other = "0" * 32 if self.emu.pid_ != "0" * 32 else "1" * 32
        seed = self.emu.seed
        r = self.emu.call("GET", "/v3/%s/backup-files" % other, [("backup_id", seed["rds_backup_id"])],
                          headers={"X-Project-Id": other})
        self.assertApiError(r, 401, "APIGW.0301")
        r = self.emu.call("GET", "/v3/%s/backup-files" % other, [("backup_id", seed["rds_backup_id"])],
                          project_header=False)
        self.assertApiError(r, 401, "APIGW.0301")

    def test_no_project_header_ok(self):
        self.assertEqual(self.gaussdb(project_header=False).status, 200)

    def test_temporary_key(self):
        tmp = self.emu.info["temporary"]
        self.assertEqual(self.gaussdb(ak=tmp["ak"], sk=tmp["sk"], security_token=tmp["security_token"]).status, 200)
        r = self.gaussdb(ak=tmp["ak"], sk=tmp["sk"])
        self.assertApiError(r, 401, "APIGW.0301")
        self.assertIn("X-Security-Token", r.json()["error_msg"])
        r = self.gaussdb(ak=tmp["ak"], sk=tmp["sk"], security_token=tmp["security_token"] + "x")
        self.assertApiError(r, 401, "APIGW.0301")
        # present but not signed
        r = self.gaussdb(ak=tmp["ak"], sk=tmp["sk"], security_token=tmp["security_token"],
                         signed=["content-type", "host", "x-project-id", "x-sdk-date"])
        self.assertApiError(r, 401, "APIGW.0301")

    def token(self, password=None, scope=None):
        iam = self.emu.info["iam"]
        body = {"auth": {"identity": {"methods": ["password"], "password": {"user": {
            "name": iam["user"], "password": password or iam["password"], "domain": {"name": iam["domain"]}}}},
            "scope": scope or {"project": {"name": "emulator"}}}}
        return self.emu.raw("POST", "/v3/auth/tokens?nocatalog=true",
                            {"Content-Type": "application/json;charset=utf8"}, json.dumps(body).encode())

    def test_token_auth(self):
        r = self.token()
        self.assertEqual(r.status, 201, r)
        tok = r.header("X-Subject-Token")
        self.assertTrue(tok)
        b = r.json()["token"]
        self.assertEqual(b["methods"], ["password"])
        self.assertEqual(b["project"]["id"], self.emu.pid_)
        self.assertNotIn("catalog", b)
        self.assertTrue(b["expires_at"].endswith("Z"))
        self.assertEqual(self.gaussdb(token=tok).status, 200)
        self.assertApiError(self.gaussdb(token=tok + "x"), 401, "APIGW.0301")
        self.assertApiError(self.gaussdb(token="garbage"), 401, "APIGW.0301")
        # by project id too
        r = self.token(scope={"project": {"id": self.emu.pid_}})
        self.assertEqual(r.status, 201)
        # expiry: 24 h
        self.emu.control("POST", "config", {"clock_offset": 24 * 3600 + 60})
        r = self.gaussdb(token=tok, date=sdk_date(time.time() + 24 * 3600 + 60))
        self.assertApiError(r, 401, "APIGW.0301")
        self.assertIn("expired", r.json()["error_msg"])

    def test_token_wrong_password(self):
        r = self.token(password="nope")
        self.assertEqual(r.status, 401)
        self.assertEqual(r.json()["error"]["code"], 401)
        self.assertIsNone(r.header("X-Subject-Token"))
        r = self.emu.raw("POST", "/v3/auth/tokens", {"Content-Type": "application/json"}, b"{")
        self.assertEqual(r.status, 400)
        r = self.token(scope={"project": {"name": "cn-north-4"}})
        self.assertEqual(r.status, 400)

    def test_unknown_path_404(self):
        r = self.emu.call("GET", "/v3/{project_id}/nothing-here")
        self.assertApiError(r, 404, "APIGW.0101")


if __name__ == "__main__":
    unittest.main()
