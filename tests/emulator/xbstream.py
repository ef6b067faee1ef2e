"""xbstream writer: the container of MySQL physical backups on RDS (`.qp` files).

Written from the format's description (all integers little-endian):

    chunk   = magic "XBSTCK01" (8) | flags (1) | type (1) | path length (4) | path
              type "P" (payload) then: payload length (8) | offset (8) | CRC-32 (4) | payload
              type "E" (end of file): nothing more
    stream  = for each file: its payload chunks in order (offset = bytes of the file before
              this chunk), then one "E" chunk with the same path

CRC-32 is zlib's (ISO 3309) over the payload alone.  Flags are 0 (bit 0, "ignorable",
lets a reader skip a chunk type it does not know; we write none).  The payloads stand in
for the qpress-compressed files of a real backup: seeded bytes, not qpress.
"""

import random
import struct
import zlib

MAGIC = b"XBSTCK01"
CHUNK = 1048576      # payload bytes per chunk (xtrabackup uses larger ones; smaller = more structure)


def payload_chunk(path, offset, payload, flags=0):
    p = path.encode()
    return (MAGIC + bytes([flags]) + b"P" + struct.pack("<I", len(p)) + p
            + struct.pack("<QQI", len(payload), offset, zlib.crc32(payload)) + payload)


def eof_chunk(path, flags=0):
    p = path.encode()
    return MAGIC + bytes([flags]) + b"E" + struct.pack("<I", len(p)) + p


def header_size(path, kind="P"):
    return 8 + 1 + 1 + 4 + len(path.encode()) + (20 if kind == "P" else 0)


class Layout:
    """Where each chunk starts, for the corruptions: [(start, path, kind, payload_start, payload_len)]."""

    def __init__(self):
        self.chunks = []

    def payloads(self):
        return [c for c in self.chunks if c[2] == "P" and c[4] > 0]


def write(files, chunk=CHUNK):
    """files: [(path, bytes)] -> (stream bytes, Layout)."""
    out, layout, pos = [], Layout(), 0
    for path, data in files:
        for offset in range(0, len(data), chunk):      # an empty file has its "E" chunk only
            piece = data[offset:offset + chunk]
            c = payload_chunk(path, offset, piece)
            layout.chunks.append((pos, path, "P", pos + header_size(path), len(piece)))
            out.append(c)
            pos += len(c)
        c = eof_chunk(path)
        layout.chunks.append((pos, path, "E", pos + len(c), 0))
        out.append(c)
        pos += len(c)
    return b"".join(out), layout


# The files of a full backup as xtrabackup --stream=xbstream --compress writes them.
BACKUP_FILES = ("backup-my.cnf.qp", "xtrabackup_checkpoints", "xtrabackup_info.qp",
                "mysql/innodb_table_stats.ibd.qp", "mysql/user.ibd.qp", "db_orders/orders.ibd.qp",
                "ibdata1.qp")


def _overhead(paths, sizes, chunk):
    n = 0
    for path, size in zip(paths, sizes):
        chunks = -(-size // chunk)
        n += chunks * header_size(path) + header_size(path, "E")
    return n


def backup(seed, size, chunk=CHUNK):
    """A stream of exactly `size` bytes (>= 1 KiB): small metadata files, then data files;
    the last one (ibdata1.qp) takes what is left.  -> (bytes, Layout)."""
    rng = random.Random(seed)
    meta = {"backup-my.cnf.qp": b"[mysqld]\ninnodb_page_size=16384\ninnodb_log_files_in_group=2\n",
            "xtrabackup_checkpoints": (b"backup_type = full-backuped\nfrom_lsn = 0\nto_lsn = %d\n"
                                       b"last_lsn = %d\ncompact = 0\n") % (rng.randrange(10 ** 9),
                                                                          rng.randrange(10 ** 9)),
            "xtrabackup_info.qp": b"tool_name = xtrabackup\ntool_version = 8.0.28\n"}
    sizes = [len(meta[p]) if p in meta else 0 for p in BACKUP_FILES]
    room = size - _overhead(BACKUP_FILES, sizes, chunk) - sum(sizes)
    if room < 64:
        raise ValueError(f"xbstream backup of {size} bytes is too small")
    # Data files: a share each, the last one takes the rest; chunk headers cost bytes
    # too, so settle ibdata1's size by iterating (it converges in a step or two).
    data_paths = [p for p in BACKUP_FILES if p not in meta]
    for i, p in enumerate(data_paths[:-1]):
        sizes[BACKUP_FILES.index(p)] = room // (8 * (i + 1))
    last = BACKUP_FILES.index(data_paths[-1])
    for _ in range(10):
        total = _overhead(BACKUP_FILES, sizes, chunk) + sum(sizes)
        if total == size:
            break
        sizes[last] += size - total
    files = [(p, meta[p] if p in meta else rng.randbytes(n)) for p, n in zip(BACKUP_FILES, sizes)]
    stream, layout = write(files, chunk)
    if len(stream) != size:
        raise ValueError(f"xbstream backup: {len(stream)} bytes, wanted {size}")
    return stream, layout


# ---- corrupted copies (same length unless truncated) ---------------------------------

def _middle_payload(layout):
    p = layout.payloads()
    return p[len(p) // 2]


def corrupt_crc(stream, layout):
    """The stored CRC-32 of one payload chunk is wrong (its payload is intact)."""
    out = bytearray(stream)
    start, path, _, pstart, plen = _middle_payload(layout)
    out[pstart - 4] ^= 0xFF
    return bytes(out)


def corrupt_payload(stream, layout):
    """One byte inside a payload is changed: the chunk's CRC-32 no longer matches."""
    out = bytearray(stream)
    start, path, _, pstart, plen = _middle_payload(layout)
    out[pstart + plen // 2] ^= 0x01
    return bytes(out)


def bad_magic(stream, layout):
    """A chunk in the middle of the stream does not start with the magic."""
    out = bytearray(stream)
    start = layout.chunks[len(layout.chunks) // 2][0]
    out[start + 7] = ord("2")          # "XBSTCK02"
    return bytes(out)


def truncated(stream, layout):
    """The stream ends inside a payload: structure incomplete."""
    start, path, _, pstart, plen = _middle_payload(layout)
    return stream[:pstart + plen // 2]
