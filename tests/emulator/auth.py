"""Who may call the APIs: AK/SK signatures (sigv.py), temporary AK + security token, and
X-Auth-Token tokens issued by the emulated IAM (POST /v3/auth/tokens)."""

import base64
import json
import secrets
import threading
from datetime import datetime, timezone

import sigv

TOKEN_LIFE = 24 * 3600
IAM_PREFIX = "Incorrect IAM authentication information: "


class AuthError(Exception):
    """-> 401 {"error_code": "APIGW.0301", "error_msg": ...}"""


class IamError(Exception):
    def __init__(self, status, message):
        super().__init__(message)
        self.status, self.message = status, message


def _iso_ms(t):
    return datetime.fromtimestamp(t, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


class Auth:
    def __init__(self, state, project_id, region, ak, sk, temp_ak, temp_sk, security_token,
                 user, password, domain):
        self.state, self.project_id, self.region = state, project_id, region
        # ak -> (sk, required security token or None, expiry or None)
        self.keys = {ak: (sk, None, None), temp_ak: (temp_sk, security_token, None)}
        self._fixed = set(self.keys)
        self.user, self.password, self.domain = user, password, domain
        self.domain_id = secrets.token_hex(16)
        self.user_id = secrets.token_hex(16)
        self._tokens = {}           # token -> {"expires": t, "project_id": pid or None}
        self._lock = threading.Lock()

    # ---- verification ------------------------------------------------------------

    def verify(self, method, raw_path, raw_query, headers, body):
        """headers: dict lower-name -> value.  Returns the project id the caller is scoped
        to (None for AK/SK: the gateway then trusts X-Project-Id / the path)."""
        now = self.state.now()
        authz = headers.get("authorization")
        if authz is None:
            token = headers.get("x-auth-token")
            if token is None:
                raise AuthError(IAM_PREFIX + "x-auth-token not found (send X-Auth-Token or an "
                                "SDK-HMAC-SHA256 Authorization header)")
            with self._lock:
                info = self._tokens.get(token)
            if info is None:
                raise AuthError(IAM_PREFIX + "decrypt token fail (unknown token)")
            if now >= info["expires"]:
                raise AuthError(IAM_PREFIX + "token expired")
            if info["project_id"] is None:
                raise AuthError(IAM_PREFIX + "the token is not scoped to a project")
            return info["project_id"]

        parsed = sigv.parse_authorization(authz)
        if parsed is None:
            raise AuthError(IAM_PREFIX + "verify aksk signature fail: malformed Authorization header, "
                            "expected 'SDK-HMAC-SHA256 Access=<AK>, SignedHeaders=<a;b>, Signature=<hex>'")
        ak, signed, sig = parsed
        date = headers.get("x-sdk-date")
        if date is None:
            raise AuthError(IAM_PREFIX + "verify aksk signature fail: header X-Sdk-Date not found")
        if "x-sdk-date" not in signed:
            raise AuthError(IAM_PREFIX + "verify aksk signature fail: x-sdk-date must be a signed header")
        try:
            if not sigv.DATE_RE.match(date):
                raise ValueError
            t = datetime.strptime(date, "%Y%m%dT%H%M%SZ").replace(tzinfo=timezone.utc).timestamp()
        except ValueError:
            raise AuthError(IAM_PREFIX + f"verify aksk signature fail: invalid X-Sdk-Date {date!r}, "
                            "expected YYYYMMDDTHHMMSSZ (UTC)") from None
        if abs(now - t) > float(self.state.config["max_skew"]):
            server = datetime.fromtimestamp(now, timezone.utc).strftime("%Y%m%dT%H%M%SZ")
            raise AuthError(IAM_PREFIX + f"calc aksk signature fail:signature expired, "
                            f"signature time:{date},server time:{server}")
        key = self.keys.get(ak)
        if key is None:
            raise AuthError(IAM_PREFIX + f"verify aksk signature fail: access key {ak} does not exist")
        sk, want_token, expires = key
        if expires is not None and now >= expires:
            raise AuthError(IAM_PREFIX + "verify aksk signature fail: the temporary access key "
                            f"{ak} has expired (security token expired)")
        for name in signed:
            if name != name.lower():
                raise AuthError(IAM_PREFIX + f"verify aksk signature fail: signed header {name!r} "
                                "must be lower case")
            if name not in headers:
                raise AuthError(IAM_PREFIX + f"verify aksk signature fail: signed header {name} "
                                "is missing from the request")
        if want_token is not None:
            tok = headers.get("x-security-token")
            if tok is None:
                raise AuthError(IAM_PREFIX + "verify aksk signature fail: temporary access key "
                                "requires X-Security-Token")
            if "x-security-token" not in signed:
                raise AuthError(IAM_PREFIX + "verify aksk signature fail: x-security-token must be signed")
            if tok.strip() != want_token:
                raise AuthError(IAM_PREFIX + "verify aksk signature fail: invalid security token")
        creq = sigv.canonical_request(method, raw_path, raw_query, headers, signed,
                                      sigv.payload_hash(headers, body))
        expect = sigv.signature(sk, sigv.string_to_sign(date, creq))
        if not secrets.compare_digest(expect, sig):
            # Like APIG, show the canonical request we computed ('|' for newlines).
            raise AuthError(IAM_PREFIX + "verify aksk signature fail, canonical request: "
                            + creq.replace("\n", "|"))
        return None

    # ---- IAM ---------------------------------------------------------------------

    def issue_token(self, body, query, base_url):
        """POST /v3/auth/tokens (password method) -> (token, json body)."""
        try:
            req = json.loads(body.decode("utf-8"))
            ident = req["auth"]["identity"]
            methods = ident["methods"]
            user = ident["password"]["user"]
        except (ValueError, KeyError, TypeError, UnicodeDecodeError):
            raise IamError(400, "The request body is invalid: expected auth.identity.methods "
                           "[\"password\"] and auth.identity.password.user") from None
        if not isinstance(methods, list) or "password" not in methods or not isinstance(user, dict):
            raise IamError(400, "Only the password method is supported by the emulator.")
        dom = user.get("domain") or {}
        if not isinstance(dom, dict):
            raise IamError(400, "auth.identity.password.user.domain must be an object")
        ok = (user.get("name") == self.user and user.get("password") == self.password
              and (dom.get("name") == self.domain or dom.get("id") == self.domain_id))
        if not ok:
            raise IamError(401, "The username or password is wrong.")
        scope = (req["auth"].get("scope") or {}) if isinstance(req["auth"], dict) else {}
        project_id = None
        if isinstance(scope, dict) and scope.get("project") is not None:
            p = scope["project"]
            if not isinstance(p, dict) or not (p.get("name") == self.region or p.get("id") == self.project_id):
                raise IamError(400, f"Invalid project scope: the emulator knows project name "
                               f"{self.region!r} / id {self.project_id}")
            project_id = self.project_id
        now = self.state.now()
        token = "MIIEmulator" + base64.urlsafe_b64encode(secrets.token_bytes(600)).decode().rstrip("=")
        with self._lock:
            self._tokens[token] = {"expires": now + TOKEN_LIFE, "project_id": project_id}
        tok = {
            "expires_at": _iso_ms(now + TOKEN_LIFE), "issued_at": _iso_ms(now),
            "methods": ["password"],
            "user": {"id": self.user_id, "name": self.user, "password_expires_at": "",
                     "domain": {"id": self.domain_id, "name": self.domain}},
            "roles": [{"id": "0", "name": "op_service"}, {"id": "1", "name": "te_admin"}],
        }
        if project_id:
            tok["project"] = {"id": project_id, "name": self.region,
                              "domain": {"id": self.domain_id, "name": self.domain}}
        else:
            tok["domain"] = {"id": self.domain_id, "name": self.domain}
        if not query.get("nocatalog"):
            tok["catalog"] = [
                {"type": t, "name": t, "id": secrets.token_hex(16),
                 "endpoints": [{"id": secrets.token_hex(16), "interface": "public", "region": self.region,
                                "region_id": self.region, "url": base_url + suffix}]}
                for t, suffix in (("rds", "/v3"), ("dcsv2", "/v2"), ("gaussdb", "/v3"), ("iam", "/v3"))]
        return token, {"token": tok}

    # ---- temporary keys (issued by identity.py) -----------------------------------

    def issue_temporary(self, ttl):
        """A new temporary AK/SK + security token valid `ttl` seconds (emulator clock)."""
        ak = "T" + secrets.token_hex(10).upper()[:19]
        sk = secrets.token_urlsafe(30)
        token = "gQpl" + base64.b64encode(secrets.token_bytes(300)).decode()
        expires = self.state.now() + float(ttl)
        with self._lock:
            self.keys[ak] = (sk, token, expires)
        return ak, sk, token, expires

    def clear_temporary(self):
        with self._lock:
            for ak in [k for k in self.keys if k not in self._fixed]:
                del self.keys[ak]

    def expire_tokens(self):
        with self._lock:
            self._tokens.clear()
