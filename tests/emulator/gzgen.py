"""gzip files (RFC 1952) for the backup kinds that are gzip (`.gz`, `.tar.gz`).

A member is written here rather than by the gzip module so its header can carry a
comment (FCOMMENT), which pads a file to an exact size (the seed's sizes are fixed):

    member = 1f 8b 08 | FLG | MTIME (4) | XFL | OS | [FCOMMENT text 00] | deflate | CRC-32 (4) | ISIZE (4)

CRC-32 and ISIZE (length mod 2^32) are little-endian and cover the uncompressed bytes of
the member.  A file may hold several members one after the other (`gzip -t` and zcat
accept that); each has its own trailer.
"""

import io
import random
import struct
import tarfile
import zlib

FCOMMENT = 0x10
MTIME = 1690167600      # 2023-07-24T03:00:00Z: fixed, so a member's bytes depend on its data only


def member(data, comment=b"", level=6):
    """One gzip member -> (bytes, (0, start of its deflate data, start of its trailer))."""
    flg = FCOMMENT if comment else 0
    head = b"\x1f\x8b\x08" + bytes([flg]) + struct.pack("<I", MTIME) + b"\x00\x03"
    if comment:
        head += comment + b"\x00"
    c = zlib.compressobj(level, zlib.DEFLATED, -15)
    body = c.compress(data) + c.flush()
    trailer = struct.pack("<II", zlib.crc32(data), len(data) & 0xFFFFFFFF)
    return head + body + trailer, (0, len(head), len(head) + len(body))


def padded(data, size, level=6):
    """One member of exactly `size` bytes: the header comment takes the slack."""
    plain, _ = member(data, level=level)
    slack = size - len(plain)
    if slack < 2:
        raise ValueError(f"gzip member of {len(plain)} bytes does not fit in {size}")
    comment = (b"hcdl emulator padding " * (slack // 22 + 1))[:slack - 1]
    out, where = member(data, comment, level)
    assert len(out) == size
    return out, where


def log_text(rng, n):
    """Compressible text: PostgreSQL-style log lines."""
    lines, total = [], 0
    while total < n:
        line = (f"2023-07-24 03:{rng.randrange(60):02d}:{rng.randrange(60):02d}.{rng.randrange(1000):03d} UTC "
                f"[{rng.randrange(1000, 99999)}] LOG:  checkpoint complete: wrote {rng.randrange(9999)} buffers\n")
        lines.append(line)
        total += len(line)
    return "".join(lines).encode()[:n]


def tar_bytes(files):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.USTAR_FORMAT) as t:
        for name, data in files:
            info = tarfile.TarInfo(name)
            info.size, info.mtime, info.mode = len(data), MTIME, 0o600
            t.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def fitted(make, size):
    """One member of exactly `size` bytes whose data is make(n): n random bytes (which do
    not compress) follow some text, n is settled in a few tries, the comment pads the rest."""
    fixed, _ = member(make(0))
    n = max(0, size - len(fixed) - 2048)
    for _ in range(8):
        data = make(n)
        plain, _ = member(data)
        if size - 600 <= len(plain) <= size - 2:
            break
        n -= len(plain) - (size - 300)
    out, where = padded(data, size)
    return out, [where]


def tar_gz(seed, size):
    """A PostgreSQL-style base backup (.tar.gz) of exactly `size` bytes, one member.
    -> (bytes, [(member start, deflate start, trailer start)])."""
    rng = random.Random(seed)
    text, blob = log_text(rng, 200000), rng.randbytes(size)
    files = [("backup_label", b"START WAL LOCATION: 0/2000028 (file 000000010000000000000002)\n"),
             ("pg_log/postgresql-2023-07-24.log", text)]
    return fitted(lambda n: tar_bytes(files + [("base/16384/16385", blob[:n])]), size)


def gz(seed, size, members=1):
    """A `.gz` of `size` bytes (members=1) or about that (several members, alternately text
    and binary) -> (bytes, [(member start, deflate start, trailer start)])."""
    rng = random.Random(seed)
    if members == 1:
        text, blob = log_text(rng, size // 8), rng.randbytes(size)
        return fitted(lambda n: text + blob[:n], size)
    out, layout = b"", []
    for m in range(members):
        data = log_text(rng, size // members * 4) if m % 2 == 0 else rng.randbytes(size // members)
        raw, (_, body, trailer) = member(data)
        layout.append((len(out), len(out) + body, len(out) + trailer))
        out += raw
    return out, layout


# ---- corrupted copies (each changes the member `which`, the last by default) ----------------

def corrupt_crc(data, layout, which=-1):
    out = bytearray(data)
    out[layout[which][2]] ^= 0xFF
    return bytes(out)


def corrupt_isize(data, layout, which=-1):
    out = bytearray(data)
    out[layout[which][2] + 4] ^= 0x01
    return bytes(out)


def corrupt_data(data, layout, which=-1):
    """A byte of the deflate data changed, mid-member: inflate fails or the CRC differs."""
    out = bytearray(data)
    out[(layout[which][1] + layout[which][2]) // 2] ^= 0x01
    return bytes(out)


def truncated(data, layout):
    """The file ends in the middle of its last member's deflate data."""
    return data[: (layout[-1][1] + layout[-1][2]) // 2]
