#!/usr/bin/env python3
"""hcdl cloud emulator: the five temporary-download-link APIs, IAM tokens and the object
store behind the links, on one port.  Python 3 standard library only (+ the openssl CLI
for --tls).  See README.md in this directory.
"""

import signal
import threading

# Installed before anything slow (imports, key generation), so SIGTERM/SIGINT at any point
# after interpreter start-up ends in a clean exit 0 with temp files removed.
STOP = threading.Event()
if __name__ == "__main__":
    for _sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(_sig, lambda *_: STOP.set())

import argparse  # noqa: E402
import base64  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import re  # noqa: E402
import secrets  # noqa: E402
import select  # noqa: E402
import shutil  # noqa: E402
import socket  # noqa: E402
import ssl  # noqa: E402
import string  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
import traceback  # noqa: E402
import urllib.parse  # noqa: E402
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import apis  # noqa: E402
import mirror  # noqa: E402
import auth  # noqa: E402
import content  # noqa: E402
import data  # noqa: E402
import faults as faultmod  # noqa: E402
import identity  # noqa: E402
import sigv  # noqa: E402
import store as storemod  # noqa: E402

REGION = "emulator"
GATEWAY_STATUS = {
    429: ("APIGW.0308", "The throttling threshold has been reached: policy user over ratelimit,limit:10,time:1 second"),
    500: ("APIGW.0103", "The backend service encountered an internal error."),
    502: ("APIGW.0202", "Bad gateway: the backend returned an invalid response."),
    503: ("APIGW.0203", "The backend service is unavailable."),
    504: ("APIGW.0201", "Backend timeout."),
}
STORE_STATUS = {429: "SlowDown", 500: "InternalError", 502: "BadGateway", 503: "ServiceUnavailable",
                504: "GatewayTimeout"}


def rand_alnum(n, alphabet=string.ascii_uppercase + string.digits):
    return "".join(secrets.choice(alphabet) for _ in range(n))


class RequestLog:
    def __init__(self, cap=200000):
        self._lock, self._items, self._cap = threading.Lock(), [], cap

    def add(self, item):
        with self._lock:
            self._items.append(item)
            if len(self._items) > self._cap:
                del self._items[:len(self._items) - self._cap]

    def list(self):
        with self._lock:
            return list(self._items)

    def clear(self):
        with self._lock:
            self._items.clear()


class App:
    """Everything a request handler needs; shared by the HTTPS and HTTP listeners."""

    def __init__(self, args, data_dir):
        self.args, self.data_dir = args, data_dir
        self.project_id = args.project_id or secrets.token_hex(16)
        self.ak = args.ak or rand_alnum(20)
        self.sk = args.sk or rand_alnum(40, string.ascii_letters + string.digits)
        self.temp_ak = rand_alnum(20)
        self.temp_sk = rand_alnum(40, string.ascii_letters + string.digits)
        # Real security tokens are long base64 blobs with '+', '/' and '=' - so is ours.
        self.security_token = "gQpl" + base64.b64encode(secrets.token_bytes(480)).decode()
        self.iam_user, self.iam_password, self.iam_domain = "hcdl-user", "Emulator-Passw0rd!", "hcdl-domain"
        self.seed = data.Seed(self.project_id)
        self.state = data.State(self.seed, args.errorlog_creating)
        self.store = storemod.Store(self.state, data_dir, rand_alnum(20), rand_alnum(40, string.ascii_letters))
        self.auth = auth.Auth(self.state, self.project_id, REGION, self.ak, self.sk, self.temp_ak,
                              self.temp_sk, self.security_token, self.iam_user, self.iam_password,
                              self.iam_domain)
        self.identity = identity.Identity(self.state, self.auth, REGION, self.project_id)
        self.faults = faultmod.Faults()
        self.requests = RequestLog()
        self.quiet = args.quiet
        self.info = {}

    def reset(self):
        self.faults.clear()
        self.requests.clear()
        self.state.reset()
        self.identity.reset()
        self.auth.clear_temporary()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "hcdl-emulator"
    sys_version = ""
    timeout = 300           # idle keep-alive connections end eventually

    # ---- plumbing ----------------------------------------------------------------

    def setup(self):
        super().setup()
        # Headers and small bodies are separate writes; without NODELAY, Nagle + the
        # client's delayed ACK would add ~40 ms to every keep-alive request.
        try:
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError:
            pass

    def log_message(self, fmt, *a):
        if not self.server.app.quiet:
            sys.stderr.write("emulator: %s - %s\n" % (self.address_string(), fmt % a))

    def do_GET(self):
        self._dispatch("GET")

    def do_HEAD(self):
        self._dispatch("HEAD")

    def do_POST(self):
        self._dispatch("POST")

    def do_PUT(self):
        self._dispatch("PUT")

    def do_DELETE(self):
        self._dispatch("DELETE")

    def do_PATCH(self):
        self._dispatch("PATCH")

    def do_OPTIONS(self):
        self._dispatch("OPTIONS")

    def _read_body(self):
        te = (self.headers.get("Transfer-Encoding") or "").lower()
        if "chunked" in te:
            out = bytearray()
            while True:
                line = self.rfile.readline(65537).split(b";")[0].strip()
                n = int(line, 16)
                if n == 0:
                    while self.rfile.readline(65537) not in (b"\r\n", b"\n", b""):
                        pass
                    return bytes(out)
                out += self.rfile.read(n)
                self.rfile.readline(65537)
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n > 0 else b""

    def _dispatch(self, method):
        app = self.server.app
        t0 = time.time()
        self.rid = secrets.token_hex(16)
        self.method = method
        raw = self.path
        if raw.startswith(("http://", "https://")):        # absolute-form (proxy style)
            raw = "/" + raw.split("/", 3)[3] if raw.count("/") >= 3 else "/"
        raw_path, _, raw_query = raw.partition("?")
        log = {"time": t0, "method": method, "path": raw_path, "query": raw_query, "api": None,
               "status": None, "range": self.headers.get("Range"), "bytes_sent": 0,
               "request_id": self.rid, "faults": []}
        logged = False      # every request except the control endpoint's is logged
        control = raw_path.startswith("/_emulator/") or raw_path == "/_emulator"
        try:
            try:
                body = self._read_body()
            except (ValueError, OSError):
                self.close_connection = True
                return
            hdrs = {}
            for k, v in self.headers.items():
                hdrs.setdefault(k.lower(), v)
            if control:
                return self._control(method, raw_path, raw_query, body)
            idn = identity.Identity.route(method, raw_path)
            rt = (idn, None, {}) if idn else apis.route(method, raw_path, hdrs.get("host"))
            first = urllib.parse.unquote(raw_path.lstrip("/").split("/", 1)[0])
            if rt is not None:
                log["api"] = rt[0]
                reply, applied = self._api(rt, method, raw_path, raw_query, hdrs, body)
            elif first in data.BUCKETS:
                log["api"] = "store"
                applied = app.faults.take("store")
                if method not in ("GET", "HEAD"):
                    reply = app.store.error(405, "MethodNotAllowed", "The specified method is not allowed "
                                            "against this resource.", self.rid, method == "HEAD")
                elif "status" in applied:
                    f = applied["status"]
                    reply = app.store.error(f["status"], STORE_STATUS.get(f["status"], "InternalError"),
                                            "Injected fault.", self.rid, method == "HEAD")
                    if f.get("retry_after") is not None:
                        reply.headers.append(("Retry-After", str(f["retry_after"])))
                else:
                    if "ignore_range" in applied:
                        hdrs.pop("range", None)
                    elif "shift_range" in applied and "range" in hdrs:
                        m = re.match(r"^bytes=(\d+)-(\d*)$", hdrs["range"].strip())
                        if m:
                            start = max(0, int(m.group(1)) - applied["shift_range"]["by"])
                            hdrs["range"] = f"bytes={start}-{m.group(2)}"
                    reply = app.store.handle(method, raw_path, raw_query, hdrs, self.rid)
                reply.headers += [("x-obs-request-id", self.rid[:16].upper()),
                                  ("x-obs-id-2", storemod.hostid(self.rid))]
            else:
                applied = {}
                reply = self._json(404, {"error_msg": "The API does not exist or has not been published in "
                                         "the environment", "error_code": "APIGW.0101",
                                         "request_id": self.rid})
            log["faults"] = sorted(applied)
            log["status"] = reply.status
            # Logged before sending: a client that has read the response must find it.
            log["bytes_sent"] = self._planned_bytes(reply, applied)
            app.requests.add(log)
            logged = True
            log["bytes_sent"] = self._send(reply, applied)
        except (BrokenPipeError, ConnectionResetError, ssl.SSLError, socket.timeout):
            self.close_connection = True
        except Exception:   # a bug here must not kill the connection thread silently
            traceback.print_exc()
            self.close_connection = True
            try:
                self._send(self._json(500, {"error_code": "EMULATOR.500", "error_msg": "internal emulator "
                                            "error (see its stderr)", "request_id": self.rid}), {})
            except OSError:
                pass
        finally:
            if not control and not logged:
                app.requests.add(log)

    def _json(self, status, obj, headers=()):
        body = b"" if obj is None else json.dumps(obj, separators=(",", ":")).encode()
        hdrs = list(headers)
        if obj is not None:
            hdrs.append(("Content-Type", "application/json"))
        return storemod.Reply(status, hdrs, body)

    def base_url(self):
        return self.server.base_url

    # ---- APIs --------------------------------------------------------------------

    def _api(self, rt, method, raw_path, raw_query, hdrs, body):
        app = self.server.app
        name, handler, params = rt
        applied = app.faults.take(name)
        if "status" in applied:
            f = applied["status"]
            code, msg = GATEWAY_STATUS.get(f["status"], ("APIGW.0000", "Injected fault."))
            extra = [("Retry-After", str(f["retry_after"]))] if f.get("retry_after") is not None else []
            return self._json(f["status"], {"error_msg": msg, "error_code": code, "request_id": self.rid},
                              extra), applied
        query = {}
        for k, v in apis_query(raw_query):
            query.setdefault(k, v)
        if name == "iam_tokens":
            reply = self._iam(body, query)
        elif name in identity.NAMES:
            status, headers, data = app.identity.handle(name, method, raw_path, raw_query, hdrs, body, self.rid)
            reply = storemod.Reply(status, headers, data)
        else:
            reply = self._call(handler, params, method, raw_path, raw_query, hdrs, body, query, applied)
        if "malformed_json" in applied:
            # 200 with a body cut in half: the client must fail cleanly, not crash.
            cut = reply.body[:max(1, len(reply.body) // 2)] if reply.body else b'{"files":[{"name":'
            reply = storemod.Reply(200, [("Content-Type", "application/json")], cut)
        reply.headers.append(("X-Request-Id", self.rid))
        return reply, applied

    def _iam(self, body, query):
        app = self.server.app
        try:
            token, obj = app.auth.issue_token(body, query, self.base_url())
        except auth.IamError as e:
            title = {400: "Bad Request", 401: "Unauthorized"}.get(e.status, "Error")
            return self._json(e.status, {"error": {"code": e.status, "message": e.message, "title": title}},
                              [("X-IAM-Trace-Id", self.rid)])
        return self._json(201, obj, [("X-Subject-Token", token), ("X-IAM-Trace-Id", self.rid)])

    def _call(self, handler, params, method, raw_path, raw_query, hdrs, body, query, applied):
        app = self.server.app
        gw = lambda msg: self._json(401, {"error_msg": msg, "error_code": "APIGW.0301",  # noqa: E731
                                          "request_id": self.rid})
        try:
            token_project = app.auth.verify(method, raw_path, raw_query, hdrs, body)
        except auth.AuthError as e:
            return gw(str(e))
        pid = params.get("project_id")
        xpid = hdrs.get("x-project-id")
        if xpid is not None and xpid.strip() != pid:
            return gw(auth.IAM_PREFIX + f"X-Project-Id {xpid.strip()} does not match the project id "
                      f"{pid} in the URL")
        if token_project is not None and token_project != pid:
            return gw(auth.IAM_PREFIX + f"the token is scoped to project {token_project}, "
                      f"not {pid}")
        if pid != app.project_id:
            return gw(auth.IAM_PREFIX + f"project {pid} does not exist or does not belong to the "
                      "caller")
        ttl = applied["link_ttl"]["ttl"] if "link_ttl" in applied else None
        ctx = apis.Ctx(app.state, app.store, self.base_url(), params, query, body, ttl)
        try:
            status, obj = handler(ctx)
        except apis.ApiError as e:
            return self._json(e.status, e.body())
        return self._json(status, obj)

    # ---- control endpoint --------------------------------------------------------

    def _control(self, method, raw_path, raw_query, body):
        app = self.server.app
        what = raw_path[len("/_emulator/"):].strip("/")
        try:
            req = json.loads(body.decode() or "null") if body else None
        except ValueError:
            return self._send(self._json(400, {"error": "body is not JSON"}), {})
        ok = lambda obj, status=200: self._send(self._json(status, obj), {})  # noqa: E731
        try:
            if what == "info" and method == "GET":
                return ok(app.info)
            if what == "faults":
                if method == "GET":
                    return ok(app.faults.list())
                if method == "POST":
                    specs = req if isinstance(req, list) else [req]
                    added = [app.faults.add(s) for s in specs]
                    return ok(added if isinstance(req, list) else added[0])
                if method == "DELETE":
                    app.faults.clear()
                    return ok([])
            if what == "requests":
                if method == "GET":
                    return ok(app.requests.list())
                if method == "DELETE":
                    app.requests.clear()
                    return ok([])
            if what == "config":
                if method == "GET":
                    return ok(app.state.config)
                if method == "POST":
                    if not isinstance(req, dict):
                        raise ValueError("body must be a JSON object")
                    return ok(app.state.set_config(req))
            if what == "identity":
                if method == "GET":
                    return ok({"config": app.identity.config, **app.identity.info(self.base_url())})
                if method == "POST":
                    if not isinstance(req, dict):
                        raise ValueError("body must be a JSON object")
                    return ok(app.identity.set_config(req))
            if what == "identity/metadata-tokens" and method == "DELETE":
                app.identity.forget_metadata_tokens()
                return ok([])
            if what == "reset" and method == "POST":
                app.reset()
                return ok(app.state.config)
            if what == "objects" and method == "POST":
                return ok(self._new_object(req))
            if what == "audit":
                return ok(apis.audit_control(app.state, method, req))
            if what == "mirror" and method == "POST" and isinstance(req, dict) and isinstance(req.get("dir"), str):
                return ok(mirror.check(req["dir"]))
        except (ValueError, faultmod.FaultError) as e:
            return self._send(self._json(400, {"error": str(e)}), {})
        return self._send(self._json(404, {"error": f"no control endpoint {method} /_emulator/{what}"}), {})

    def _new_object(self, req):
        app = self.server.app
        if not isinstance(req, dict):
            raise ValueError("body must be a JSON object {name, size, ttl}")
        name, size, ttl = req.get("name"), req.get("size"), req.get("ttl", 3600)
        verb = req.get("method", "GET")
        if not isinstance(name, str) or not name or not set(name) <= set(string.ascii_letters + string.digits + "._-"):
            raise ValueError("name must be non-empty [A-Za-z0-9._-]")
        if isinstance(size, bool) or not isinstance(size, int) or size < 0:
            raise ValueError("size must be an integer >= 0")
        if isinstance(ttl, bool) or not isinstance(ttl, int):
            raise ValueError("ttl must be an integer (seconds; negative = already expired)")
        if verb not in ("GET", "HEAD"):
            raise ValueError("method must be GET or HEAD")
        subres = []
        if req.get("cache_control") is not None:
            subres.append(("response-cache-control", str(req["cache_control"])))
        obj = app.state.add_object(data.BUCKET_ADHOC, name, size)
        url, expires = app.store.presign(self.base_url(), obj, ttl, subres, verb)
        return {"url": url, "etag": '"' + app.store.etag(obj) + '"', "size": size, "name": name,
                "bucket": obj.bucket, "key": obj.key, "expires": expires}

    # ---- sending -----------------------------------------------------------------

    def _planned_bytes(self, reply, applied):
        if self.method == "HEAD" or reply.status in (204, 304):
            return 0
        n = reply.content_length
        return min(n, applied["drop_after"]["bytes"]) if "drop_after" in applied else n

    def _send(self, reply, applied):
        """Write a Reply, applying the response-shaping faults.  Returns body bytes sent."""
        if "slow_first_byte" in applied:
            time.sleep(applied["slow_first_byte"]["seconds"])
        no_body = self.method == "HEAD" or reply.status in (204, 304)
        length = reply.head_length if reply.head_length is not None else reply.content_length
        lying = applied.get("lying_length")
        drop = applied.get("drop_after")
        rate = applied["throttle"]["rate"] if "throttle" in applied else None
        self.send_response_only(reply.status)
        self.send_header("Date", self.date_time_string())
        self.send_header("Server", "OBS" if any(k == "x-obs-request-id" for k, _ in reply.headers)
                         else "api-gateway")
        if not any(k == "X-Request-Id" for k, _ in reply.headers):
            self.send_header("X-Request-Id", self.rid)
        for k, v in reply.headers:
            self.send_header(k, v)
        if reply.status != 204 and not (reply.status == 304):
            self.send_header("Content-Length", str(length + (lying["extra"] if lying and not no_body else 0)))
        if drop or lying:
            self.send_header("Connection", "close")
            self.close_connection = True
        self.log_request(reply.status, length)
        sent = 0
        if not no_body and reply.obj is None and not (drop or rate or lying):
            # Headers and body in one write.
            self._headers_buffer.append(b"\r\n")
            self._headers_buffer.append(reply.body)
            self.flush_headers()
            return len(reply.body)
        self.end_headers()
        if not no_body:
            limit = min(length, drop["bytes"]) if drop else length
            if reply.obj is not None:
                sent = self._write_object(reply.obj, reply.offset, limit, rate)
            else:
                sent = self._write_bytes(reply.body[:limit], rate)
        if drop or lying:
            try:
                self.wfile.flush()
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        return sent

    def _paced(self, start, sent, rate):
        delay = start + sent / rate - time.monotonic()
        if delay > 0:
            time.sleep(delay)

    def _write_bytes(self, buf, rate):
        if not rate:
            self.wfile.write(buf)
            return len(buf)
        start, sent, step = time.monotonic(), 0, max(1, min(65536, rate // 10))
        while sent < len(buf):
            self.wfile.write(buf[sent:sent + step])
            sent += len(buf[sent:sent + step])
            self._paced(start, sent, rate)
        return sent

    def _write_object(self, obj, offset, length, rate):
        """Stream object bytes.  Plain TCP: os.sendfile from the doubled pattern file (zero
        copy, no Python in the data path); TLS or throttled: memory chunks."""
        sock = self.connection
        if rate or isinstance(sock, ssl.SSLSocket):
            step = max(1, min(262144, rate // 10)) if rate else 262144
            start, sent = time.monotonic(), 0
            for chunk in content.chunks(obj.name, offset, length, step):
                sock.sendall(chunk)
                sent += len(chunk)
                if rate:
                    self._paced(start, sent, rate)
            return sent
        store = self.server.app.store
        pos = (content.shift(obj.name) + offset) % content.P
        sent = 0
        fd = os.open(store.pattern_path, os.O_RDONLY)
        try:
            out = sock.fileno()
            while sent < length:
                n = min(length - sent, content.P)
                try:
                    k = os.sendfile(out, fd, pos, n)
                except BlockingIOError:       # socket has a timeout -> non-blocking; wait
                    select.select([], [out], [], self.timeout)
                    continue
                if k == 0:
                    raise BrokenPipeError
                sent += k
                pos = (pos + k) % content.P
        finally:
            os.close(fd)
        return sent


def apis_query(raw_query):
    """Decoded (key, value) pairs, decoded exactly as the signature verifier does."""
    return [(k.decode("utf-8", "replace"), v.decode("utf-8", "replace")) for k, v in sigv.parse_query(raw_query)]


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 256

    def __init__(self, addr, app, scheme, ssl_ctx=None):
        super().__init__(addr, Handler)
        self.app, self.scheme, self.ssl_ctx = app, scheme, ssl_ctx
        self.base_url = ""

    def finish_request(self, request, client_address):
        # TLS handshake here, in the connection's thread, so a slow client can't block accept().
        if self.ssl_ctx is None:
            return super().finish_request(request, client_address)
        try:
            tls = self.ssl_ctx.wrap_socket(request, server_side=True)
        except (ssl.SSLError, OSError):
            return
        try:
            self.RequestHandlerClass(tls, client_address, self)
        finally:
            try:
                tls.close()
            except OSError:
                pass

    def handle_error(self, request, client_address):
        if not self.app.quiet:
            super().handle_error(request, client_address)


# Each service also answers on its own name (curl resolves *.localhost to the loopback
# address): the cloud tells services apart by host, and two of them share a path.
SERVICES = ("gaussdb", "rds", "dcs", "iam")
SERVICE_NAMES = ["DNS:" + svc + ".localhost" for svc in SERVICES]


def make_tls(data_dir, hosts):
    """CA + server certificate (SAN: 127.0.0.1, localhost, --host) via the openssl CLI."""
    d = os.path.join(data_dir, "tls")
    os.makedirs(d, exist_ok=True)
    p = lambda n: os.path.join(d, n)  # noqa: E731
    san = ",".join(sorted({"IP:127.0.0.1", "DNS:localhost"} | set(SERVICE_NAMES) | {
        ("IP:" if h.replace(".", "").isdigit() or ":" in h else "DNS:") + h for h in hosts if h not in ("0.0.0.0", "")}))
    with open(p("ext.cnf"), "w") as f:
        f.write(f"subjectAltName={san}\nbasicConstraints=critical,CA:FALSE\n"
                "keyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n")

    def run(*cmd):
        subprocess.run(["openssl", *cmd], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    run("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
        "-keyout", p("ca.key"), "-out", p("ca.pem"), "-days", "3650", "-subj", "/CN=hcdl emulator test CA",
        "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign")
    run("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
        "-keyout", p("server.key"), "-out", p("server.csr"), "-subj", "/CN=127.0.0.1")
    run("x509", "-req", "-in", p("server.csr"), "-CA", p("ca.pem"), "-CAkey", p("ca.key"),
        "-set_serial", str(int.from_bytes(secrets.token_bytes(8), "big")), "-days", "825",
        "-out", p("server.pem"), "-extfile", p("ext.cnf"))
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_cert_chain(p("server.pem"), p("server.key"))
    return ctx, p("ca.pem"), d


def parse_args(argv):
    ap = argparse.ArgumentParser(description="hcdl local cloud emulator (see tests/emulator/README.md)")
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=0, help="0 = any free port")
    ap.add_argument("--ak")
    ap.add_argument("--sk")
    ap.add_argument("--project-id")
    ap.add_argument("--tls", action="store_true", help="serve HTTPS (and HTTP on a second port)")
    ap.add_argument("--data", help="data dir (pattern file, ETag cache, TLS files); default: a temp dir")
    ap.add_argument("--config-out", help="write the connection details as JSON here once ready")
    ap.add_argument("--errorlog-creating", type=int, default=2)
    ap.add_argument("--quiet", action="store_true")
    a = ap.parse_args(argv)
    if a.project_id and not (len(a.project_id) == 32 and set(a.project_id) <= set("0123456789abcdef")):
        ap.error("--project-id must be 32 lower-case hex digits")
    if a.ak and not a.ak.isalnum():
        ap.error("--ak must be alphanumeric")
    return a


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    stop = STOP
    own_dir = args.data is None
    data_dir = tempfile.mkdtemp(prefix="hcdl-emulator-") if own_dir else os.path.abspath(args.data)
    os.makedirs(data_dir, exist_ok=True)
    tls_dir = None
    servers, started = [], []
    app = None
    try:
        app = App(args, data_dir)
        adv = "127.0.0.1" if args.host in ("0.0.0.0", "::", "") else args.host
        if args.tls:
            ctx, cafile, tls_dir = make_tls(data_dir, [args.host])
            servers.append(Server((args.host, args.port), app, "https", ctx))
            servers.append(Server((args.host, 0), app, "http"))
        else:
            cafile = None
            servers.append(Server((args.host, args.port), app, "http"))
        for s in servers:
            s.base_url = f"{s.scheme}://{adv}:{s.server_address[1]}"
        main_srv = servers[0]
        endpoint = main_srv.base_url
        port = main_srv.server_address[1]
        endpoints = {svc: f"{main_srv.scheme}://{svc}.localhost:{port}" for svc in SERVICES}
        app.info = {
            "endpoint": endpoint, "port": main_srv.server_address[1], "host": adv,
            "endpoint_http": servers[1].base_url if args.tls else endpoint,
            "endpoints": endpoints,
            "region": REGION, "ak": app.ak, "sk": app.sk, "project_id": app.project_id,
            "tls": bool(args.tls), "cafile": cafile,
            "temporary": {"ak": app.temp_ak, "sk": app.temp_sk, "security_token": app.security_token},
            "iam": {"user": app.iam_user, "password": app.iam_password, "domain": app.iam_domain,
                    "project_name": REGION, "url": endpoint + "/v3/auth/tokens"},
            "control": endpoint + "/_emulator",
            "identity": app.identity.info(endpoint),
            "store": {"buckets": list(data.BUCKETS)},
            "seed": app.seed.seed_json(),
            "pid": os.getpid(),
            "data_dir": data_dir,
        }
        # Seed objects are small (~25 MB in all): compute their ETags now, off the request path.
        def warm():
            for o in list(app.seed.objects.values()):
                app.store.etag(o, persist=False)
            app.store.save_etags()
        threading.Thread(target=warm, daemon=True).start()
        for s in servers:
            threading.Thread(target=s.serve_forever, kwargs={"poll_interval": 0.2}, daemon=True).start()
            started.append(s)

        lua = (f'hcdl.new{{ region = "{REGION}", project_id = "{app.project_id}", ak = "{app.ak}", '
               f'sk = "{app.sk}", endpoints = {{ '
               + ", ".join(f'{svc} = "{url}"' for svc, url in endpoints.items()) + " }"
               + (f', cafile = "{cafile}"' if cafile else "") + " }")
        print(f"hcdl emulator listening on {endpoint}" + (f" (plain HTTP: {servers[1].base_url})" if args.tls else ""))
        print(f"port: {main_srv.server_address[1]}")
        print(f"ak: {app.ak}\nsk: {app.sk}\nproject_id: {app.project_id}")
        print(f"control: {endpoint}/_emulator")
        print(f"lua: {lua}", flush=True)
        if args.config_out and not stop.is_set():
            tmp = args.config_out + ".tmp"
            with open(tmp, "w") as f:
                json.dump(app.info, f, indent=1)
            os.replace(tmp, args.config_out)
        while not stop.wait(0.5):
            pass
        return 0
    finally:
        for s in started:
            s.shutdown()
        for s in servers:
            s.server_close()
        if app is not None:
            app.store.close()
        if own_dir:
            shutil.rmtree(data_dir, ignore_errors=True)
        elif tls_dir:
            shutil.rmtree(tls_dir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
