"""Identity: the ECS metadata service (session tokens, fall-backs, no agency), the CCE
pod-identity endpoint, IAM's project lookup and OIDC federation; the temporary keys they
issue work on the APIs with their security token and stop working when they expire."""

import json

from harness import EmulatorTestCase

TOKEN_PATH = "/meta-data/latest/api/token"
KEY_PATH = "/openstack/latest/securitykey"


class Identity(EmulatorTestCase):
    def ident(self, changes):
        return self.emu.control("POST", "identity", changes)

    def metadata_keys(self):
        t = self.emu.raw("PUT", TOKEN_PATH, {"X-Metadata-Token-Ttl-Seconds": "21600"})
        self.assertEqual(t.status, 200, t)
        r = self.emu.raw("GET", KEY_PATH, {"X-Metadata-Token": t.body.decode()})
        self.assertEqual(r.status, 200, r)
        return r.json()["credential"]

    def backup_call(self, c):
        return self.emu.call("GET", "/v3/{project_id}/backup-files", [("backup_id", self.emu.seed["rds_backup_id"])],
                             ak=c["access"], sk=c["secret"], security_token=c["securitytoken"])

    def api_names(self):
        return [r["api"] for r in self.emu.control("GET", "requests")]

    # ---- ECS metadata --------------------------------------------------------------

    def test_metadata_session_token_then_keys_that_sign_api_calls(self):
        c = self.metadata_keys()
        self.assertRegex(c["expires_at"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$")
        self.assertEqual(self.backup_call(c).status, 200)
        # without the security token, or with another one, the keys are refused
        r = self.emu.call("GET", "/v3/{project_id}/backup-files", [("backup_id", self.emu.seed["rds_backup_id"])],
                          ak=c["access"], sk=c["secret"])
        self.assertApiError(r, 401, "APIGW.0301")
        self.assertIn("X-Security-Token", r.json()["error_msg"])
        self.assertEqual(self.api_names(), ["metadata_token", "metadata_securitykey", "show_backup_download_link",
                                            "show_backup_download_link"])

    def test_metadata_token_put_needs_a_ttl_of_at_most_six_hours(self):
        self.assertEqual(self.emu.raw("PUT", TOKEN_PATH).status, 400)
        self.assertEqual(self.emu.raw("PUT", TOKEN_PATH, {"X-Metadata-Token-Ttl-Seconds": "21601"}).status, 400)
        self.assertEqual(self.emu.raw("PUT", TOKEN_PATH, {"X-Metadata-Token-Ttl-Seconds": "60"}).status, 200)

    def test_metadata_keys_need_a_valid_session_token(self):
        r = self.emu.raw("GET", KEY_PATH)
        self.assertEqual(r.status, 401)
        self.assertNotIn(b"Cloud Service Agency", r.body)   # a client must re-token, not give up
        t = self.emu.raw("PUT", TOKEN_PATH, {"X-Metadata-Token-Ttl-Seconds": "10"}).body.decode()
        self.assertEqual(self.emu.raw("GET", KEY_PATH, {"X-Metadata-Token": t}).status, 200)
        self.emu.control("DELETE", "identity/metadata-tokens")
        self.assertEqual(self.emu.raw("GET", KEY_PATH, {"X-Metadata-Token": t}).status, 401)
        # a token expires after its TTL (emulator clock)
        t = self.emu.raw("PUT", TOKEN_PATH, {"X-Metadata-Token-Ttl-Seconds": "10"}).body.decode()
        self.emu.control("POST", "config", {"clock_offset": 11})
        self.assertEqual(self.emu.raw("GET", KEY_PATH, {"X-Metadata-Token": t}).status, 401)

    def test_metadata_without_session_tokens(self):
        for status in (404, 405, 503):
            with self.subTest(status=status):
                self.ident({"metadata_mode": "no_token", "metadata_no_token_status": status})
                self.assertEqual(self.emu.raw("PUT", TOKEN_PATH, {"X-Metadata-Token-Ttl-Seconds": "60"}).status, status)
                r = self.emu.raw("GET", KEY_PATH)
                self.assertEqual(r.status, 200, r)
                self.assertEqual(self.backup_call(r.json()["credential"]).status, 200)

    def test_metadata_without_an_agency(self):
        self.ident({"metadata_mode": "no_agency"})
        t = self.emu.raw("PUT", TOKEN_PATH, {"X-Metadata-Token-Ttl-Seconds": "60"}).body.decode()
        r = self.emu.raw("GET", KEY_PATH, {"X-Metadata-Token": t})
        self.assertEqual(r.status, 401)
        self.assertIn(b"Please configure Cloud Service Agency first", r.body)

    def test_temporary_keys_expire(self):
        self.ident({"temp_key_ttl": 30})
        c = self.metadata_keys()
        self.assertEqual(self.backup_call(c).status, 200)
        self.emu.control("POST", "config", {"clock_offset": 31})   # within the 15-minute date window
        r = self.backup_call(c)
        self.assertApiError(r, 401, "APIGW.0301")
        self.assertIn("expired", r.json()["error_msg"])
        # the emulator's fixed temporary keys never expire
        tmp = self.emu.info["temporary"]
        r = self.emu.call("GET", "/v3/{project_id}/backup-files", [("backup_id", self.emu.seed["rds_backup_id"])],
                          ak=tmp["ak"], sk=tmp["sk"], security_token=tmp["security_token"])
        self.assertEqual(r.status, 200, r)

    def test_reset_forgets_issued_keys_and_switches(self):
        self.ident({"metadata_mode": "no_agency", "temp_key_ttl": 99})
        self.ident({"metadata_mode": "token"})
        c = self.metadata_keys()
        self.emu.control("POST", "reset")
        self.assertEqual(self.emu.control("GET", "identity")["config"]["temp_key_ttl"], 21600)
        self.assertApiError(self.backup_call(c), 401, "APIGW.0301")

    def test_identity_switches_are_checked(self):
        for bad in ({"metadata_mode": "x"}, {"metadata_no_token_status": 500}, {"nope": 1},
                    {"iam_projects": 3}, {"temp_key_ttl": "5"}):
            with self.subTest(bad=bad):
                r = self.emu.raw("POST", "/_emulator/identity", {"Content-Type": "application/json"},
                                 json.dumps(bad).encode())
                self.assertEqual(r.status, 400, r)

    def test_faults_target_identity_calls_but_not_the_api_wildcard(self):
        self.emu.control("POST", "faults", {"target": "metadata_securitykey", "kind": "status", "status": 503})
        t = self.emu.raw("PUT", TOKEN_PATH, {"X-Metadata-Token-Ttl-Seconds": "60"}).body.decode()
        self.assertEqual(self.emu.raw("GET", KEY_PATH, {"X-Metadata-Token": t}).status, 503)
        self.assertEqual(self.emu.raw("GET", KEY_PATH, {"X-Metadata-Token": t}).status, 200)
        self.emu.control("POST", "faults", {"target": "api", "kind": "status", "status": 500})
        self.assertEqual(self.emu.raw("GET", KEY_PATH, {"X-Metadata-Token": t}).status, 200)

    # ---- CCE pod identity ----------------------------------------------------------

    def pod(self, token, body=b"{}"):
        info = self.emu.info["identity"]
        path = info["pod_identity_url"][len(self.emu.info["endpoint"]):]
        hdrs = {"Content-Type": "application/json"}
        if token is not None:
            hdrs["Authorization"] = token
        return self.emu.raw("POST", path, hdrs, body)

    def test_pod_identity_needs_the_token_and_a_json_body(self):
        info = self.emu.info["identity"]
        self.assertEqual(self.pod(None).status, 401)
        self.assertEqual(self.pod("wrong").status, 401)
        self.assertEqual(self.pod(info["pod_token"], b"").status, 400)
        r = self.pod(info["pod_token"])
        self.assertEqual(r.status, 200, r)
        self.assertEqual(self.backup_call(r.json()["credential"]).status, 200)

    def test_pod_identity_other_field_names(self):
        self.ident({"pod_format": "camel"})
        r = self.pod(self.emu.info["identity"]["pod_token"])
        c = r.json()["credentials"]
        self.assertEqual(sorted(c), ["accessKeyId", "expiration", "secretAccessKey", "securityToken"])
        self.assertEqual(self.backup_call({"access": c["accessKeyId"], "secret": c["secretAccessKey"],
                                           "securitytoken": c["securityToken"]}).status, 200)

    # ---- IAM: project lookup -------------------------------------------------------

    def projects(self, name="emulator", **kw):
        return self.emu.call("GET", "/v3/projects", [("name", name)], project_header=False, **kw)

    def test_project_lookup_is_signed_and_finds_the_region(self):
        r = self.projects()
        self.assertEqual(r.status, 200, r)
        self.assertRegex(r.header("X-IAM-Trace-Id") or "", r"^[0-9a-f]{32}$")
        self.assertEqual([p["id"] for p in r.json()["projects"]], [self.emu.pid_])
        self.assertEqual(self.projects("cn-north-4").json()["projects"], [])
        c = self.metadata_keys()
        r = self.projects(ak=c["access"], sk=c["secret"], security_token=c["securitytoken"])
        self.assertEqual(len(r.json()["projects"]), 1)
        r = self.emu.raw("GET", "/v3/projects?name=emulator")
        self.assertEqual(r.status, 401)

    def test_project_lookup_switch_for_none_or_two(self):
        self.ident({"iam_projects": 0})
        self.assertEqual(self.projects().json()["projects"], [])
        self.ident({"iam_projects": 2})
        ids = [p["id"] for p in self.projects().json()["projects"]]
        self.assertEqual(len(set(ids)), 2)
        self.assertIn(self.emu.pid_, ids)

    # ---- IAM: OIDC federation ------------------------------------------------------

    def id_token(self, idp, token):
        return self.emu.raw("POST", "/v3.0/OS-AUTH/id-token/tokens",
                            {"X-Idp-Id": idp, "Content-Type": "application/json;charset=UTF-8"},
                            json.dumps({"auth": {"id_token": {"id": token}}}).encode())

    def securitytokens(self, token, duration=21600):
        body = {"auth": {"identity": {"methods": ["token"], "token": {"id": token, "duration_seconds": duration}}}}
        return self.emu.raw("POST", "/v3.0/OS-CREDENTIAL/securitytokens",
                            {"Content-Type": "application/json;charset=UTF-8"}, json.dumps(body).encode())

    def test_federation_exchanges_an_id_token_for_temporary_keys(self):
        info = self.emu.info["identity"]
        self.assertEqual(self.id_token("other-idp", info["id_token"]).status, 404)
        self.assertEqual(self.id_token(info["idp_id"], info["id_token"] + "x").status, 401)
        r = self.id_token(info["idp_id"], info["id_token"])
        self.assertEqual(r.status, 201, r)
        unscoped = r.header("X-Subject-Token")
        self.assertTrue(unscoped)
        self.assertEqual(self.securitytokens("not-a-token").status, 401)
        self.assertEqual(self.securitytokens(unscoped, 899).status, 400)
        self.assertEqual(self.securitytokens(unscoped, 86401).status, 400)
        r = self.securitytokens(unscoped)
        self.assertEqual(r.status, 201, r)
        self.assertEqual(self.backup_call(r.json()["credential"]).status, 200)

    def test_federated_keys_live_at_most_temp_key_ttl(self):
        self.ident({"temp_key_ttl": 20})
        info = self.emu.info["identity"]
        unscoped = self.id_token(info["idp_id"], info["id_token"]).header("X-Subject-Token")
        c = self.securitytokens(unscoped).json()["credential"]
        self.emu.control("POST", "config", {"clock_offset": 21})
        self.assertApiError(self.backup_call(c), 401, "APIGW.0301")
