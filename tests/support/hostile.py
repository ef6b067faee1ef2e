#!/usr/bin/env python3
"""A hostile HTTP server for hcdl's fault-matrix tests (Python 3 standard library only).

Unlike the emulator, which stands in for the cloud and is as strict as the cloud, this
server lies on purpose: it serves objects whose bytes, ETag or size change between
requests, ignores Range or If-Range, announces totals that disagree, trickles, stalls,
drops, and echoes secrets (the link's query string, the Authorization header, the request
body) back in its error answers.  It verifies nothing.

    python3 tests/support/hostile.py [--host 127.0.0.1] [--port 0] [--config-out FILE]

prints "port N" once listening and writes {"port", "endpoint", "control", "pid"} to FILE
(atomically).  SIGTERM / SIGINT stop it.

Control endpoint (JSON, never logged):

  POST   /_hostile/reset                      forget objects, scripts and the request log
  POST   /_hostile/objects   OBJECT           define (or replace) the object at OBJECT.path
  POST   /_hostile/script    {path, answers, default}
                                              answers: a queue of ANSWERs for requests to
                                              that path (query ignored), one per request;
                                              then `default` (if given) for every later one
  GET    /_hostile/requests                   every request since the last clear
  DELETE /_hostile/requests

OBJECT: {"path": "/b/k", "size": N, "seed": "s", "etag": "md5"|"opaque"|"none"|literal,
         "last_modified": "HTTP-date"|null}  -> {"path", "url", "size", "md5", "etag",
         "last_modified"}.  Bytes are random.Random(seed).randbytes(size); "md5" (default)
         gives a quoted MD5 ETag, "opaque" a quoted non-MD5 one ("<hex>-2"), "none" no
         ETag; any other string is sent as given.  Without last_modified each definition
         gets a new Last-Modified; null sends none.

ANSWER (every field optional):
  set_object      OBJECT fields (path implied): replace the object, then answer
  delay           seconds to wait before the status line
  status          a canned answer with this status, `headers` and `body` (below) instead
                  of the object; body and header values may contain
                  {{query}} {{target}} {{body}} {{header:NAME}} {{param:NAME}}
                  (NAME a query parameter; its raw, still percent-encoded value);
                  {{json:...}} inserts the same value escaped for a JSON string
  body_b64        the body as base64 (any bytes: invalid UTF-8, NUL), then filled as
                  `body` is; wins over `body`
  headers_b64     {name: base64 of the value's bytes}: header values with any byte a
                  header line can carry (ESC, BEL, bytes >= 0x80), added after `headers`
  -- when serving the object:
  ignore_range    answer 200 with the whole object even to a Range request
  ignore_if_range honour Range even when If-Range no longer matches the object
  range_total     the total announced in Content-Range (206 and 416)
  etag            the ETag header of this answer (a literal), or "none"
  corrupt         flip one byte of the body (the headers stay those of the real bytes)
  status_416      answer 416 "bytes */<total>" whatever was asked, Range or not
  drop_after      send the headers, then only this many body bytes, then close
  rate            bytes per second (1 = a byte a second)
  stall           send the headers, then nothing for this many seconds, then close

Request log entries: {"time", "method", "target" (the raw request-target, byte for byte),
"path", "query", "headers" {lower-case name: value}, "body", "status", "bytes_sent",
"answer" (index in the queue, "default" or null)}.
"""

import argparse
import base64
import email.utils
import hashlib
import json
import os
import random
import re
import signal
import socket
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

CONTROL = "/_hostile"
REASONS = {200: "OK", 201: "Created", 204: "No Content", 206: "Partial Content",
           400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found",
           416: "Range Not Satisfiable", 429: "Too Many Requests",
           500: "Internal Server Error", 502: "Bad Gateway", 503: "Service Unavailable",
           504: "Gateway Timeout"}
FIRST_MODIFIED = 1690161420  # 2023-07-24T01:17:00Z; each new object definition adds a minute


class State:
    """Objects, scripts and the request log, shared by every connection."""

    def __init__(self):
        self.lock = threading.Lock()
        self.generation = 0
        self.reset()

    def reset(self):
        with self.lock:
            self.objects, self.scripts, self.log = {}, {}, []

    def define(self, spec, endpoint):
        path = spec.get("path")
        if not isinstance(path, str) or not path.startswith("/"):
            raise ValueError("object: path must start with /")
        size = spec.get("size", 0)
        if not isinstance(size, int) or size < 0:
            raise ValueError("object: size must be a non-negative integer")
        seed = str(spec.get("seed", path))
        data = random.Random(seed).randbytes(size)
        md5 = hashlib.md5(data).hexdigest()
        mode = spec.get("etag", "md5")
        if mode == "md5":
            etag = '"%s"' % md5
        elif mode == "opaque":
            etag = '"%s-2"' % hashlib.sha1((seed + str(size)).encode()).hexdigest()[:24]
        elif mode == "none":
            etag = None
        else:
            etag = str(mode)
        with self.lock:
            self.generation += 1
            if "last_modified" in spec:
                modified = spec["last_modified"]
            else:
                modified = email.utils.formatdate(FIRST_MODIFIED + 60 * self.generation, usegmt=True)
            obj = {"path": path, "data": data, "size": size, "md5": md5, "etag": etag,
                   "last_modified": modified}
            self.objects[path] = obj
        return {"path": path, "url": endpoint + path, "size": size, "md5": md5, "etag": etag,
                "last_modified": modified}

    def script(self, spec):
        path = spec.get("path")
        if not isinstance(path, str) or not path.startswith("/"):
            raise ValueError("script: path must start with /")
        answers = spec.get("answers", [])
        if not isinstance(answers, list) or not all(isinstance(a, dict) for a in answers):
            raise ValueError("script: answers must be a list of objects")
        default = spec.get("default")
        if default is not None and not isinstance(default, dict):
            raise ValueError("script: default must be an object")
        with self.lock:
            self.scripts[path] = {"queue": list(answers), "used": 0, "default": default}
        return {"path": path, "answers": len(answers), "default": default is not None}

    def next_answer(self, path):
        """-> (answer dict, label) for the next request to path."""
        with self.lock:
            s = self.scripts.get(path)
            if s is None:
                return {}, None
            if s["queue"]:
                s["used"] += 1
                return s["queue"].pop(0), s["used"] - 1
            if s["default"] is not None:
                return s["default"], "default"
            return {}, None

    def add_log(self, entry):
        with self.lock:
            self.log.append(entry)

    def requests(self):
        with self.lock:
            return [dict(e) for e in self.log]

    def clear_log(self):
        with self.lock:
            self.log = []


def parse_range(value, size):
    """-> (start, end) inclusive, "unsatisfiable", or None (ignore: whole object)."""
    m = re.fullmatch(r"\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*", value or "")
    if not m or (m.group(1) == "" and m.group(2) == ""):
        return None
    if m.group(1) == "":
        n = int(m.group(2))
        if n == 0:
            return "unsatisfiable"
        return max(0, size - n), size - 1
    start = int(m.group(1))
    end = int(m.group(2)) if m.group(2) != "" else None
    if end is not None and end < start:
        return None
    if start >= size:
        return "unsatisfiable"
    return start, size - 1 if end is None else min(end, size - 1)


def if_range_matches(value, obj):
    """RFC 9110 13.1.5: a strong ETag compared byte for byte, or an exact HTTP-date."""
    value = value.strip()
    if value.startswith('"') or value.startswith("W/"):
        return obj["etag"] is not None and not value.startswith("W/") and value == obj["etag"]
    return obj["last_modified"] is not None and value == obj["last_modified"]


TEMPLATE = re.compile(r"\{\{(json:)?(query|target|body|header|param)(?::([^}]*))?\}\}")


def query_param(query, name):
    for pair in query.split("&"):
        k, _, v = pair.partition("=")
        if k == name:
            return v
    return ""


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "hostile/1"

    def log_message(self, *args):
        pass

    def do_any(self):
        target = self.path  # the raw request-target: http.server does not decode it
        path, _, query = target.partition("?")
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length > 0 else b""
        if path == CONTROL or path.startswith(CONTROL + "/"):
            return self.control(self.command, path[len(CONTROL):], body)
        answer, label = self.server.state.next_answer(path)
        entry = {"time": time.time(), "method": self.command, "target": target, "path": path,
                 "query": query, "headers": {k.lower(): v for k, v in self.headers.items()},
                 "body": body.decode("latin-1"), "status": None, "bytes_sent": 0,
                 "answer": label}
        self.server.state.add_log(entry)
        self.entry, self.query_string, self.body_bytes = entry, query, body
        try:
            if answer.get("delay"):
                time.sleep(float(answer["delay"]))
            if "set_object" in answer:
                spec = dict(answer["set_object"])
                spec["path"] = path
                self.server.state.define(spec, self.server.endpoint)
            if "status" in answer:
                self.canned(answer)
            else:
                self.serve(answer, path)
        except (BrokenPipeError, ConnectionResetError, socket.timeout):
            self.close_connection = True

    do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = do_PATCH = do_any

    # -- answers ---------------------------------------------------------------------

    def fill(self, text):
        def value(what, arg):
            if what == "query":
                return self.query_string
            if what == "target":
                return self.entry["target"]
            if what == "body":
                return self.body_bytes.decode("latin-1")
            if what == "header":
                return self.headers.get(arg or "", "")
            return query_param(self.query_string, arg or "")

        def one(m):
            v = value(m.group(2), m.group(3))
            return json.dumps(v)[1:-1] if m.group(1) else v
        return TEMPLATE.sub(one, text)

    def head(self, status, headers, length):
        lines = ["HTTP/1.1 %d %s" % (status, REASONS.get(status, "Status"))]
        lines.append("Date: " + email.utils.formatdate(usegmt=True))
        for k, v in headers:
            lines.append("%s: %s" % (k, v))
        if length is not None:
            lines.append("Content-Length: %d" % length)
        self.entry["status"] = status
        self.wfile.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))

    def canned(self, answer):
        status = int(answer["status"])
        if "body_b64" in answer:
            text = base64.b64decode(answer["body_b64"]).decode("latin-1")
        else:
            text = answer.get("body", "")
        body = self.fill(text).encode("latin-1")
        headers = [(k, self.fill(str(v))) for k, v in (answer.get("headers") or {}).items()]
        for k, v in (answer.get("headers_b64") or {}).items():
            headers.append((k, base64.b64decode(v).decode("latin-1")))
        if not any(k.lower() == "content-type" for k, _ in headers) and body:
            kind = "application/xml" if body.lstrip().startswith(b"<") else "application/json"
            headers.append(("Content-Type", kind))
        self.head(status, headers, len(body))
        if self.command != "HEAD":
            self.send_body(body, answer)
        if answer.get("close"):
            self.close_connection = True

    def serve(self, answer, path):
        obj = self.server.state.objects.get(path)
        if obj is None:
            body = b"<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>NoSuchKey</Code>" \
                   b"<Message>The specified key does not exist.</Message></Error>"
            self.head(404, [("Content-Type", "application/xml")], len(body))
            self.send_body(body, {})
            return
        size = obj["size"]
        headers = [("Content-Type", "application/octet-stream"), ("Accept-Ranges", "bytes")]
        etag = answer.get("etag", obj["etag"])
        if etag is not None and etag != "none":
            headers.append(("ETag", etag))
        if obj["last_modified"] is not None:
            headers.append(("Last-Modified", obj["last_modified"]))
        total = answer.get("range_total", size)
        if answer.get("status_416"):
            self.head(416, headers + [("Content-Range", "bytes */%d" % total)], 0)
            return
        wanted = None
        rng = self.headers.get("Range")
        if rng is not None and not answer.get("ignore_range"):
            wanted = parse_range(rng, size)
            cond = self.headers.get("If-Range")
            if cond is not None and not answer.get("ignore_if_range") and not if_range_matches(cond, obj):
                wanted = None
        if wanted == "unsatisfiable":
            self.head(416, headers + [("Content-Range", "bytes */%d" % total)], 0)
            return
        if wanted is None:
            start, end, status = 0, size - 1, 200
        else:
            start, end = wanted
            status = 206
            headers.append(("Content-Range", "bytes %d-%d/%d" % (start, end, total)))
        data = obj["data"][start:end + 1]
        if answer.get("corrupt") and data:
            i = len(data) // 2
            data = data[:i] + bytes([data[i] ^ 0xFF]) + data[i + 1:]
        self.head(status, headers, len(data))
        if self.command != "HEAD":
            self.send_body(data, answer)

    def send_body(self, data, answer):
        if answer.get("stall"):
            self.wfile.flush()
            time.sleep(float(answer["stall"]))
            return self.hang_up()
        limit = answer.get("drop_after")
        if limit is not None:
            data = data[:int(limit)]
        rate = answer.get("rate")
        if rate:
            step = max(1, int(float(rate) * 0.05))
            for i in range(0, len(data), step):
                chunk = data[i:i + step]
                self.wfile.write(chunk)
                self.entry["bytes_sent"] += len(chunk)
                time.sleep(len(chunk) / float(rate))
        else:
            for i in range(0, len(data), 65536):
                chunk = data[i:i + 65536]
                self.wfile.write(chunk)
                self.entry["bytes_sent"] += len(chunk)
        if limit is not None:
            self.hang_up()

    def hang_up(self):
        self.close_connection = True
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    # -- control ---------------------------------------------------------------------

    def control(self, method, what, body):
        state = self.server.state
        try:
            spec = json.loads(body.decode("utf-8")) if body else {}
            if method == "POST" and what == "/reset":
                state.reset()
                out = {"ok": True}
            elif method == "POST" and what == "/objects":
                out = state.define(spec, self.server.endpoint)
            elif method == "POST" and what == "/script":
                out = state.script(spec)
            elif method == "GET" and what == "/requests":
                out = state.requests()
            elif method == "DELETE" and what == "/requests":
                state.clear_log()
                out = []
            else:
                return self.reply_json(404, {"error": "unknown control call %s %s" % (method, what)})
        except (ValueError, TypeError, KeyError) as e:
            return self.reply_json(400, {"error": str(e)})
        return self.reply_json(200, out)

    def reply_json(self, status, obj):
        data = json.dumps(obj).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def handle_error(self, request, client_address):
        pass  # a client hanging up on a lie is the normal case here


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--config-out")
    args = ap.parse_args(argv)
    server = Server((args.host, args.port), Handler)
    server.state = State()
    port = server.server_address[1]
    server.endpoint = "http://%s:%d" % (args.host, port)
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    info = {"port": port, "endpoint": server.endpoint, "control": server.endpoint + CONTROL,
            "pid": os.getpid()}
    if args.config_out:
        tmp = args.config_out + ".tmp"
        with open(tmp, "w") as f:
            json.dump(info, f)
        os.replace(tmp, args.config_out)
    print("port %d" % port, flush=True)
    while not stop.wait(0.2):
        pass
    server.shutdown()
    server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
