"""Where credentials come from when no keys are on disk: the ECS metadata service, a CCE
pod-identity endpoint, IAM's project lookup and IAM's OIDC federation calls.

The protocols are those the official SDK cores speak (huaweicloudsdkcore auth/internal.py
MetadataAccessor, PodIdentityAccessor, FederalAccessor, IamHelper; see the README).  Every
temporary key issued here is registered with the API verifier (auth.Auth.issue_temporary):
the APIs accept it with its security token, signed, until it expires (emulator clock).

Run-time switches (POST /_emulator/identity) let tests reproduce what a client must cope
with: a metadata service without session tokens (404/405/503 on the token PUT), a server
with no agency bound, short key lifetimes, the pod endpoint's other field names, and an
IAM that finds 0 or 2 projects.
"""

import json
import secrets
import threading
import urllib.parse
from datetime import datetime, timezone

import auth as authmod

POD_PATH = "/pod-identity/v1/credentials"
ROUTES = {
    ("PUT", "/meta-data/latest/api/token"): "metadata_token",
    ("GET", "/openstack/latest/securitykey"): "metadata_securitykey",
    ("POST", POD_PATH): "pod_identity",
    ("GET", "/v3/projects"): "iam_projects",
    ("POST", "/v3.0/OS-AUTH/id-token/tokens"): "iam_id_token",
    ("POST", "/v3.0/OS-CREDENTIAL/securitytokens"): "iam_securitytokens",
}
NAMES = tuple(ROUTES.values())

NO_AGENCY = "Please configure Cloud Service Agency first"
METADATA_TOKEN_MAX_TTL = 21600
UNSCOPED_TOKEN_LIFE = 24 * 3600

DEFAULTS = {
    "metadata_mode": "token",           # token | no_token | no_agency
    "metadata_no_token_status": 404,    # what the token PUT answers in no_token mode
    "temp_key_ttl": 21600,              # lifetime of issued temporary keys, seconds
    "pod_format": "sdk",                # sdk: credential/access/secret/securitytoken/expires_at;
                                        # camel: credentials/accessKeyId/secretAccessKey/securityToken/expiration
    "iam_projects": 1,                  # projects GET /v3/projects?name=<region> finds: 0, 1 or 2
}
CHOICES = {
    "metadata_mode": ("token", "no_token", "no_agency"),
    "metadata_no_token_status": (404, 405, 503),
    "pod_format": ("sdk", "camel"),
    "iam_projects": (0, 1, 2),
}


def _iso_us(t):
    """The metadata service's expiry format, %Y-%m-%dT%H:%M:%S.%fZ (UTC)."""
    return datetime.fromtimestamp(t, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _json(status, obj, headers=()):
    return status, [("Content-Type", "application/json"), *headers], json.dumps(obj, separators=(",", ":")).encode()


def _text(status, text):
    return status, [("Content-Type", "text/plain")], text.encode()


class Identity:
    def __init__(self, state, auth, region, project_id):
        self.state, self.auth, self.region, self.project_id = state, auth, region, project_id
        self.pod_token = "pod-" + secrets.token_urlsafe(48)
        self.idp_id = "hcdl-idp-" + secrets.token_hex(4)
        # shaped like a JWT: three base64url parts
        self.id_token = ".".join(secrets.token_urlsafe(n) for n in (24, 96, 64))
        self.other_project_id = secrets.token_hex(16)
        self._lock = threading.Lock()
        self.reset()

    def reset(self):
        with self._lock:
            self.config = dict(DEFAULTS)
            self._metadata_tokens = {}      # token -> expires
            self._unscoped = {}             # federation token -> expires

    def info(self, base_url):
        return {"metadata_endpoint": base_url, "pod_identity_url": base_url + POD_PATH,
                "pod_token": self.pod_token, "idp_id": self.idp_id, "id_token": self.id_token}

    def set_config(self, changes):
        with self._lock:
            for k, v in changes.items():
                if k not in DEFAULTS:
                    raise ValueError(f"unknown identity config key {k!r} (known: {', '.join(DEFAULTS)})")
                if k in CHOICES and v not in CHOICES[k]:
                    raise ValueError(f"{k} must be one of {CHOICES[k]}")
                if k == "temp_key_ttl" and (isinstance(v, bool) or not isinstance(v, (int, float))):
                    raise ValueError("temp_key_ttl must be a number of seconds")
                self.config[k] = v
            return dict(self.config)

    def forget_metadata_tokens(self):
        with self._lock:
            self._metadata_tokens.clear()

    @staticmethod
    def route(method, raw_path):
        return ROUTES.get((method, raw_path))

    # ---- handlers: (status, headers, body bytes) ---------------------------------------

    def handle(self, name, method, raw_path, raw_query, headers, body, rid):
        return getattr(self, "_" + name)(method, raw_path, raw_query, headers, body, rid)

    def _issue(self, ttl):
        ak, sk, token, expires = self.auth.issue_temporary(ttl)
        return ak, sk, token, expires

    def _metadata_token(self, method, raw_path, raw_query, headers, body, rid):
        cfg = self.config
        if cfg["metadata_mode"] == "no_token":
            status = cfg["metadata_no_token_status"]
            return _text(status, {404: "Not Found", 405: "Method Not Allowed", 503: "Service Unavailable"}[status])
        ttl = headers.get("x-metadata-token-ttl-seconds")
        try:
            ttl = int(ttl)
        except (TypeError, ValueError):
            return _text(400, "X-Metadata-Token-Ttl-Seconds is required: an integer of seconds")
        if not 1 <= ttl <= METADATA_TOKEN_MAX_TTL:
            return _text(400, f"X-Metadata-Token-Ttl-Seconds must be 1..{METADATA_TOKEN_MAX_TTL}")
        token = secrets.token_urlsafe(32)
        with self._lock:
            self._metadata_tokens[token] = self.state.now() + ttl
        return _text(200, token)

    def _metadata_securitykey(self, method, raw_path, raw_query, headers, body, rid):
        cfg = self.config
        if cfg["metadata_mode"] == "token":
            token = headers.get("x-metadata-token")
            with self._lock:
                expires = self._metadata_tokens.get(token)
            if expires is None or self.state.now() >= expires:
                return _text(401, "Unauthorized: X-Metadata-Token is missing, unknown or expired")
        if cfg["metadata_mode"] == "no_agency":
            return _json(401, {"error": NO_AGENCY})
        ak, sk, token, expires = self._issue(cfg["temp_key_ttl"])
        return _json(200, {"credential": {"access": ak, "secret": sk, "securitytoken": token,
                                          "expires_at": _iso_us(expires)}})

    def _pod_identity(self, method, raw_path, raw_query, headers, body, rid):
        if headers.get("authorization") != self.pod_token:
            return _json(401, {"error_code": "CCE.01401", "error_msg": "invalid or missing authorization token",
                               "request_id": rid})
        try:
            doc = json.loads(body.decode() or "null")
        except (ValueError, UnicodeDecodeError):
            doc = None
        if not isinstance(doc, dict):
            return _json(400, {"error_code": "CCE.01400", "error_msg": "the body must be a JSON object ({})",
                               "request_id": rid})
        ak, sk, token, expires = self._issue(self.config["temp_key_ttl"])
        if self.config["pod_format"] == "camel":
            return _json(200, {"credentials": {"accessKeyId": ak, "secretAccessKey": sk, "securityToken": token,
                                               "expiration": _iso_us(expires)}})
        return _json(200, {"credential": {"access": ak, "secret": sk, "securitytoken": token,
                                          "expires_at": _iso_us(expires)}})

    def _iam_error(self, status, message, rid):
        title = {400: "Bad Request", 401: "Unauthorized", 404: "Not Found"}.get(status, "Error")
        return _json(status, {"error": {"code": status, "message": message, "title": title}},
                     [("X-IAM-Trace-Id", rid)])

    def _iam_projects(self, method, raw_path, raw_query, headers, body, rid):
        try:
            self.auth.verify(method, raw_path, raw_query, headers, body)
        except authmod.AuthError as e:
            return _json(401, {"error_msg": str(e), "error_code": "APIGW.0301", "request_id": rid},
                         [("X-IAM-Trace-Id", rid)])
        query = dict(urllib.parse.parse_qsl(raw_query, keep_blank_values=True))
        projects = []
        if query.get("name", self.region) == self.region:
            ids = [self.project_id, self.other_project_id][:self.config["iam_projects"]]
            projects = [{"id": pid, "name": self.region, "domain_id": self.auth.domain_id, "enabled": True,
                         "is_domain": False, "parent_id": self.auth.domain_id, "description": ""}
                        for pid in ids]
        return _json(200, {"projects": projects, "links": {"self": "/v3/projects", "previous": None, "next": None}},
                     [("X-IAM-Trace-Id", rid)])

    def _iam_id_token(self, method, raw_path, raw_query, headers, body, rid):
        if headers.get("x-idp-id") != self.idp_id:
            return self._iam_error(404, "The identity provider does not exist (X-Idp-Id).", rid)
        try:
            id_token = json.loads(body.decode())["auth"]["id_token"]["id"]
        except (ValueError, KeyError, TypeError, UnicodeDecodeError):
            return self._iam_error(400, "The request body is invalid: expected auth.id_token.id", rid)
        if id_token != self.id_token:
            return self._iam_error(401, "The id_token is invalid or expired.", rid)
        now = self.state.now()
        token = "MIIFederated" + secrets.token_urlsafe(300)
        with self._lock:
            self._unscoped[token] = now + UNSCOPED_TOKEN_LIFE
        return _json(201, {"token": {"expires_at": authmod._iso_ms(now + UNSCOPED_TOKEN_LIFE),
                                     "issued_at": authmod._iso_ms(now), "methods": ["mapped"],
                                     "user": {"id": secrets.token_hex(16), "name": "federated-user",
                                              "OS-FEDERATION": {"identity_provider": {"id": self.idp_id}}}}},
                     [("X-Subject-Token", token), ("X-IAM-Trace-Id", rid)])

    def _iam_securitytokens(self, method, raw_path, raw_query, headers, body, rid):
        try:
            ident = json.loads(body.decode())["auth"]["identity"]
            methods = ident["methods"]
            tok = ident.get("token") or {}
        except (ValueError, KeyError, TypeError, AttributeError, UnicodeDecodeError):
            return self._iam_error(400, "The request body is invalid: expected auth.identity", rid)
        if methods != ["token"] or not isinstance(tok, dict):
            return self._iam_error(400, "Only the token method is supported by the emulator.", rid)
        token = tok.get("id") or headers.get("x-auth-token")
        duration = tok.get("duration_seconds", 900)
        if isinstance(duration, bool) or not isinstance(duration, int) or not 900 <= duration <= 86400:
            return self._iam_error(400, "duration_seconds must be an integer from 900 to 86400.", rid)
        with self._lock:
            expires = self._unscoped.get(token)
        if expires is None or self.state.now() >= expires:
            return self._iam_error(401, "The token is invalid or expired.", rid)
        ak, sk, stoken, key_expires = self._issue(min(duration, self.config["temp_key_ttl"]))
        return _json(201, {"credential": {"access": ak, "secret": sk, "securitytoken": stoken,
                                          "expires_at": _iso_us(key_expires)}},
                     [("X-IAM-Trace-Id", rid)])
