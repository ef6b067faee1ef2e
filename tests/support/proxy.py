#!/usr/bin/env python3
"""A small forward proxy for hcdl's tests: plain-HTTP requests in absolute
form and CONNECT tunnels (for HTTPS), on a free loopback port.  It writes the
port to the file named by its first argument once listening, and logs one
line per request ("GET http://..." or "CONNECT host:port") to the second.
With a third argument "user:password" it demands those credentials
(Proxy-Authorization: Basic) and answers 407 otherwise; the log line then
ends in " auth=ok" or " auth=refused".  With the third argument "echo" it
forwards nothing: every request (CONNECT included) is answered 502 with
everything it carried echoed back, in the body (request line and headers,
as JSON and as text), in X-Request-Id (the Proxy-Authorization value) and
in the reason phrase, as a hostile proxy would.  Standard library only;
stops on SIGTERM."""

import base64
import json
import http.server
import select
import signal
import socket
import socketserver
import sys
import threading
import urllib.parse

LOG_LOCK = threading.Lock()


class Proxy(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def _log(self, line):
        with LOG_LOCK, open(sys.argv[2], "a") as f:
            f.write(line + "\n")

    def _echo(self):
        """Answers with everything the request carried (see the module comment)."""
        self._log("ECHO " + self.command + " " + self.path)
        sent = "%s %s\n%s" % (self.command, self.path, str(self.headers))
        auth = self.headers.get("Proxy-Authorization", "")
        body = json.dumps({"error_code": "PROXY.502", "error_msg": "upstream refused: " + sent,
                           "headers": dict(self.headers.items())}).encode()
        self.send_response(502, "Bad Gateway " + auth)
        self.send_header("X-Request-Id", auth or "none")
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)
        self.close_connection = True

    def _authorized(self, line):
        if len(sys.argv) >= 4 and sys.argv[3] == "echo":
            self._echo()
            return False
        if len(sys.argv) < 4:
            self._log(line)
            return True
        want = "Basic " + base64.b64encode(sys.argv[3].encode()).decode()
        ok = self.headers.get("Proxy-Authorization") == want
        self._log(line + (" auth=ok" if ok else " auth=refused"))
        if not ok:
            self.send_response(407, "Proxy Authentication Required")
            self.send_header("Proxy-Authenticate", 'Basic realm="hcdl-test"')
            self.send_header("Content-Length", "0")
            self.end_headers()
            self.close_connection = True
        return ok

    def do_CONNECT(self):
        if not self._authorized("CONNECT " + self.path):
            return
        host, port = self.path.rsplit(":", 1)
        upstream = socket.create_connection((host, int(port)), timeout=30)
        self.send_response(200, "Connection established")
        self.end_headers()
        self.wfile.flush()
        conns = [self.connection, upstream]
        try:
            while True:
                ready, _, _ = select.select(conns, [], [], 30)
                if not ready:
                    break
                for s in ready:
                    data = s.recv(65536)
                    if not data:
                        return
                    (upstream if s is self.connection else self.connection).sendall(data)
        finally:
            upstream.close()
            self.close_connection = True

    def _forward(self):
        if not self._authorized(self.command + " " + self.path):
            return
        u = urllib.parse.urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        upstream = socket.create_connection((u.hostname, u.port or 80), timeout=30)
        target = (u.path or "/") + ("?" + u.query if u.query else "")
        lines = [f"{self.command} {target} HTTP/1.1"]
        for k, v in self.headers.items():
            if k.lower() not in ("proxy-connection", "connection", "keep-alive", "proxy-authorization"):
                lines.append(f"{k}: {v}")
        lines.append("Connection: close")
        upstream.sendall(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body)
        while True:
            data = upstream.recv(65536)
            if not data:
                break
            self.wfile.write(data)
        upstream.close()
        self.close_connection = True

    do_GET = do_POST = do_HEAD = do_PUT = do_DELETE = _forward


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True


def main():
    server = Server(("127.0.0.1", 0), Proxy)
    signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=server.shutdown).start())
    with open(sys.argv[1] + ".tmp", "w") as f:
        f.write(str(server.server_address[1]))
    import os
    os.replace(sys.argv[1] + ".tmp", sys.argv[1])
    server.serve_forever()


if __name__ == "__main__":
    main()
