"""The object store behind the links: OBS/S3 V2 query-string pre-signed URLs.

StringToSign = VERB \n Content-MD5 \n Content-Type \n Expires \n
               CanonicalizedHeaders(x-obs-*, x-amz-*) CanonicalizedResource
CanonicalizedResource = /bucket/key [?sub-resources sorted, raw values]

Because Content-Type and Content-MD5 are part of the string to sign (empty when the
service signed the link), a GET that carries either header fails with
SignatureDoesNotMatch - exactly like OBS.  The verb is signed too, so a link issued for
GET cannot be used with HEAD (probe a size with `Range: bytes=0-0` instead).

Strict mode (config store_strict_query, default on) additionally demands the query be
byte-exact as issued (order and encoding).  Real OBS would accept a reordered or
re-encoded query; rejecting it here keeps clients honest about treating links as opaque.
"""

import base64
import datetime
import email.utils
import hashlib
import hmac
import json
import os
import threading
import urllib.parse
from xml.sax.saxutils import escape

import content
import integrity

SUBRESOURCES = (
    "acl", "response-cache-control", "response-content-disposition", "response-content-encoding",
    "response-content-language", "response-content-type", "response-expires", "versionId",
)
RESPONSE_OVERRIDES = {
    "response-cache-control": "Cache-Control", "response-content-disposition": "Content-Disposition",
    "response-content-encoding": "Content-Encoding", "response-content-language": "Content-Language",
    "response-content-type": "Content-Type", "response-expires": "Expires",
}


def quote(s):
    return urllib.parse.quote(s, safe="")


class Reply:
    """What the HTTP layer sends: either `body` bytes or an object range to stream."""

    def __init__(self, status, headers=None, body=b"", obj=None, offset=0, length=0):
        self.status, self.headers, self.body = status, list(headers or []), body
        self.obj, self.offset, self.length = obj, offset, length
        self.head_length = None     # HEAD: the Content-Length the GET would have

    @property
    def content_length(self):
        return self.length if self.obj is not None else len(self.body)


class Store:
    def __init__(self, state, data_dir, ak, sk):
        self.state, self.ak, self.sk = state, ak, sk
        self.data_dir = data_dir
        self.pattern_path = os.path.join(data_dir, "pattern-v1.bin")
        self._ensure_pattern_file()
        self._etag_path = os.path.join(data_dir, "etag-cache-v1.json")
        self._etag_lock = threading.Lock()
        self._etag_busy = {}
        self._closed = False
        self.integrity = integrity.Integrity()     # multipart ETags, CRC-64, version ids
        try:
            with open(self._etag_path) as f:
                self._etags = json.load(f)
        except (OSError, ValueError):
            self._etags = {}

    def _ensure_pattern_file(self):
        """The pattern written twice, so any window of up to P bytes is contiguous."""
        want = content.pattern() * 2
        try:
            with open(self.pattern_path, "rb") as f:
                if f.read() == want:
                    return
        except OSError:
            pass
        tmp = self.pattern_path + ".tmp"
        with open(tmp, "wb") as f:
            f.write(want)
        os.replace(tmp, self.pattern_path)

    # ---- links -------------------------------------------------------------------

    def string_to_sign(self, verb, expires, bucket, key, subres, content_md5="", content_type="", xheaders=""):
        resource = "/" + bucket + "/" + key
        if subres:
            resource += "?" + "&".join(k if v is None else f"{k}={v}" for k, v in sorted(subres))
        return f"{verb}\n{content_md5}\n{content_type}\n{expires}\n{xheaders}{resource}"

    def _sign(self, sts):
        return base64.b64encode(hmac.new(self.sk.encode(), sts.encode(), hashlib.sha1).digest()).decode()

    def presign(self, base_url, obj, ttl, subres=(), verb="GET"):
        """Returns (url, expires unix seconds)."""
        expires = int(self.state.now()) + int(ttl)
        subres = list(subres)
        sig = self._sign(self.string_to_sign(verb, expires, obj.bucket, obj.key, subres))
        query = [("AWSAccessKeyId", self.ak), ("Expires", str(expires))] + subres + [("Signature", sig)]
        path = "/" + obj.bucket + "/" + quote_key(obj.key)
        return base_url + path + "?" + "&".join(f"{k}={quote(v)}" for k, v in query), expires

    # ---- ETag --------------------------------------------------------------------

    def etag(self, obj, persist=True):
        """MD5 of the whole object, computed once (seconds for GiB objects) and cached on disk."""
        ck = f"{obj.name}:{obj.size}"
        with self._etag_lock:
            if ck in self._etags:
                return self._etags[ck]
            ev = self._etag_busy.get(ck)
            mine = ev is None
            if mine:
                ev = self._etag_busy[ck] = threading.Event()
        if not mine:
            ev.wait()
            return self._etags[ck]
        value = content.md5_hex(obj.name, obj.size)
        with self._etag_lock:
            self._etags[ck] = value
            del self._etag_busy[ck]
        ev.set()
        if persist:
            self.save_etags()
        return value

    def save_etags(self):
        with self._etag_lock:
            if self._closed:        # the data dir may be being removed
                return
            try:
                tmp = self._etag_path + ".tmp"
                with open(tmp, "w") as f:
                    json.dump(self._etags, f)
                os.replace(tmp, self._etag_path)
            except OSError:
                pass

    def close(self):
        """No more writes to the data dir (called before it is removed)."""
        with self._etag_lock:
            self._closed = True

    # ---- serving -----------------------------------------------------------------

    def error(self, status, code, message, rid, head=False, **extra):
        parts = [f"<Code>{code}</Code>", f"<Message>{escape(message)}</Message>"]
        parts += [f"<{k}>{escape(str(v))}</{k}>" for k, v in extra.items()]
        parts += [f"<RequestId>{rid[:16].upper()}</RequestId>", f"<HostId>{hostid(rid)}</HostId>"]
        body = ('<?xml version="1.0" encoding="UTF-8"?>\n<Error>' + "".join(parts) + "</Error>").encode()
        return Reply(status, [("Content-Type", "application/xml")], b"" if head else body)

    def handle(self, method, raw_path, raw_query, headers, rid):
        head = method == "HEAD"
        segs = raw_path.lstrip("/").split("/", 1)
        bucket = urllib.parse.unquote(segs[0])
        key = urllib.parse.unquote(segs[1]) if len(segs) > 1 else ""
        pieces = [p.partition("=") for p in raw_query.split("&")] if raw_query else []
        params = {}
        for k, _, v in pieces:
            params.setdefault(urllib.parse.unquote_plus(k), urllib.parse.unquote_plus(v))

        if not {"AWSAccessKeyId", "Expires", "Signature"} <= params.keys():
            if params.keys() & {"AWSAccessKeyId", "Expires", "Signature"}:
                return self.error(403, "AccessDenied", "Query-string authentication requires the Signature, "
                                  "Expires and AWSAccessKeyId parameters", rid, head)
            return self.error(403, "AccessDenied", "Access Denied", rid, head)
        if params["AWSAccessKeyId"] != self.ak:
            return self.error(403, "InvalidAccessKeyId", "The AWS Access Key Id you provided does not exist "
                              "in our records.", rid, head, AWSAccessKeyId=params["AWSAccessKeyId"])
        expires = params["Expires"]
        if not expires.isdigit():
            return self.error(403, "AccessDenied", "Invalid date (should be seconds since epoch): " + expires,
                              rid, head)
        subres = [(k, v) for k, v in params.items() if k in SUBRESOURCES]
        xh = sorted((k.lower(), v.strip()) for k, v in headers.items()
                    if k.lower().startswith(("x-obs-", "x-amz-")))
        sts = self.string_to_sign(method, expires, bucket, key, subres, headers.get("content-md5", ""),
                                  headers.get("content-type", ""), "".join(f"{k}:{v}\n" for k, v in xh))
        good = hmac.compare_digest(self._sign(sts).encode(), params["Signature"].encode("utf-8", "replace"))
        if good and self.state.config["store_strict_query"]:
            order = [("AWSAccessKeyId", params["AWSAccessKeyId"]), ("Expires", expires)] + \
                    sorted(subres) + [("Signature", params["Signature"])]
            good = raw_query == "&".join(f"{k}={quote(v)}" for k, v in order)
        if not good:
            return self.error(403, "SignatureDoesNotMatch", "The request signature we calculated does not "
                              "match the signature you provided. Check your key and signing method.", rid, head,
                              AWSAccessKeyId=params["AWSAccessKeyId"], StringToSign=sts,
                              SignatureProvided=params["Signature"])
        now = self.state.now()
        if now > int(expires):
            return self.error(403, "AccessDenied", "Request has expired", rid, head,
                              Expires=iso(int(expires)), ServerTime=iso(now))
        if bucket not in _known_buckets():
            return self.error(404, "NoSuchBucket", "The specified bucket does not exist", rid, head,
                              BucketName=bucket)
        obj = self.state.get_object(bucket, key)
        if obj is None:
            return self.error(404, "NoSuchKey", "The specified key does not exist.", rid, head, Key=key)
        return self._object(obj, params, headers, head, rid)

    def _object(self, obj, params, headers, head, rid):
        config = self.state.config
        etag = self.integrity.etag(obj, config, lambda: '"' + self.etag(obj) + '"')
        lastmod = email.utils.formatdate(obj.mtime, usegmt=True)
        base = [("ETag", etag), ("Last-Modified", lastmod), ("Accept-Ranges", "bytes")]
        base += self.integrity.headers(obj, config)
        overrides = [(RESPONSE_OVERRIDES[k], v) for k, v in params.items() if k in RESPONSE_OVERRIDES]
        ctype = [("Content-Type", "application/octet-stream")] if "response-content-type" not in params else []

        # Conditional requests (RFC 7232 order).
        im, inm = headers.get("if-match"), headers.get("if-none-match")
        ims, ius = _date(headers.get("if-modified-since")), _date(headers.get("if-unmodified-since"))
        if im is not None and not _etag_in(etag, im):
            return self.error(412, "PreconditionFailed", "At least one of the pre-conditions you specified "
                              "did not hold", rid, head, Condition="If-Match")
        if im is None and ius is not None and int(obj.mtime) > ius:
            return self.error(412, "PreconditionFailed", "At least one of the pre-conditions you specified "
                              "did not hold", rid, head, Condition="If-Unmodified-Since")
        if (inm is not None and _etag_in(etag, inm)) or (inm is None and ims is not None and int(obj.mtime) <= ims):
            return Reply(304, base)

        rng = headers.get("range")
        if_range = headers.get("if-range")
        if rng is not None and if_range is not None:
            d = _date(if_range)
            if not (if_range.strip() == etag or (d is not None and int(obj.mtime) <= d)):
                rng = None      # representation changed: send it whole
        span = parse_range(rng, obj.size) if rng is not None else None
        if span == "unsatisfiable":
            r = self.error(416, "InvalidRange", "The requested range is not satisfiable", rid, head,
                           RangeRequested=rng, ActualObjectSize=obj.size)
            r.headers.append(("Content-Range", f"bytes */{obj.size}"))
            return r
        if span is None:
            if head:
                return _head(200, base + ctype + overrides, obj.size)
            return Reply(200, base + ctype + overrides, obj=obj, offset=0, length=obj.size)
        a, b = span
        hdrs = base + ctype + overrides + [("Content-Range", f"bytes {a}-{b}/{obj.size}")]
        if head:
            return _head(206, hdrs, b - a + 1)
        return Reply(206, hdrs, obj=obj, offset=a, length=b - a + 1)


def _head(status, headers, length):
    """HEAD: headers of the GET, Content-Length of the body that would follow, no body."""
    r = Reply(status, headers)
    r.head_length = length
    return r


_BUCKETS = None


def _known_buckets():
    global _BUCKETS
    if _BUCKETS is None:
        from data import BUCKETS
        _BUCKETS = set(BUCKETS)
    return _BUCKETS


def quote_key(key):
    return urllib.parse.quote(key, safe="/-_.~")


def hostid(rid):
    return base64.b64encode(hashlib.sha256(rid.encode()).digest()[:24]).decode()


def iso(t):
    return datetime.datetime.fromtimestamp(int(t), datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _date(value):
    if not value:
        return None
    try:
        d = email.utils.parsedate_to_datetime(value)
        return int(d.timestamp())
    except (TypeError, ValueError, IndexError):
        return None


def _etag_in(etag, header):
    tags = [t.strip() for t in header.split(",")]
    return "*" in tags or etag in tags or etag in [t[2:] for t in tags if t.startswith("W/")]


def parse_range(value, size):
    """-> (first, last) | None (ignore: send whole) | "unsatisfiable".
    Only a single byte range is honoured; anything else is ignored like a malformed header."""
    v = value.strip()
    if not v.startswith("bytes="):
        return None
    spec = v[6:].strip()
    if "," in spec or "-" not in spec:
        return None
    first, _, last = (s.strip() for s in spec.partition("-"))
    if first == "":
        if not last.isdigit():
            return None
        n = int(last)
        if n == 0 or size == 0:
            return "unsatisfiable"
        return max(0, size - n), size - 1
    if not first.isdigit() or (last and not last.isdigit()):
        return None
    a = int(first)
    if last and int(last) < a:
        return None             # syntactically invalid: ignored (RFC 7233)
    b = int(last) if last else size - 1
    if a >= size:
        return "unsatisfiable"
    return a, min(b, size - 1)
