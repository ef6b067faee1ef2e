"""The object store: content, Range, ETag, pre-signed URL verification and expiry."""

import hashlib
import os
import subprocess
import sys
import unittest
import urllib.parse

import content
import data
from harness import HERE, EmulatorTestCase


class Store(EmulatorTestCase):
    def obj(self, name="obj.bin", size=3 * 1048576 + 17, ttl=3600, **kw):
        return self.emu.control("POST", "objects", dict(name=name, size=size, ttl=ttl, **kw))

    def get(self, url, headers=None, method="GET"):
        return self.emu.url(url, headers, method)

    def assertXmlError(self, r, status, code):
        self.assertEqual(r.status, status, r)
        self.assertIn(f"<Code>{code}</Code>", r.body.decode(), r)
        self.assertEqual(r.header("Content-Type"), "application/xml")
        self.assertTrue(r.header("x-obs-request-id"))

    def test_whole_object(self):
        o = self.obj()
        r = self.get(o["url"])
        self.assertEqual(r.status, 200, r)
        self.assertEqual(len(r.body), o["size"])
        self.assertEqual(r.body, content.read("obj.bin", 0, o["size"]))
        self.assertEqual(r.header("ETag"), '"%s"' % hashlib.md5(r.body).hexdigest())
        self.assertEqual(r.header("ETag"), o["etag"])
        self.assertEqual(r.header("Accept-Ranges"), "bytes")
        self.assertTrue(r.header("Last-Modified").endswith("GMT"))
        self.assertRegex(r.header("X-Request-Id"), r"^[0-9a-f]{32}$")
        self.assertTrue(r.header("x-obs-request-id"))

    def test_content_cli(self):
        out = subprocess.run([sys.executable, os.path.join(HERE, "content.py"), "x.log", "5000", "100", "50"],
                             capture_output=True, check=True).stdout
        self.assertEqual(out, content.read("x.log", 100, 50))
        o = self.obj("x.log", 5000)
        self.assertEqual(self.get(o["url"], {"Range": "bytes=100-149"}).body, out)

    def test_ranges(self):
        o = self.obj(size=1000)
        full = content.read("obj.bin", 0, 1000)
        for rng, (a, b) in {"bytes=0-0": (0, 0), "bytes=10-19": (10, 19), "bytes=990-": (990, 999),
                            "bytes=-10": (990, 999), "bytes=900-5000": (900, 999), "bytes=-5000": (0, 999)}.items():
            with self.subTest(rng):
                r = self.get(o["url"], {"Range": rng})
                self.assertEqual(r.status, 206, r)
                self.assertEqual(r.body, full[a:b + 1])
                self.assertEqual(r.header("Content-Range"), f"bytes {a}-{b}/1000")
                self.assertEqual(r.header("Content-Length"), str(b - a + 1))
                self.assertEqual(r.header("ETag"), o["etag"])
        for rng in ("bytes=1000-", "bytes=1000-2000", "bytes=-0"):
            with self.subTest(rng):
                r = self.get(o["url"], {"Range": rng})
                self.assertXmlError(r, 416, "InvalidRange")
                self.assertEqual(r.header("Content-Range"), "bytes */1000")
        for rng in ("bytes=5-1", "bytes=abc", "items=0-1", "bytes=0-1,5-6", "bytes=", "bytes=--1"):
            with self.subTest(rng):
                r = self.get(o["url"], {"Range": rng})
                self.assertEqual(r.status, 200, r)
                self.assertEqual(r.body, full)

    def test_large_range_crosses_pattern_wrap(self):
        size = 3 * content.P + 5
        o = self.obj("big.bin", size)
        a = content.P - 1000
        r = self.get(o["url"], {"Range": f"bytes={a}-{a + content.P + 2000}"})
        self.assertEqual(r.status, 206)
        self.assertEqual(r.body, content.read("big.bin", a, content.P + 2001))

    def test_conditional(self):
        o = self.obj(size=100)
        self.assertEqual(self.get(o["url"], {"If-None-Match": o["etag"]}).status, 304)
        self.assertXmlError(self.get(o["url"], {"If-Match": '"00"'}), 412, "PreconditionFailed")
        self.assertEqual(self.get(o["url"], {"If-Match": o["etag"]}).status, 200)
        r = self.get(o["url"], {"Range": "bytes=0-9", "If-Range": o["etag"]})
        self.assertEqual(r.status, 206)
        r = self.get(o["url"], {"Range": "bytes=0-9", "If-Range": '"other"'})
        self.assertEqual((r.status, len(r.body)), (200, 100))

    def test_expired(self):
        o = self.obj(ttl=-1)
        r = self.get(o["url"])
        self.assertXmlError(r, 403, "AccessDenied")
        body = r.body.decode()
        for tag in ("<Message>Request has expired</Message>", "<Expires>", "<ServerTime>", "<RequestId>", "<HostId>"):
            self.assertIn(tag, body)
        # clock offset moves the store's clock too
        o = self.obj(ttl=60)
        self.assertEqual(self.get(o["url"]).status, 200)
        self.emu.control("POST", "config", {"clock_offset": 120})
        self.assertXmlError(self.get(o["url"]), 403, "AccessDenied")

    def test_signature_tamper(self):
        o = self.obj(size=10)
        u = urllib.parse.urlsplit(o["url"])
        base = u.path
        q = u.query
        bad = []
        # every byte of the query altered
        for i in range(len(q)):
            ch = q[i]
            if ch in "&=":
                continue
            rep = "B" if ch != "B" else "C"
            bad.append(base + "?" + q[:i] + rep + q[i + 1:])
        bad.append(base.replace("obj.bin", "obj.bim") + "?" + q)
        params = q.split("&")
        bad.append(base + "?" + "&".join(reversed(params)))                       # reordered
        bad.append(base + "?" + "&".join(params[:-1]))                             # dropped Signature
        bad.append(base + "?" + q + "&x-foo=1")                                    # added param
        bad.append(base + "?" + q.replace("%2B", "+").replace("%3D", "=").replace("%2F", "/"))  # decoded
        bad.append(base)                                                           # anonymous
        for target in bad:
            with self.subTest(target):
                r = self.emu.raw("GET", target)
                self.assertEqual(r.status, 403, (target, r))

    def test_signed_subresource(self):
        o = self.obj(size=10, cache_control="no-cache,no-store")
        self.assertIn("response-cache-control=no-cache%2Cno-store", o["url"])
        r = self.get(o["url"])
        self.assertEqual((r.status, r.header("Cache-Control")), (200, "no-cache,no-store"))
        self.assertXmlError(self.get(o["url"].replace("&response-cache-control=no-cache%2Cno-store", "")),
                            403, "SignatureDoesNotMatch")
        # re-encoded (',' raw): OBS would accept it, the strict emulator does not ...
        self.assertXmlError(self.get(o["url"].replace("%2C", ",")), 403, "SignatureDoesNotMatch")
        # ... unless strict mode is off
        self.emu.control("POST", "config", {"store_strict_query": False})
        self.assertEqual(self.get(o["url"].replace("%2C", ",")).status, 200)
        params = urllib.parse.urlsplit(o["url"]).query.split("&")
        self.assertEqual(self.emu.raw("GET", urllib.parse.urlsplit(o["url"]).path + "?" +
                                      "&".join(reversed(params))).status, 200)

    def test_content_type_and_md5_headers_fail(self):
        o = self.obj(size=10)
        r = self.get(o["url"], {"Content-Type": "application/json"})
        self.assertXmlError(r, 403, "SignatureDoesNotMatch")
        self.assertIn("<StringToSign>", r.body.decode())
        self.assertXmlError(self.get(o["url"], {"Content-MD5": "1B2M2Y8AsgTpgAmY7PhCfg=="}), 403,
                            "SignatureDoesNotMatch")
        self.assertXmlError(self.get(o["url"], {"x-obs-meta-a": "b"}), 403, "SignatureDoesNotMatch")
        # Range, If-*, User-Agent, Accept-Encoding are not signed
        self.assertEqual(self.get(o["url"], {"Range": "bytes=0-1", "User-Agent": "x", "Accept-Encoding": "gzip"}).status,
                         206)

    def test_head(self):
        o = self.obj(size=12345, method="HEAD")
        r = self.get(o["url"], method="HEAD")
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.header("Content-Length"), "12345")
        self.assertEqual(r.header("ETag"), o["etag"])
        self.assertEqual(r.body, b"")
        r = self.get(o["url"], {"Range": "bytes=0-9"}, method="HEAD")
        self.assertEqual((r.status, r.header("Content-Length"), r.header("Content-Range")),
                         (206, "10", "bytes 0-9/12345"))
        # a link signed for GET is not valid for HEAD (the verb is signed), as on OBS
        g = self.obj(size=10)
        r = self.get(g["url"], method="HEAD")
        self.assertEqual(r.status, 403)
        self.assertEqual(r.body, b"")

    def test_api_links_download(self):
        s = self.emu.seed
        r = self.emu.call("GET", "/v3/{project_id}/backup-files", [("backup_id", s["rds_backup_id"])])
        for f in r.json()["files"]:
            d = self.get(f["download_link"])
            self.assertEqual(d.status, 200)
            name = urllib.parse.unquote(urllib.parse.urlsplit(f["download_link"]).path.rsplit("/", 1)[1])
            self.assertEqual(name, f["name"])
            # backup files have real contents (backups.py): the seed says which
            cid = data.Seed("0" * 32).content_id(name) or name
            self.assertEqual(d.body, content.read(cid, 0, len(d.body)))
            self.assertEqual(f["size"], -(-len(d.body) // 1024))    # KB, rounded up

    def test_keep_alive(self):
        o = self.obj(size=5000)
        c = self.emu.conn()
        target = o["url"].split(str(self.emu.port), 1)[1]
        for _ in range(5):
            r = self.emu.raw("GET", target, {"Range": "bytes=0-99"}, conn=c)
            self.assertEqual(len(r.body), 100)
        c.close()

    def test_method_not_allowed_and_unknown(self):
        o = self.obj(size=10)
        target = o["url"].split(str(self.emu.port), 1)[1]
        self.assertEqual(self.emu.raw("PUT", target, body=b"x").status, 405)
        r = self.emu.raw("GET", target.replace("obj.bin", "nothing.bin"))
        self.assertEqual(r.status, 403)   # signature covers the key


class StoreTls(EmulatorTestCase):
    emulator_args = ("--tls",)

    def test_https_download_and_api(self):
        self.assertTrue(self.emu.info["tls"])
        self.assertTrue(os.path.exists(self.emu.info["cafile"]))
        self.assertTrue(self.emu.info["endpoint"].startswith("https://127.0.0.1:"))
        o = self.emu.control("POST", "objects", {"name": "t.bin", "size": 2 * content.P + 3})
        self.assertTrue(o["url"].startswith("https://"))
        r = self.emu.url(o["url"], {"Range": "bytes=5-"})
        self.assertEqual(r.status, 206)
        self.assertEqual(r.body, content.read("t.bin", 5, 2 * content.P - 2))
        r = self.emu.call("GET", "/v3/{project_id}/backup-files", [("backup_id", self.emu.seed["rds_backup_id"])])
        self.assertEqual(r.status, 200)
        self.assertTrue(r.json()["files"][0]["download_link"].startswith("https://"))

    def test_plain_http_port(self):
        import http.client
        u = urllib.parse.urlsplit(self.emu.info["endpoint_http"])
        c = http.client.HTTPConnection(u.hostname, u.port, timeout=10)
        c.request("GET", "/_emulator/info")
        r = c.getresponse()
        self.assertEqual(r.status, 200)
        r.read()
        c.close()


if __name__ == "__main__":
    unittest.main()
