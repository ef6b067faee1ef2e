#!/usr/bin/env python3
"""Deterministic object contents: computable from (name, size) alone, never stored.

    P       = 1048573                      (a prime just under 1 MiB)
    pattern = SHA256(b"hcdl-emulator-pattern-v1" || be64(0)) || SHA256(... || be64(1)) || ...
              truncated to P bytes
    shift   = int.from_bytes(SHA256(name as UTF-8)[0:8], "big") mod P
    byte(o) = pattern[(shift + o) mod P]          for 0 <= o < size

`name` is the object's file name: the last segment of the download URL's path
(URL-decoded), which is also the file name the API reports.  Because P is prime and
not a power of two, two objects rarely line up and a misplaced range of any power-of-two
size is detected.

CLI:  python3 content.py NAME SIZE [OFFSET LEN]   writes the expected bytes to stdout.
"""

import hashlib
import sys

P = 1048573
_SEED = b"hcdl-emulator-pattern-v1"
_pattern = None


def pattern() -> bytes:
    """The P-byte pattern (computed once, ~20 ms)."""
    global _pattern
    if _pattern is None:
        blocks = (P + 31) // 32
        _pattern = b"".join(hashlib.sha256(_SEED + i.to_bytes(8, "big")).digest()
                            for i in range(blocks))[:P]
    return _pattern


def shift(name: str) -> int:
    return int.from_bytes(hashlib.sha256(name.encode("utf-8")).digest()[:8], "big") % P


def chunks(name: str, offset: int, length: int, chunk: int = P):
    """Yield the bytes [offset, offset+length) of object `name` as memoryviews."""
    doubled = memoryview(pattern() * 2)
    pos = (shift(name) + offset) % P
    while length > 0:
        n = min(length, chunk, P)
        yield doubled[pos:pos + n]
        pos = (pos + n) % P
        length -= n


def read(name: str, offset: int, length: int) -> bytes:
    return b"".join(chunks(name, offset, length))


def md5_hex(name: str, size: int) -> str:
    h = hashlib.md5()
    for c in chunks(name, 0, size):
        h.update(c)
    return h.hexdigest()


def main(argv):
    if len(argv) not in (3, 5):
        sys.stderr.write("usage: content.py NAME SIZE [OFFSET LEN]\n")
        return 2
    name, size = argv[1], int(argv[2])
    offset, length = (int(argv[3]), int(argv[4])) if len(argv) == 5 else (0, size)
    length = max(0, min(length, size - offset))
    out = sys.stdout.buffer
    for c in chunks(name, offset, length):
        out.write(c)
    out.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
