"""SDK-HMAC-SHA256 verification (the API gateway's side of Huawei Cloud AK/SK signing).

Pure functions, no I/O, so the canonicalisation can be checked against the official
signer vectors in isolation (test_sigv.py).  This is the emulator's own code: it shares
nothing with the C library it is meant to test.

Decisions the client author must know:
* The canonical request is rebuilt from what arrived on the wire: every path segment and
  every query key/value is percent-decoded and then re-encoded with the SDK rule
  (unreserved A-Z a-z 0-9 - _ . ~ kept, everything else %XX upper-case).  So a client
  may send `:` raw or as %3A - both canonicalise the same, as on the real gateway.
* A literal '+' in the *query* is decoded as a space (form-encoding semantics, what the
  gateways and e.g. axios assume).  A client that means '+' (time zones like +0800!)
  must send %2B, otherwise its signature covers "+" but the server reads " ".
  In the *path* '+' is an ordinary character.
* Query parameters are sorted by raw (decoded) key bytes, then raw value bytes
  (matches every vector in signing-vectors.json, e.g. id=10 before id=2).
"""

import hashlib
import hmac
import re

ALGORITHM = "SDK-HMAC-SHA256"
EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()

_UNRESERVED = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.~")
_HEX = "0123456789ABCDEF"


def pct_encode(raw: bytes) -> str:
    """Percent-encode bytes with the SDK's rule (upper-case hex, space -> %20)."""
    out = []
    for b in raw:
        if b in _UNRESERVED:
            out.append(chr(b))
        else:
            out.append("%" + _HEX[b >> 4] + _HEX[b & 15])
    return "".join(out)


def pct_decode(text: str, plus_is_space: bool) -> bytes:
    """Decode %XX sequences.  Malformed escapes are kept literally (lenient, like most
    servers) so they still canonicalise deterministically (as %25XX)."""
    data = text.encode("utf-8", "surrogateescape")
    out = bytearray()
    i, n = 0, len(data)
    while i < n:
        c = data[i]
        if c == 0x25 and i + 2 < n and _is_hex(data[i + 1]) and _is_hex(data[i + 2]):
            out.append(int(data[i + 1:i + 3], 16))
            i += 3
            continue
        if c == 0x2B and plus_is_space:
            out.append(0x20)
        else:
            out.append(c)
        i += 1
    return bytes(out)


def _is_hex(b: int) -> bool:
    return b in b"0123456789abcdefABCDEF"


def canonical_uri(raw_path: str) -> str:
    """Each '/'-separated segment decoded then re-encoded; a trailing '/' appended."""
    segments = raw_path.split("/")
    uri = "/".join(pct_encode(pct_decode(s, plus_is_space=False)) for s in segments)
    if not uri.endswith("/"):
        uri += "/"
    return uri


def parse_query(raw_query: str):
    """Wire query -> list of (key bytes, value bytes).  Empty pieces ('a=1&&b=2') are
    skipped; a piece without '=' is a key with an empty value."""
    pairs = []
    if not raw_query:
        return pairs
    for piece in raw_query.split("&"):
        if piece == "":
            continue
        key, sep, value = piece.partition("=")
        pairs.append((pct_decode(key, True), pct_decode(value, True)))
    return pairs


def canonical_query(pairs) -> str:
    """pairs: iterable of (bytes, bytes); sorted by raw key then raw value bytes."""
    return "&".join(pct_encode(k) + "=" + pct_encode(v) for k, v in sorted(pairs))


def canonical_headers(headers, signed):
    """headers: dict lower-name -> value (str); signed: list of lower-case names."""
    return "".join(f"{name}:{headers.get(name, '').strip()}\n" for name in signed)


def canonical_request(method, raw_path, raw_query, headers, signed, payload_hash):
    return "\n".join([
        method.upper(),
        canonical_uri(raw_path),
        canonical_query(parse_query(raw_query)),
        canonical_headers(headers, signed),
        ";".join(signed),
        payload_hash,
    ])


def string_to_sign(date: str, creq: str) -> str:
    return f"{ALGORITHM}\n{date}\n{hashlib.sha256(creq.encode('utf-8', 'surrogateescape')).hexdigest()}"


def signature(sk: str, sts: str) -> str:
    return hmac.new(sk.encode(), sts.encode(), hashlib.sha256).hexdigest()


_AUTH_RE = re.compile(
    r"^SDK-HMAC-SHA256\s+Access=([^,\s]+),\s*SignedHeaders=([^,\s]+),\s*Signature=([0-9a-fA-F]+)\s*$")
DATE_RE = re.compile(r"^\d{8}T\d{6}Z$")


def parse_authorization(value: str):
    """Return (ak, [signed headers], signature) or None when the header is malformed."""
    m = _AUTH_RE.match(value or "")
    if not m:
        return None
    return m.group(1), m.group(2).split(";"), m.group(3).lower()


def payload_hash(headers, body: bytes) -> str:
    """X-Sdk-Content-Sha256 (e.g. UNSIGNED-PAYLOAD) wins over the body hash."""
    explicit = headers.get("x-sdk-content-sha256")
    if explicit:
        return explicit.strip()
    return hashlib.sha256(body).hexdigest()
