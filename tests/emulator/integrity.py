"""What a real object store says about an object's integrity, beyond the plain MD5 ETag.

- Multipart ETags: an object uploaded in parts of P bytes has the ETag
  `"<MD5 of the parts' binary MD5s>-<number of parts>"`.  Objects of at least the config's
  `multipart_threshold` bytes (0: never) get one with `multipart_part_size`; POST
  /_emulator/objects takes `part_size` per object (0: a plain MD5 ETag).
- CRC-64: the CRC-64/XZ (ECMA-182 reflected, init and xor-out all ones; the OBS SDK's Crc64) of
  the object, as a decimal integer, under the header the config's `crc64_header` names (one of
  SPELLINGS; "" = none); per object `crc64` (a spelling, or "" for none).
- `x-obs-version-id`: when the config's `version_ids` is on, or per object `version_id`.
- Damage: per object `damage` = a byte offset: the checksums above describe the object with that
  byte changed (the bytes served are not the ones uploaded), i.e. a corrupted object.

The CRC uses crcmod's C extension (Debian python3-crcmod) when it can be imported, else a table
in pure Python (slow: only for small objects).
"""

import hashlib
import sys
import threading

import content

SPELLINGS = ("x-obs-hash-crc64ecma", "x-obs-checksum-crc64ecma", "x-amz-checksum-crc64ecma",
             "x-obs-meta-crc64ecma", "x-amz-meta-crc64ecma")
MIB = 1024 * 1024
_POLY_REFL = 0xC96C5795D7870F42


def _crcmod_fun():
    try:
        import crcmod
    except ImportError:
        if "/usr/lib/python3/dist-packages" in sys.path:
            return None
        sys.path.append("/usr/lib/python3/dist-packages")     # Debian's, for another python3
        try:
            import crcmod
        except ImportError:
            return None
        finally:
            sys.path.remove("/usr/lib/python3/dist-packages")
    return crcmod.mkCrcFun(0x142F0E1EBA9EA3693, initCrc=0, xorOut=0xFFFFFFFFFFFFFFFF, rev=True)


_TABLE = None


def _table():
    global _TABLE
    if _TABLE is None:
        t = []
        for i in range(256):
            c = i
            for _ in range(8):
                c = (c >> 1) ^ _POLY_REFL if c & 1 else c >> 1
            t.append(c)
        _TABLE = t
    return _TABLE


def _crc_py(data, crc=0):
    t, c = _table(), crc ^ 0xFFFFFFFFFFFFFFFF
    for b in data:
        c = t[(c ^ b) & 0xFF] ^ (c >> 8)
    return c ^ 0xFFFFFFFFFFFFFFFF


_CRCMOD = _crcmod_fun()


def crc64(data, crc=0):
    """CRC-64/XZ of data, continuing from crc (0 to start)."""
    return _CRCMOD(data, crc) if _CRCMOD is not None else _crc_py(data, crc)


def _damaged(obj, damage, chunk):
    """The object's bytes with the byte at `damage` changed (None: as served)."""
    for start, c in _spans(obj, chunk):
        if damage is not None and start <= damage < start + len(c):
            c = bytearray(c)
            c[damage - start] ^= 0x01
            c = bytes(c)
        yield c


def _spans(obj, chunk):
    pos = 0
    for c in content.chunks(obj.name, 0, obj.size, chunk):
        yield pos, c
        pos += len(c)


def multipart_etag(obj, part_size, damage=None):
    digests, part, have = [], hashlib.md5(), 0
    for c in _damaged(obj, damage, MIB):       # chunks do not line up with parts: split them
        c = memoryview(c)
        while len(c):
            k = min(len(c), part_size - have)
            part.update(c[:k])
            have += k
            c = c[k:]
            if have == part_size:
                digests.append(part.digest())
                part, have = hashlib.md5(), 0
    if have or not digests:
        digests.append(part.digest())
    return hashlib.md5(b"".join(digests)).hexdigest() + "-" + str(len(digests))


def crc64_of(obj, damage=None):
    crc = 0
    for c in _damaged(obj, damage, MIB):
        crc = crc64(bytes(c), crc)
    return crc


class Integrity:
    """Per-object settings and the values computed for them (cached: objects never change)."""

    def __init__(self):
        self._lock = threading.Lock()
        self._objects = {}      # (bucket, key) -> (obj, settings)
        self._cache = {}

    def configure(self, obj, req):
        """POST /_emulator/objects fields: part_size, crc64, version_id, damage."""
        settings = {}
        if "part_size" in req:
            p = req["part_size"]
            if isinstance(p, bool) or not isinstance(p, int) or p < 0 or (0 < p < 1):
                raise ValueError("part_size must be an integer >= 0 (0: a plain MD5 ETag)")
            settings["part_size"] = p
        if "crc64" in req:
            if req["crc64"] not in SPELLINGS + ("",):
                raise ValueError("crc64 must be one of " + ", ".join(SPELLINGS) + ' or ""')
            settings["crc64"] = req["crc64"]
        if "version_id" in req:
            if not isinstance(req["version_id"], str) or not req["version_id"]:
                raise ValueError("version_id must be a non-empty string")
            settings["version_id"] = req["version_id"]
        if "damage" in req:
            d = req["damage"]
            if isinstance(d, bool) or not isinstance(d, int) or not 0 <= d < obj.size:
                raise ValueError("damage must be a byte offset inside the object")
            settings["damage"] = d
        with self._lock:
            self._objects[(obj.bucket, obj.key)] = (obj, settings)
        return settings

    def settings(self, obj):
        with self._lock:
            o, s = self._objects.get((obj.bucket, obj.key), (None, {}))
        return s if o is obj else {}

    def _cached(self, key, compute):
        with self._lock:
            if key in self._cache:
                return self._cache[key]
        value = compute()
        with self._lock:
            self._cache[key] = value
        return value

    def part_size(self, obj, config):
        s = self.settings(obj)
        if "part_size" in s:
            return s["part_size"]
        threshold = int(config.get("multipart_threshold", 0))
        return int(config.get("multipart_part_size", 8 * MIB)) if threshold and obj.size >= threshold else 0

    def etag(self, obj, config, plain):
        """The ETag the store answers with (plain: the MD5 ETag, computed by the store)."""
        p, damage = self.part_size(obj, config), self.settings(obj).get("damage")
        if p:
            return '"' + self._cached(("mp", obj.name, obj.size, p, damage),
                                      lambda: multipart_etag(obj, p, damage)) + '"'
        if damage is not None:
            return '"' + self._cached(("md5", obj.name, obj.size, damage), lambda: hashlib.md5(
                b"".join(_damaged(obj, damage, MIB))).hexdigest()) + '"'
        return plain()

    def headers(self, obj, config):
        """Extra answer headers: the CRC-64 and the version id."""
        s, out = self.settings(obj), []
        spelling = s.get("crc64", config.get("crc64_header", ""))
        if spelling:
            damage = s.get("damage")
            value = self._cached(("crc", obj.name, obj.size, damage), lambda: crc64_of(obj, damage))
            out.append((spelling, str(value)))
        vid = s.get("version_id")
        if vid is None and config.get("version_ids"):
            vid = "v" + hashlib.sha256(f"{obj.bucket}/{obj.key}/{obj.mtime}".encode()).hexdigest()[:24]
        if vid:
            out.append(("x-obs-version-id", vid))
        return out
