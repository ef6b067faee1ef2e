#!/usr/bin/env python3
"""Redis RDB files written by a real redis-server (DCS backups are RDB dumps).

The emulator starts Debian's `redis-server` in a private temp dir, listening on a unix
socket only (`--port 0`), fills it with seeded keys of every common type, runs `SAVE`
and keeps the `dump.rdb` it wrote.  Checksummed files come from a server started with
the default `rdbchecksum yes`; the one started with `--rdbchecksum no` (the setting is
immutable at run time) writes a zero CRC-64 trailer.

Without redis-server (a user's machine) the files are the pre-generated ones in
fixtures/ (written by this module: `python3 rdbgen.py --fixtures`), see README.md.

The keys are seeded (random.Random(seed)); the bytes of a dump are not reproducible
(ctime, used-mem and the key order differ per run), which is why the emulator caches
what it generated (backups.py).
"""

import os
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
FIXTURES = os.path.join(HERE, "fixtures")
FIXTURE_CHECKSUM = os.path.join(FIXTURES, "redis-checksum.rdb")
FIXTURE_NO_CHECKSUM = os.path.join(FIXTURES, "redis-nochecksum.rdb")
FAR_FUTURE_MS = 4102444800000       # 2100-01-01: keys with a TTL that never expires in a test


def available():
    return shutil.which("redis-server") is not None


def identity():
    """What names the installed redis-server without running it (path, size, mtime)."""
    path = shutil.which("redis-server")
    st = os.stat(path)
    return f"{os.path.realpath(path)}:{st.st_size}:{st.st_mtime_ns}"


def version():
    """redis-server's version string ("7.0.15"), or None without one."""
    if not available():
        return None
    out = subprocess.run(["redis-server", "--version"], capture_output=True, text=True, timeout=10).stdout
    for word in out.split():
        if word.startswith("v="):
            return word[2:]
    return out.strip() or "unknown"


class RedisError(RuntimeError):
    pass


class Server:
    """One redis-server on a unix socket in a temp dir; stopped and removed on exit."""

    def __init__(self, checksum=True, parent=None):
        self.dir = tempfile.mkdtemp(prefix="hcdl-redis-", dir=parent)
        self.sock_path = os.path.join(self.dir, "redis.sock")
        args = ["redis-server", "--port", "0", "--unixsocket", self.sock_path, "--dir", self.dir,
                "--dbfilename", "dump.rdb", "--save", "", "--appendonly", "no",
                "--logfile", os.path.join(self.dir, "redis.log"),
                "--rdbchecksum", "yes" if checksum else "no"]
        self.proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
        self.sock = None
        self.buf = b""

    def __enter__(self):
        try:
            self._connect()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc):
        self.close()

    def _connect(self):
        deadline = time.monotonic() + 15
        while True:
            if self.proc.poll() is not None:
                raise RedisError("redis-server exited at start: " + self._log())
            try:
                s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                s.connect(self.sock_path)
                self.sock = s
                return
            except OSError:
                s.close()
                if time.monotonic() > deadline:
                    raise RedisError("redis-server did not open its socket: " + self._log()) from None
                time.sleep(0.02)

    def _log(self):
        try:
            with open(os.path.join(self.dir, "redis.log"), errors="replace") as f:
                return f.read()[-2000:]
        except OSError:
            return "(no log)"

    def close(self):
        if self.sock is not None:
            self.sock.close()
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        shutil.rmtree(self.dir, ignore_errors=True)

    # ---- RESP --------------------------------------------------------------------

    @staticmethod
    def encode(*args):
        out = [b"*%d\r\n" % len(args)]
        for a in args:
            b = a if isinstance(a, bytes) else str(a).encode()
            out += (b"$%d\r\n" % len(b), b, b"\r\n")      # no %s: it is slow for MiB values
        return b"".join(out)

    def _line(self):
        while b"\r\n" not in self.buf:
            more = self.sock.recv(65536)
            if not more:
                raise RedisError("redis-server closed the connection")
            self.buf += more
        line, _, self.buf = self.buf.partition(b"\r\n")
        return line

    def _exact(self, n):
        while len(self.buf) < n + 2:
            more = self.sock.recv(65536)
            if not more:
                raise RedisError("redis-server closed the connection")
            self.buf += more
        data, self.buf = self.buf[:n], self.buf[n + 2:]
        return data

    def reply(self):
        line = self._line()
        kind, rest = line[:1], line[1:]
        if kind == b"-":
            raise RedisError(rest.decode(errors="replace"))
        if kind in (b"+", b":"):
            return rest
        if kind == b"$":
            n = int(rest)
            return None if n < 0 else self._exact(n)
        if kind == b"*":
            n = int(rest)
            return None if n < 0 else [self.reply() for _ in range(n)]
        raise RedisError(f"unexpected reply {line[:40]!r}")

    def pipeline(self, commands):
        """Send every command, then read every reply (one round trip for the lot)."""
        self.sock.sendall(b"".join(self.encode(*c) for c in commands))
        return [self.reply() for _ in commands]

    def call(self, *args):
        return self.pipeline([args])[0]

    def dump(self):
        """SAVE, and the bytes of the file it wrote."""
        self.call("SAVE")
        with open(os.path.join(self.dir, "dump.rdb"), "rb") as f:
            return f.read()


def keyspace(rng, bulk):
    """Commands that make a keyspace with every common type and encoding, plus `bulk`
    bytes of incompressible string values (RDB's LZF leaves random bytes as they are)."""
    cmds = [("SELECT", 0),
            ("SET", "greeting", "hello from the hcdl emulator"),
            ("SET", "counter", rng.randrange(10 ** 9)),                         # int encoding
            ("SET", "session:ttl", rng.randbytes(40).hex()),
            ("PEXPIREAT", "session:ttl", FAR_FUTURE_MS),
            ("RPUSH", "queue", *[f"job-{rng.randrange(10 ** 6)}" for _ in range(20)]),      # listpack
            ("RPUSH", "biglist", *[rng.randbytes(100) for _ in range(200)]),          # quicklist
            ("SADD", "ints", *[rng.randrange(10 ** 6) for _ in range(50)]),           # intset
            ("SADD", "tags", *[f"tag-{i}-{rng.randrange(999)}" for i in range(300)]),  # hashtable
            ("ZADD", "scores", *[v for i in range(30) for v in (rng.random() * 100, f"player-{i}")]),
            ("ZADD", "bigz", *[v for i in range(200) for v in (rng.randrange(10 ** 6), rng.randbytes(20).hex())]),
            ("HSET", "user:1", "name", "Ada", "visits", rng.randrange(1000), "bio", "x" * 30),
            ("HSET", "bighash", *[v for i in range(300) for v in (f"field-{i}", rng.randbytes(30).hex())]),
            ("XADD", "events", "*", "kind", "login", "user", "ada"),
            ("XADD", "events", "*", "kind", "logout", "user", "ada"),
            ("SELECT", 1),
            ("SET", "db1:key", "a key in the second database")]
    n = 0
    while bulk > 0:
        size = min(bulk, 65536 + rng.randrange(65536))
        cmds.append(("SET", f"blob:{n:05d}", rng.randbytes(size)))
        bulk -= size
        n += 1
    cmds.append(("SELECT", 0))
    return cmds


def dataset(server, seed, target_size):
    """FLUSHALL, fill from `seed`, and return a dump of exactly target_size bytes when the
    padding can reach it (a few SAVEs; else the closest one: sizes are read, not assumed)."""
    rng = random.Random(seed)
    server.call("FLUSHALL")
    server.pipeline(keyspace(rng, max(0, target_size - 120000)))
    pad = rng.randbytes(max(0, target_size))        # the padding value is cut to length
    want = 20000
    best = None
    for _ in range(6):
        server.call("SET", "padding", pad[:want])
        data = server.dump()
        if best is None or abs(len(data) - target_size) < abs(len(best) - target_size):
            best = data
        if len(data) == target_size:
            break
        want = max(0, want + target_size - len(data))
    return best


def generate(jobs):
    """jobs: [(seed, target_size, checksum)] -> [bytes], one redis-server per setting."""
    out = [None] * len(jobs)
    for checksum in (True, False):
        mine = [i for i, j in enumerate(jobs) if j[2] == checksum]
        if not mine:
            continue
        with Server(checksum=checksum) as server:
            for i in mine:
                out[i] = dataset(server, jobs[i][0], jobs[i][1])
    return out


def write_big(path, size, seed="bench"):
    """An RDB of about `size` bytes at `path` (bench/download), written by redis-server from
    1 MiB random values sent in batches (neither side holds the whole data set twice)."""
    rng = random.Random(seed)
    parent = os.path.dirname(os.path.abspath(path))
    # 16 random MiB, each value one of them with its number in front: incompressible
    # (RDB's LZF looks within a value), and quick to make.
    blocks = [rng.randbytes(1048576) for _ in range(16)]
    with Server(checksum=True, parent=parent) as server:   # dump.rdb on the same disk: a rename
        server.pipeline(keyspace(rng, 0))
        left, n = size - 200000, 0
        while left > 0:
            batch = []
            while left > 0 and len(batch) < 32:
                k = min(left, 1048576)
                batch.append(("SET", f"blob:{n:07d}", b"%016d" % n + blocks[n % 16][16:k]))
                left -= k + 20
                n += 1
            server.pipeline(batch)
        server.call("SAVE")
        os.replace(os.path.join(server.dir, "dump.rdb"), path)
    return os.path.getsize(path)


def fixture(checksum):
    with open(FIXTURE_CHECKSUM if checksum else FIXTURE_NO_CHECKSUM, "rb") as f:
        return f.read()


def write_fixtures():
    """Regenerates fixtures/ (needs redis-server): small dumps for machines without one."""
    os.makedirs(FIXTURES, exist_ok=True)
    good, plain = generate([("fixture", 24000, True), ("fixture", 24000, False)])
    for path, data in ((FIXTURE_CHECKSUM, good), (FIXTURE_NO_CHECKSUM, plain)):
        with open(path, "wb") as f:
            f.write(data)
        print(f"{path}: {len(data)} bytes")


if __name__ == "__main__":
    if sys.argv[1:] == ["--fixtures"]:
        write_fixtures()
    elif len(sys.argv) == 4 and sys.argv[1] == "--big" and sys.argv[2].isdigit():
        print(write_big(sys.argv[3], int(sys.argv[2])))
    else:
        sys.stderr.write("usage: rdbgen.py --fixtures          (rewrites tests/emulator/fixtures/*.rdb)\n"
                         "       rdbgen.py --big SIZE PATH     (an RDB of about SIZE bytes, for bench/download)\n")
        sys.exit(2)
