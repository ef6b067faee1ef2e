"""Real contents of the backup kinds, each judged by a checker that is not the emulator's:
redis-check-rdb (Debian redis-tools) for RDB, `gzip -t` for gzip, and the xbstream reader
in tests/support/xbstream_check.py (written from the format's description)."""

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import unittest
import zlib

from harness import HERE, REPO, EmulatorTestCase

XBSTREAM_CHECK = os.path.join(REPO, "tests", "support", "xbstream_check.py")
KIND_BY_MAGIC = ((b"REDIS", "rdb"), (b"XBSTCK01", "xbstream"), (b"\x1f\x8b", "gzip"))


def kind_of(data):
    return next((k for magic, k in KIND_BY_MAGIC if data.startswith(magic)), None)


def independent_check(kind, path):
    """(accepted, what the checker said)."""
    if kind == "rdb":
        cmd = ["redis-check-rdb", path]
    elif kind == "gzip":
        cmd = ["gzip", "-t", path]
    else:
        cmd = [sys.executable, XBSTREAM_CHECK, path]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    return r.returncode == 0, (r.stdout + r.stderr)[-600:]


def need(tool):
    if shutil.which(tool) is None:
        raise unittest.SkipTest(f"{tool} is not installed (scripts/install-deps installs it)")


class Contents(EmulatorTestCase):
    def setUp(self):
        super().setUp()
        need("redis-check-rdb")
        need("gzip")
        self.tmp = tempfile.mkdtemp(prefix="hcdl-emu-backups-")

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def fetch(self, url, name):
        r = self.emu.url(url)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.header("ETag"), '"%s"' % hashlib.md5(r.body).hexdigest())
        path = os.path.join(self.tmp, name)
        with open(path, "wb") as f:
            f.write(r.body)
        return r.body, path

    def assertJudged(self, kind, path, valid, label):
        ok, said = independent_check(kind, path)
        self.assertEqual(ok, valid, f"{label}: the {kind} checker says {'valid' if ok else 'invalid'}: {said}")

    def seed_files(self):
        """(name, url) of every seed backup file with real contents."""
        s, out = self.emu.seed, []
        for bid in s["rds_backup_ids"]:
            r = self.emu.call("GET", "/v3/{project_id}/backup-files", [("backup_id", bid)])
            if r.status == 200:
                out += [(f["name"], f["download_link"], f["size"]) for f in r.json()["files"]]
        r = self.emu.call("GET", "/v3/{project_id}/backups", [("instance_id", s["pg_instance_id"])])
        for b in r.json()["backups"]:
            r = self.emu.call("GET", "/v3/{project_id}/backup-files", [("backup_id", b["id"])])
            out += [(f["name"], f["download_link"], f["size"]) for f in r.json()["files"]]
        for bid in s["dcs_backup_ids"]:
            r = self.emu.call("POST", "/v2/{project_id}/instances/%s/backups/%s/links" % (s["dcs_instance_id"], bid),
                              body={"expiration": 600})
            if r.status == 200:
                out += [(x["file_name"], x["link"], None) for x in r.json()["links"]]
        return [f for f in out if not f[0].startswith("mysql-bin.")]

    def test_every_adhoc_content_is_judged_alike_by_an_independent_checker(self):
        listing = self.emu.control("GET", "contents")
        contents = listing["contents"]
        self.assertIn("redis-server", listing["rdb"])       # CI has it: real dumps, not the fixtures
        self.assertEqual({c["kind"] for c in contents}, {"rdb", "xbstream", "gzip"})
        self.assertTrue(any(not c["valid"] for c in contents) and any(c["valid"] for c in contents))
        for c in contents:
            name = "x-" + c["content"].replace("/", "_")
            o = self.emu.control("POST", "objects", {"name": name, "content": c["content"]})
            self.assertEqual((o["size"], o["content"]), (c["size"], c["content"]))
            body, path = self.fetch(o["url"], name)
            self.assertEqual(len(body), c["size"])
            self.assertEqual(kind_of(body), c["kind"], c["content"])
            self.assertJudged(c["kind"], path, c["valid"], c["content"])

    def test_seed_backups_are_real_and_valid(self):
        files = self.seed_files()
        kinds = {}
        for name, url, size_kb in files:
            body, path = self.fetch(url, name)
            kind = kind_of(body)
            kinds[kind] = kinds.get(kind, 0) + 1
            if size_kb is not None:
                self.assertEqual(size_kb, -(-len(body) // 1024), name)
            self.assertJudged(kind, path, True, name)
            self.assertEqual(body, self.content_cli(name, len(body)), name)
        self.assertEqual(kinds, {"rdb": 6, "xbstream": 4, "gzip": 1})

    def test_seed_variants_keep_sizes_and_fail_the_checkers_until_reset(self):
        files = self.seed_files()
        good = {name: self.fetch(url, name)[0] for name, url, _ in files}
        for key, variants in (("rdb_variant", ("corrupt", "corrupt-trailer")),
                              ("xbstream_variant", ("corrupt-crc", "corrupt-payload", "bad-magic")),
                              ("gzip_variant", ("corrupt-crc", "corrupt-isize", "corrupt-data"))):
            kind = key[:-len("_variant")]
            for variant in variants:
                self.emu.control("POST", "config", {key: variant})
                for name, url, _ in self.seed_files():
                    body, path = self.fetch(url, name)
                    self.assertEqual(len(body), len(good[name]), name)
                    if kind_of(good[name]) == kind:
                        self.assertNotEqual(body, good[name])
                        self.assertJudged(kind, path, False, f"{name} ({variant})")
                    else:
                        self.assertEqual(body, good[name], f"{name} changed by {key}")
            self.emu.control("POST", "reset")
        for name, url, _ in self.seed_files():
            self.assertEqual(self.fetch(url, name)[0], good[name], name)
        r = self.emu.raw("POST", "/_emulator/config", {"Content-Type": "application/json"}, b'{"rdb_variant": "x"}')
        self.assertEqual(r.status, 400, r)

    def test_rdb_facts(self):
        o = self.emu.control("POST", "objects", {"name": "plain.rdb", "content": "rdb-nochecksum"})
        body, path = self.fetch(o["url"], "plain.rdb")
        self.assertRegex(body[:9], rb"^REDIS\d{4}$")
        self.assertEqual(body[-8:], b"\0" * 8)              # rdbchecksum no: a zero CRC-64 trailer
        self.assertIn("checksum disabled", independent_check("rdb", path)[1])
        o = self.emu.control("POST", "objects", {"name": "sum.rdb", "content": "rdb"})
        body, path = self.fetch(o["url"], "sum.rdb")
        self.assertNotEqual(body[-8:], b"\0" * 8)
        self.assertIn("Checksum OK", independent_check("rdb", path)[1])
        # several key types: redis-check-rdb counts them
        self.assertRegex(independent_check("rdb", path)[1], r"\[info\] (1\d|[2-9]\d|\d{3,}) keys read")

    def test_gzip_members(self):
        for content, members in (("gzip", 1), ("gzip-multi", 3), ("tar.gz", 1)):
            o = self.emu.control("POST", "objects", {"name": "m.gz", "content": content})
            data, n = self.emu.url(o["url"]).body, 0
            while data:
                d = zlib.decompressobj(31)
                d.decompress(data)
                self.assertTrue(d.eof, content)
                data, n = d.unused_data, n + 1
            self.assertEqual(n, members, content)

    def test_ranges_of_a_corrupted_view(self):
        o = self.emu.control("POST", "objects", {"name": "c.rdb", "content": "rdb-corrupt"})
        whole = self.emu.url(o["url"]).body
        mid = len(whole) // 2
        part = self.emu.url(o["url"], {"Range": f"bytes={mid - 10}-{mid + 10}"})
        self.assertEqual(part.status, 206)
        self.assertEqual(part.body, whole[mid - 10:mid + 11])

    def test_bad_content_requests(self):
        for body in (b'{"name": "a", "content": "nope"}', b'{"name": "a", "content": "rdb", "size": 5}'):
            r = self.emu.raw("POST", "/_emulator/objects", {"Content-Type": "application/json"}, body)
            self.assertEqual(r.status, 400, r)

    def content_cli(self, name, size):
        r = subprocess.run([sys.executable, os.path.join(HERE, "content.py"), name, str(size)],
                           capture_output=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr)
        return r.stdout


class Checkers(unittest.TestCase):
    """The xbstream checker itself, on streams built here byte by byte (not by the emulator)."""

    def chunk(self, path, offset, payload, crc=None, magic=b"XBSTCK01", ctype=b"P"):
        p = path.encode()
        head = magic + b"\0" + ctype + len(p).to_bytes(4, "little") + p
        if ctype != b"P":
            return head
        crc = zlib.crc32(payload) if crc is None else crc
        return (head + len(payload).to_bytes(8, "little") + offset.to_bytes(8, "little")
                + crc.to_bytes(4, "little") + payload)

    def judge(self, data):
        with tempfile.NamedTemporaryFile(suffix=".qp") as f:
            f.write(data)
            f.flush()
            r = subprocess.run([sys.executable, XBSTREAM_CHECK, f.name], capture_output=True, text=True)
            return r.returncode, r.stderr

    def test_accepts_and_rejects(self):
        a, b = b"first part ", b"second part"
        good = self.chunk("f", 0, a) + self.chunk("f", len(a), b) + self.chunk("f", 0, b"", ctype=b"E")
        self.assertEqual(self.judge(good)[0], 0)
        cases = {
            "CRC-32": self.chunk("f", 0, a, crc=1) + self.chunk("f", 0, b"", ctype=b"E"),
            "bad magic": self.chunk("f", 0, a, magic=b"XBSTCK02") + self.chunk("f", 0, b"", ctype=b"E"),
            "truncated": good[:-3],
            "expected": self.chunk("f", 5, a) + self.chunk("f", 0, b"", ctype=b"E"),
            "end chunk": self.chunk("f", 0, a),
            "after its end": good + self.chunk("f", 22, a),
            "unknown type": good + self.chunk("g", 0, b"", ctype=b"Z"),
            "no chunks": b"",
        }
        for why, data in cases.items():
            rc, err = self.judge(data)
            self.assertEqual(rc, 1, why)
            self.assertIn(why, err, why)


class Fallback(unittest.TestCase):
    """Without redis-server the DCS files are the pre-generated fixtures, still valid RDBs."""

    def test_fixtures_without_redis_server(self):
        need("redis-check-rdb")
        cache = tempfile.mkdtemp(prefix="hcdl-emu-cache-")
        try:
            bare = tempfile.mkdtemp(prefix="hcdl-emu-path-")    # a PATH with python3 only
            os.symlink(sys.executable, os.path.join(bare, "python3"))
            code = ("import sys; sys.path.insert(0, %r); import data, content, backups\n"
                    "s = data.Seed('0' * 32)\n"
                    "assert s.catalogue.meta['rdb'].startswith('fixtures'), s.catalogue.meta\n"
                    "for r in s.real.values():\n"
                    "    if r['kind'] == 'rdb':\n"
                    "        print(content.read(s.content_id(r['name']), 0, r['file']['size']).hex())\n" % HERE)
            r = subprocess.run([os.path.join(bare, "python3"), "-c", code], capture_output=True, text=True,
                               env={"PATH": bare, "HCDL_EMULATOR_CACHE": cache}, timeout=120)
            shutil.rmtree(bare)
            self.assertEqual(r.returncode, 0, r.stderr)
            dumps = [bytes.fromhex(h) for h in r.stdout.split()]
            self.assertEqual(len(dumps), 6)
            with open(os.path.join(HERE, "fixtures", "redis-checksum.rdb"), "rb") as f:
                self.assertEqual(set(dumps), {f.read()})
            path = os.path.join(cache, "fixture.rdb")
            with open(path, "wb") as f:
                f.write(dumps[0])
            self.assertTrue(independent_check("rdb", path)[0])
        finally:
            shutil.rmtree(cache, ignore_errors=True)


if __name__ == "__main__":
    unittest.main()
