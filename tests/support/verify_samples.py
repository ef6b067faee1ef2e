#!/usr/bin/env python3
"""Small RDB, xbstream and gzip files, correct and damaged, for tests/verify_spec.lua.

usage: verify_samples.py DIR SEED   writes the files below into DIR

Written from the formats' descriptions, not from hcdl's code: the RDB's CRC-64/Jones (reflected
0x95AC9329AC4BC9B5, init 0, no xor-out) is computed one bit at a time here; xbstream chunks are
XBSTCK01, flags, type, path length (4 LE), path, then for payload chunks length (8 LE),
offset (8 LE), zlib CRC-32 (4 LE) and the payload; gzip members come from Python's gzip module.
"""

import gzip
import os
import random
import struct
import sys
import zlib


def crc64_jones(data):
    c = 0
    for b in data:
        c ^= b
        for _ in range(8):
            c = (c >> 1) ^ 0x95AC9329AC4BC9B5 if c & 1 else c >> 1
    return c


def rdb_body(rng, version=b"0011"):
    out = bytearray(b"REDIS" + version)
    out += b"\xfa\x09redis-ver\x057.0.0"          # an AUX field
    out += b"\xfe\x00"                             # SELECTDB 0
    for i in range(50):                            # string keys
        key, val = f"key:{i}".encode(), bytes(rng.getrandbits(8) for _ in range(rng.randint(1, 40)))
        out += b"\x00" + bytes([len(key)]) + key + bytes([len(val)]) + val
    out += b"\xff"                                 # EOF
    return bytes(out)


def xb_chunk(path, payload=None, offset=0, crc=None):
    p = path.encode()
    head = b"XBSTCK01" + b"\x00" + (b"P" if payload is not None else b"E") + struct.pack("<I", len(p)) + p
    if payload is None:
        return head
    crc = zlib.crc32(payload) if crc is None else crc
    return head + struct.pack("<QQI", len(payload), offset, crc) + payload


def xbstream(rng, bad_crc=False):
    out = bytearray()
    for name in ("ibdata1", "db/t1.ibd.qp"):
        off = 0
        for k in range(3):
            payload = bytes(rng.getrandbits(8) for _ in range(rng.randint(100, 3000)))
            crc = (zlib.crc32(payload) ^ 1) if bad_crc and name == "db/t1.ibd.qp" and k == 1 else None
            out += xb_chunk(name, payload, off, crc)
            off += len(payload)
        out += xb_chunk(name)
    return bytes(out)


def main(argv):
    d, seed = argv[1], int(argv[2])
    rng = random.Random(seed)
    files = {}
    body = rdb_body(rng)
    files["good.rdb"] = body + struct.pack("<Q", crc64_jones(body))
    files["nocrc.rdb"] = body + b"\x00" * 8
    bad = bytearray(files["good.rdb"])
    bad[len(bad) // 2] ^= 0x10
    files["bad.rdb"] = bytes(bad)
    files["trunc.rdb"] = files["good.rdb"][:-20]
    files["good.xbs"] = xbstream(rng)
    files["badcrc.xbs"] = xbstream(rng, bad_crc=True)
    files["trunc.xbs"] = files["good.xbs"][:-30]
    text = [bytes(rng.getrandbits(7) for _ in range(20000)), b"second member\n" * 500]
    files["good.gz"] = b"".join(gzip.compress(t, mtime=0) for t in text)
    files["padded.gz"] = files["good.gz"] + b"\x00" * 512
    bad = bytearray(files["good.gz"])
    bad[len(gzip.compress(text[0], mtime=0)) - 6] ^= 0x01       # the first member's CRC-32
    files["badcrc.gz"] = bytes(bad)
    files["trunc.gz"] = files["good.gz"][:-9]
    files["garbage.gz"] = files["good.gz"] + b"garbage"
    files["plain.txt"] = b"no format here\n" * 100
    for name, data in files.items():
        with open(os.path.join(d, name), "wb") as f:
            f.write(data)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
