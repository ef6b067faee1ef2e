"""Test helpers: start the emulator as a subprocess and talk to it over HTTP.

The signer here is written independently of sigv.py (straight from the SDK rules), so
the API tests do not merely check the verifier against itself.
"""

import hashlib
import hmac
import http.client
import json
import os
import shutil
import signal
import ssl
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.parse
from datetime import datetime, timezone

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.normpath(os.path.join(HERE, "..", ".."))
SERVER = os.path.join(HERE, "server.py")


def enc(s):
    return urllib.parse.quote(s if isinstance(s, str) else str(s), safe="-_.~")


def sdk_date(t=None):
    return datetime.fromtimestamp(time.time() if t is None else t, timezone.utc).strftime("%Y%m%dT%H%M%SZ")


def sign(method, host, path, query, headers, body, ak, sk, date=None, signed=None):
    """SDK-HMAC-SHA256 as the official SDKs do it.  query: list of (k, v).
    Returns (wire query, headers incl. Authorization)."""
    headers = dict(headers)
    headers.setdefault("X-Sdk-Date", date or sdk_date())
    headers["Host"] = host
    lower = {k.lower(): str(v) for k, v in headers.items()}
    names = signed or sorted(lower)
    pairs = sorted((k.encode(), str(v).encode()) for k, v in query)
    cq = "&".join(enc(k.decode()) + "=" + enc(v.decode()) for k, v in pairs)
    segs = path.split("/")
    curi = "/".join(enc(urllib.parse.unquote(s)) for s in segs)
    if not curi.endswith("/"):
        curi += "/"
    ph = lower.get("x-sdk-content-sha256") or hashlib.sha256(body).hexdigest()
    creq = "\n".join([method, curi, cq, "".join(f"{n}:{lower[n].strip()}\n" for n in names), ";".join(names), ph])
    sts = "SDK-HMAC-SHA256\n" + lower["x-sdk-date"] + "\n" + hashlib.sha256(creq.encode()).hexdigest()
    sig = hmac.new(sk.encode(), sts.encode(), hashlib.sha256).hexdigest()
    headers["Authorization"] = f"SDK-HMAC-SHA256 Access={ak}, SignedHeaders={';'.join(names)}, Signature={sig}"
    return cq, headers


class Resp:
    def __init__(self, status, headers, body):
        self.status, self.headers, self.body = status, headers, body

    def header(self, name):
        for k, v in self.headers:
            if k.lower() == name.lower():
                return v
        return None

    def json(self):
        return json.loads(self.body)

    def __repr__(self):
        return f"<Resp {self.status} {self.body[:300]!r}>"


class Emulator:
    def __init__(self, *extra):
        self.dir = tempfile.mkdtemp(prefix="hcdl-emu-test-")
        cfg = os.path.join(self.dir, "config.json")
        self.proc = subprocess.Popen([sys.executable, SERVER, "--port", "0", "--quiet", "--config-out", cfg,
                                      *extra], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        deadline = time.time() + 20
        while not os.path.exists(cfg):
            if self.proc.poll() is not None or time.time() > deadline:
                out, err = self.proc.communicate(timeout=5) if self.proc.poll() is not None else (b"", b"")
                raise RuntimeError(f"emulator did not start: {err.decode()[-2000:]}")
            time.sleep(0.05)
        with open(cfg) as f:
            self.info = json.load(f)
        u = urllib.parse.urlsplit(self.info["endpoint"])
        self.scheme, self.host, self.port = u.scheme, u.hostname, u.port
        self.hostport = f"{u.hostname}:{u.port}"
        self.pid_ = self.info["project_id"]
        self.seed = self.info["seed"]

    def stop(self):
        """SIGTERM; returns (exit status, stderr text)."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        err = self.proc.stderr.read().decode(errors="replace")
        self.proc.stdout.close()
        self.proc.stderr.close()
        shutil.rmtree(self.dir, ignore_errors=True)
        return self.proc.returncode, err

    # ---- raw HTTP ------------------------------------------------------------------

    def conn(self, timeout=30):
        if self.scheme == "https":
            ctx = ssl.create_default_context(cafile=self.info["cafile"])
            return http.client.HTTPSConnection(self.host, self.port, timeout=timeout, context=ctx)
        return http.client.HTTPConnection(self.host, self.port, timeout=timeout)

    def raw(self, method, target, headers=None, body=b"", conn=None):
        c = conn or self.conn()
        hdrs = dict(headers or {})
        skip_host = any(k.lower() == "host" for k in hdrs)
        c.putrequest(method, target, skip_host=skip_host, skip_accept_encoding=True)
        for k, v in hdrs.items():
            c.putheader(k, v)
        if body or method in ("POST", "PUT", "PATCH"):
            c.putheader("Content-Length", str(len(body)))
        c.endheaders(body if body else None)
        r = c.getresponse()
        data = r.read()
        res = Resp(r.status, r.getheaders(), data)
        if conn is None:
            c.close()
        return res

    def url(self, url, headers=None, method="GET"):
        u = urllib.parse.urlsplit(url)
        target = u.path + ("?" + u.query if u.query else "")
        return self.raw(method, target, headers)

    def control(self, method, what, obj=None):
        body = b"" if obj is None else json.dumps(obj).encode()
        r = self.raw(method, "/_emulator/" + what, {"Content-Type": "application/json"}, body)
        if r.status != 200:
            raise AssertionError(f"control {method} {what}: {r}")
        return r.json()

    # ---- signed API calls ----------------------------------------------------------

    def call(self, method, path, query=(), body=b"", headers=None, ak=None, sk=None, date=None,
             project_header=True, token=None, security_token=None, signed=None, conn=None):
        if isinstance(body, (dict, list)):
            body = json.dumps(body).encode()
        path = path.replace("{project_id}", self.pid_)
        hdrs = {"Content-Type": "application/json"}
        if project_header:
            hdrs["X-Project-Id"] = self.pid_
        if security_token:
            hdrs["X-Security-Token"] = security_token
        hdrs.update(headers or {})
        if token is not None:
            hdrs["X-Auth-Token"] = token
            q = "&".join(enc(k) + "=" + enc(v) for k, v in query)
            hdrs["Host"] = self.hostport
        else:
            q, hdrs = sign(method, self.hostport, path, list(query), hdrs, body,
                           ak or self.info["ak"], sk or self.info["sk"], date, signed)
        return self.raw(method, path + ("?" + q if q else ""), hdrs, body, conn)


class EmulatorTestCase(unittest.TestCase):
    """One emulator per test class; state reset before each test."""
    emulator_args = ()

    @classmethod
    def setUpClass(cls):
        cls.emu = Emulator(*cls.emulator_args)

    @classmethod
    def tearDownClass(cls):
        rc, err = cls.emu.stop()
        if rc != 0 or "Traceback" in err:
            raise AssertionError(f"emulator exited with {rc}: {err[-3000:]}")

    def setUp(self):
        self.emu.control("POST", "reset")

    def assertApiError(self, r, status, code):
        self.assertEqual(r.status, status, r)
        self.assertEqual(r.json()["error_code"], code, r)
        self.assertRegex(r.header("X-Request-Id") or "", r"^[0-9a-f]{32}$")
