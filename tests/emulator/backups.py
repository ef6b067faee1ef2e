"""Real contents for the backup kinds: RDB (DCS), xbstream (RDS MySQL `.qp`), gzip.

Files are generated once per machine into a cache (generation takes a second or two,
with redis-server) and reused by every emulator start:

    $HCDL_EMULATOR_CACHE or <tmp>/hcdl-emulator-cache-<uid>/backups-<key>/manifest.json + files

<key> is a hash of everything the files depend on (this module's version, redis-server's
version or "fixtures", the seed's names and sizes), so a change makes a new set.  A set is
generated in a private temp dir and renamed into place: emulators started at once agree.

A *view* is what an object serves: a good file, or a corrupted copy of one (the same
file with a few bytes changed and/or cut short), so variants cost no disk.  A view's
content id is "@" + the good file's SHA-256 prefix [+ "~variant"]: the store caches its
ETag under that id, which can never go stale.
"""

import hashlib
import json
import os
import shutil
import stat
import tempfile

import content
import gzgen
import rdbgen
import xbstream

VERSION = 1

# Ad-hoc contents (POST /_emulator/objects {"content": ...}): base file, then variants.
# name -> (kind, base, variant or None, valid, what is wrong)
ADHOC_BASES = {"rdb": ("rdb", 262144), "rdb-nochecksum": ("rdb", 262144),
               "xbstream": ("xbstream", 655360), "gzip": ("gzip", 300000), "gzip-multi": ("gzip", 300000),
               "tar.gz": ("gzip", 400000)}
ADHOC = {
    "rdb": ("rdb", "rdb", None, True, "RDB written by redis-server, CRC-64 trailer"),
    "rdb-nochecksum": ("rdb", "rdb-nochecksum", None, True, "RDB saved with rdbchecksum no: trailer 0"),
    "rdb-corrupt": ("rdb", "rdb", "corrupt", False, "one byte changed mid-file: CRC-64 mismatch"),
    "rdb-corrupt-trailer": ("rdb", "rdb", "corrupt-trailer", False, "the CRC-64 trailer changed"),
    "rdb-truncated": ("rdb", "rdb", "truncated", False, "cut in the middle"),
    "xbstream": ("xbstream", "xbstream", None, True, "xbstream of a full backup"),
    "xbstream-corrupt-crc": ("xbstream", "xbstream", "corrupt-crc", False, "a chunk's stored CRC-32 is wrong"),
    "xbstream-corrupt-payload": ("xbstream", "xbstream", "corrupt-payload", False,
                                 "a payload byte changed: its chunk's CRC-32 mismatches"),
    "xbstream-bad-magic": ("xbstream", "xbstream", "bad-magic", False, "a chunk without the XBSTCK01 magic"),
    "xbstream-truncated": ("xbstream", "xbstream", "truncated", False, "the stream ends inside a payload"),
    "gzip": ("gzip", "gzip", None, True, "one gzip member"),
    "gzip-multi": ("gzip", "gzip-multi", None, True, "three gzip members"),
    "tar.gz": ("gzip", "tar.gz", None, True, "a tar archive in one gzip member"),
    "gzip-corrupt-crc": ("gzip", "gzip", "corrupt-crc", False, "the member's CRC-32 is wrong"),
    "gzip-multi-corrupt-crc": ("gzip", "gzip-multi", "corrupt-crc-2", False, "the second member's CRC-32 is wrong"),
    "gzip-corrupt-isize": ("gzip", "gzip", "corrupt-isize", False, "the member's ISIZE is wrong"),
    "gzip-corrupt-data": ("gzip", "gzip", "corrupt-data", False, "a byte of the deflate data changed"),
    "gzip-truncated": ("gzip", "gzip", "truncated", False, "cut inside the deflate data"),
}
# Seed backups: variants of the same length, chosen by config (rdb_variant, ...).
SEED_VARIANTS = {"rdb": ("good", "corrupt", "corrupt-trailer"),
                 "xbstream": ("good", "corrupt-crc", "corrupt-payload", "bad-magic"),
                 "gzip": ("good", "corrupt-crc", "corrupt-isize", "corrupt-data")}


def kind_of(name):
    """Which real content a seed file gets, by its name (None: the content.py pattern)."""
    if name.endswith(".rdb"):
        return "rdb"
    if name.endswith(".qp"):
        return "xbstream"
    if name.endswith(".gz"):
        return "gzip"
    return None


# ---- generation ------------------------------------------------------------------------

def _variants_rdb(data):
    n = len(data)
    return {"corrupt": {"patch": [[n // 2, data[n // 2] ^ 0x55]], "length": n},
            "corrupt-trailer": {"patch": [[n - 3, data[n - 3] ^ 0x01]], "length": n},
            "truncated": {"patch": [], "length": n // 2}}


def _variants_from(data, makers, *extra):
    """Variants as patches: the bytes that differ from `data`, and the length."""
    out = {}
    for name, make in makers.items():
        bad = make(data, *extra)
        patch, block = [], 65536
        for start in range(0, min(len(bad), len(data)), block):
            if bad[start:start + block] != data[start:start + block]:
                patch += [[i, bad[i]] for i in range(start, min(start + block, len(bad))) if bad[i] != data[i]]
        out[name] = {"patch": patch, "length": len(bad)}
    return out


def _xbstream(seed, size):
    data, layout = xbstream.backup(seed, size)
    return data, _variants_from(data, {"corrupt-crc": xbstream.corrupt_crc,
                                       "corrupt-payload": xbstream.corrupt_payload,
                                       "bad-magic": xbstream.bad_magic,
                                       "truncated": xbstream.truncated}, layout)


def _gzip(data, layout):
    v = _variants_from(data, {"corrupt-crc": gzgen.corrupt_crc, "corrupt-isize": gzgen.corrupt_isize,
                              "corrupt-data": gzgen.corrupt_data, "truncated": gzgen.truncated}, layout)
    if len(layout) > 1:
        v.update(_variants_from(data, {"corrupt-crc-2": lambda d, lay: gzgen.corrupt_crc(d, lay, 1)}, layout))
    return data, v


def _plan(seed_jobs):
    """[(key, kind, seed, size, rdb checksum)] for the seed files and the ad-hoc bases."""
    plan = [("seed/" + name, kind, "seed:" + name, size, True) for kind, name, size in seed_jobs]
    for base, (kind, size) in sorted(ADHOC_BASES.items()):
        plan.append(("adhoc/" + base, kind, "adhoc:" + base, size, base != "rdb-nochecksum"))
    return plan


def _generate(plan, use_redis):
    """-> {key: (bytes, variants)}"""
    out = {}
    rdb_jobs = [p for p in plan if p[1] == "rdb"]
    if use_redis:
        dumps = rdbgen.generate([(p[2], p[3], p[4]) for p in rdb_jobs])
    else:
        dumps = [rdbgen.fixture(p[4]) for p in rdb_jobs]
    for p, data in zip(rdb_jobs, dumps):
        out[p[0]] = (data, _variants_rdb(data))
    for key, kind, seed, size, _ in plan:
        if kind == "xbstream":
            out[key] = _xbstream(seed, size)
        elif kind == "gzip":
            base = key.rsplit("/", 1)[-1]
            if base == "gzip-multi":
                out[key] = _gzip(*gzgen.gz(seed, size, members=3))
            elif base == "gzip":
                out[key] = _gzip(*gzgen.gz(seed, size))
            else:
                out[key] = _gzip(*gzgen.tar_gz(seed, size))
    return out


def cache_root():
    """The per-user cache dir (0700, ours, not a symlink), or None when it cannot be trusted."""
    root = os.environ.get("HCDL_EMULATOR_CACHE") or os.path.join(tempfile.gettempdir(),
                                                                 f"hcdl-emulator-cache-{os.getuid()}")
    try:
        os.makedirs(root, mode=0o700, exist_ok=True)
        st = os.lstat(root)
    except OSError:
        return None
    if not stat.S_ISDIR(st.st_mode) or st.st_uid != os.getuid():
        return None
    return root


def _write_set(where, generated, meta):
    manifest = {"meta": meta, "files": {}}
    for key, (data, variants) in generated.items():
        digest = hashlib.sha256(data).hexdigest()
        fname = key.replace("/", "-")
        with open(os.path.join(where, fname), "wb") as f:
            f.write(data)
        manifest["files"][key] = {"file": fname, "size": len(data), "sha256": digest, "variants": variants}
    with open(os.path.join(where, "manifest.json"), "w") as f:
        json.dump(manifest, f)


class Catalogue:
    """The generated set: views by key and variant, registered with content.py."""

    def __init__(self, directory, manifest):
        self.dir, self.meta, self.files = directory, manifest["meta"], manifest["files"]

    def view(self, key, variant=None):
        """-> (content id, size), registering the view with content.py."""
        f = self.files[key]
        cid = "@" + f["sha256"][:24] + ("~" + variant if variant and variant != "good" else "")
        if variant and variant != "good":
            v = f["variants"][variant]
            length, patch = v["length"], {int(o): b for o, b in v["patch"]}
        else:
            length, patch = f["size"], {}
        content.register(cid, os.path.join(self.dir, f["file"]), length, patch)
        return cid, length

    def adhoc(self, name):
        kind, base, variant, _, _ = ADHOC[name]
        return self.view("adhoc/" + base, variant)

    def listing(self):
        out = []
        for name, (kind, base, variant, valid, what) in ADHOC.items():
            cid, size = self.adhoc(name)
            out.append({"content": name, "kind": kind, "valid": valid, "size": size, "what": what})
        return out


def ensure(seed_jobs):
    """The set for these seed files (generated on first use) -> Catalogue.
    seed_jobs: [(kind, file name, size wanted)]."""
    use_redis = rdbgen.available()
    ident = {"version": VERSION, "rdb": rdbgen.identity() if use_redis else "fixtures", "seed": sorted(seed_jobs)}
    key = hashlib.sha256(json.dumps(ident, sort_keys=True).encode()).hexdigest()[:16]
    root = cache_root()
    private = root is None
    if private:
        root = tempfile.mkdtemp(prefix="hcdl-emulator-cache-")
    final = os.path.join(root, f"backups-{key}")
    try:
        return _load(final)
    except (OSError, ValueError):
        pass
    tmp = tempfile.mkdtemp(prefix=".gen-", dir=root)
    try:
        meta = {"rdb": ("redis-server " + rdbgen.version()) if use_redis else "fixtures (no redis-server)"}
        _write_set(tmp, _generate(_plan(seed_jobs), use_redis), meta)
        return _install(tmp, final)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _load(directory):
    with open(os.path.join(directory, "manifest.json")) as f:
        return Catalogue(directory, json.load(f))


def _install(tmp, final):
    """Renames the new set into place; when another emulator was first, uses its set (and
    replaces a set that lost its manifest)."""
    for _ in range(3):
        try:
            os.rename(tmp, final)
        except OSError:
            pass
        try:
            return _load(final)
        except (OSError, ValueError):
            trash = tempfile.mkdtemp(prefix=".stale-", dir=os.path.dirname(final))
            try:
                os.rename(final, os.path.join(trash, "set"))
            except OSError:
                pass
            shutil.rmtree(trash, ignore_errors=True)
    return _load(final)
