"""The store's integrity headers (integrity.py): multipart ETags, CRC-64 spellings, version ids,
damaged objects - each checked against values computed here from the bytes served."""

import hashlib
import unittest

import integrity
from harness import EmulatorTestCase


def crc64_xz_bitwise(data):
    """CRC-64/XZ one bit at a time, from its definition (no table)."""
    c = 0xFFFFFFFFFFFFFFFF
    for b in data:
        c ^= b
        for _ in range(8):
            c = (c >> 1) ^ 0xC96C5795D7870F42 if c & 1 else c >> 1
    return c ^ 0xFFFFFFFFFFFFFFFF


class Integrity(EmulatorTestCase):
    def obj(self, name, size, **kw):
        return self.emu.control("POST", "objects", dict(name=name, size=size, **kw))

    def body_and_headers(self, url):
        r = self.emu.url(url)
        self.assertEqual(r.status, 200, r)
        return r.body, r

    def test_check_values(self):
        self.assertEqual(integrity.crc64(b"123456789"), 0x995DC9BBDF1939FA)
        self.assertEqual(integrity._crc_py(b"123456789"), 0x995DC9BBDF1939FA)
        self.assertEqual(crc64_xz_bitwise(b"123456789"), 0x995DC9BBDF1939FA)
        self.assertEqual(integrity.crc64(b""), 0)
        self.assertEqual(integrity.crc64(b"6789", integrity.crc64(b"12345")), 0x995DC9BBDF1939FA)

    def test_multipart_etag_per_object(self):
        size, p = 3 * 1048576 + 5, 1048576
        o = self.obj("mp.bin", size, part_size=p)
        body, r = self.body_and_headers(o["url"])
        parts = [hashlib.md5(body[i:i + p]).digest() for i in range(0, size, p)]
        want = '"' + hashlib.md5(b"".join(parts)).hexdigest() + "-4" + '"'
        self.assertEqual(r.header("ETag"), want)
        self.assertEqual(o["etag"], want)

    def test_multipart_by_threshold(self):
        self.emu.control("POST", "config", {"multipart_threshold": 2 * 1048576, "multipart_part_size": 1048576})
        small = self.obj("small.bin", 1048576)
        big = self.obj("big.bin", 2 * 1048576 + 1)
        self.assertNotIn("-", small["etag"])
        self.assertTrue(big["etag"].endswith('-3"'), big["etag"])

    def test_crc64_spellings_and_version(self):
        for spelling in integrity.SPELLINGS:
            o = self.obj("c.bin", 100000, crc64=spelling, version_id="v1")
            body, r = self.body_and_headers(o["url"])
            self.assertEqual(r.header(spelling), str(crc64_xz_bitwise(body)))
            self.assertEqual(r.header("x-obs-version-id"), "v1")
        self.emu.control("POST", "config", {"crc64_header": "x-obs-hash-crc64ecma", "version_ids": True})
        o = self.obj("d.bin", 1000)
        body, r = self.body_and_headers(o["url"])
        self.assertEqual(r.header("x-obs-hash-crc64ecma"), str(crc64_xz_bitwise(body)))
        self.assertTrue(r.header("x-obs-version-id"))

    def test_damage(self):
        o = self.obj("bad.bin", 200000, crc64="x-obs-hash-crc64ecma", part_size=65536, damage=150000)
        body, r = self.body_and_headers(o["url"])
        self.assertNotEqual(r.header("x-obs-hash-crc64ecma"), str(crc64_xz_bitwise(body)))
        fixed = bytearray(body)
        fixed[150000] ^= 1
        self.assertEqual(r.header("x-obs-hash-crc64ecma"), str(crc64_xz_bitwise(bytes(fixed))))
        parts = [hashlib.md5(bytes(fixed[i:i + 65536])).digest() for i in range(0, len(fixed), 65536)]
        self.assertEqual(r.header("ETag"), '"' + hashlib.md5(b"".join(parts)).hexdigest() + '-4"')

    def test_bad_settings(self):
        for bad in ({"crc64": "x-crc"}, {"part_size": -1}, {"damage": 10 ** 9}, {"version_id": ""}):
            with self.assertRaises(Exception):
                self.obj("x.bin", 100, **bad)


if __name__ == "__main__":
    unittest.main()
