#!/usr/bin/env python3
"""An independent xbstream checker for the tests (written from the format's description,
not from hcdl's code, nor from the emulator's writer):

    chunk = "XBSTCK01" | flags (1 byte) | type (1 byte) | path length (LE32) | path
            type "P": payload length (LE64) | offset (LE64) | CRC-32 of the payload (LE32) | payload
            type "E": end of that file
    flags bit 0 = the chunk may be skipped by a reader that does not know its type

A stream is accepted when every chunk is whole, every payload's CRC-32 (zlib's) matches,
each file's payloads follow on from each other (offset = the file's bytes so far), every
file ends with its "E" chunk, nothing follows a file's "E", and the stream ends on a
chunk boundary.

usage: xbstream_check.py FILE...   exit 0 when all are valid; 1 (and why, on stderr) if not.
"""

import struct
import sys
import zlib

MAGIC = b"XBSTCK01"
IGNORABLE = 0x01


class Invalid(Exception):
    pass


def _exact(f, n, what):
    data = f.read(n)
    if len(data) != n:
        raise Invalid(f"truncated {what}: wanted {n} bytes, found {len(data)}")
    return data


def _payload_crc(f, n):
    crc = 0
    while n > 0:
        block = f.read(min(n, 1 << 20))
        if not block:
            raise Invalid(f"truncated payload: {n} bytes missing")
        crc = zlib.crc32(block, crc)
        n -= len(block)
    return crc


def check(f):
    """-> {"chunks": n, "files": {path: bytes}}; raises Invalid."""
    files, ended, chunks = {}, set(), 0
    while True:
        at = f.tell()
        magic = f.read(len(MAGIC))
        if not magic:
            break
        if magic != MAGIC:
            raise Invalid(f"chunk at {at}: bad magic {magic!r}")
        flags, ctype = _exact(f, 2, "chunk header")
        (plen,) = struct.unpack("<I", _exact(f, 4, "path length"))
        path = _exact(f, plen, "path").decode("utf-8", "replace")
        chunks += 1
        if path in ended:
            raise Invalid(f"chunk at {at}: {path!r} continues after its end chunk")
        if ctype == ord("E"):
            ended.add(path)
            files.setdefault(path, 0)
        elif ctype == ord("P"):
            size, offset, crc = struct.unpack("<QQI", _exact(f, 20, "payload header"))
            if offset != files.get(path, 0):
                raise Invalid(f"chunk at {at}: {path!r} offset {offset}, expected {files.get(path, 0)}")
            got = _payload_crc(f, size)
            if got != crc:
                raise Invalid(f"chunk at {at}: {path!r} CRC-32 {got:08x}, stored {crc:08x}")
            files[path] = offset + size
        elif flags & IGNORABLE:
            raise Invalid(f"chunk at {at}: ignorable type {chr(ctype)!r} has no known length")
        else:
            raise Invalid(f"chunk at {at}: unknown type {ctype:#04x}")
    if chunks == 0:
        raise Invalid("no chunks: not an xbstream")
    open_files = sorted(set(files) - ended)
    if open_files:
        raise Invalid(f"stream ends before the end chunk of {open_files[0]!r}")
    return {"chunks": chunks, "files": files}


def main(argv):
    if len(argv) < 2:
        sys.stderr.write("usage: xbstream_check.py FILE...\n")
        return 2
    bad = 0
    for path in argv[1:]:
        try:
            with open(path, "rb") as f:
                r = check(f)
            print(f"{path}: OK, {r['chunks']} chunks, {len(r['files'])} files, "
                  f"{sum(r['files'].values())} payload bytes")
        except (Invalid, OSError) as e:
            sys.stderr.write(f"{path}: invalid xbstream: {e}\n")
            bad += 1
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
