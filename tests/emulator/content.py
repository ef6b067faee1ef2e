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

Real contents (the backup kinds, backups.py) are files: an object's `name` is then a
content id ("@..."), registered here with its file, its length and the bytes a corrupted
variant changes (a view); chunks() and md5_hex() serve both kinds alike.

CLI:  python3 content.py NAME SIZE [OFFSET LEN]   writes the expected bytes to stdout
      (for a seed backup file's NAME: its real contents, as the emulator serves them);
      python3 content.py --md5 NAME SIZE [NAME SIZE ...]   one MD5 (hex) per line.
"""

import hashlib
import sys

P = 1048573
_SEED = b"hcdl-emulator-pattern-v1"
_pattern = None
_views = {}         # content id -> View


class View:
    """A file's first `length` bytes with some bytes replaced (offset -> byte)."""
    __slots__ = ("path", "length", "patch")

    def __init__(self, path, length, patch):
        self.path, self.length, self.patch = path, int(length), dict(patch)

    def chunks(self, offset, length, chunk):
        length = max(0, min(length, self.length - offset))
        with open(self.path, "rb") as f:
            f.seek(offset)
            while length > 0:
                buf = f.read(min(length, chunk))
                if not buf:
                    raise OSError(f"{self.path}: shorter than its view")
                if self.patch:
                    buf = self._patched(buf, offset)
                yield memoryview(buf)
                offset += len(buf)
                length -= len(buf)

    def _patched(self, buf, offset):
        hits = [(o, b) for o, b in self.patch.items() if offset <= o < offset + len(buf)]
        if not hits:
            return buf
        out = bytearray(buf)
        for o, b in hits:
            out[o - offset] = b
        return bytes(out)


def register(cid, path, length, patch=None):
    """Serve the file at `path` (its first `length` bytes, `patch` applied) as content id `cid`."""
    _views[cid] = View(path, length, patch or {})


def view(name):
    """The View of a content id, or None for a pattern object."""
    return _views.get(name)


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
    v = _views.get(name)
    if v is not None:
        yield from v.chunks(offset, length, chunk)
        return
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


def _seed_content_id(name):
    """(the content module the emulator uses, content id) of a seed backup file, or None."""
    import backups
    if backups.kind_of(name) is None:
        return None
    import content as registry      # the module data.py registers with (this one is __main__)
    import data
    cid = data.Seed("0" * 32).content_id(name)
    return (registry, cid) if cid else None


def expected_md5(name, size):
    """The MD5 (hex) of the bytes the emulator serves for NAME at SIZE."""
    served = _seed_content_id(name)
    return served[0].md5_hex(served[1], size) if served else md5_hex(name, size)


def main(argv):
    if len(argv) >= 4 and argv[1] == "--md5" and len(argv) % 2 == 0:
        # many files in one start (the specs check dozens at a time)
        for i in range(2, len(argv), 2):
            print(expected_md5(argv[i], int(argv[i + 1])))
        return 0
    if len(argv) not in (3, 5):
        sys.stderr.write("usage: content.py NAME SIZE [OFFSET LEN] | content.py --md5 NAME SIZE [NAME SIZE ...]\n")
        return 2
    name, size = argv[1], int(argv[2])
    offset, length = (int(argv[3]), int(argv[4])) if len(argv) == 5 else (0, size)
    length = max(0, min(length, size - offset))
    out = sys.stdout.buffer
    served = _seed_content_id(name)
    for c in served[0].chunks(served[1], offset, length) if served else chunks(name, offset, length):
        out.write(c)
    out.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
