"""hitl believes only an engine it can vouch for (issue 8, section 4).

An --opa-url OPA must serve the policy revision hitl computes for its own policies and profile, every decision
must add up (tier, profile, approvals, delivery, id, count), and an OPA behind hitl's access policy refuses
policy and data writes and requests without its token. The fake and tampering servers here are FAULT INJECTION
ONLY: loopback stubs and a proxy in front of a real OPA that rewrite its answers; everything else is the real
OPA and CLI.
"""

import asyncio
import datetime
import ipaddress
import json
import signal
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path

import pytest
import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from conftest import assert_failed_closed, hitl, make_manifest, shipped_profile, write_manifests, write_yaml
from fault_proxy import LoopbackServer, QuietHandler, stand_in_decisions, truthful_get
from hitl_cli.engine.endpoint import OpaEndpoint, configured_token
from hitl_cli.engine import served_sources
from hitl_cli.engine.access import OPA_ACCESS_ARGS, write_opa_access_policy
from hitl_cli.engine.binary import find_opa
from hitl_cli.engine.connection import connect, connect_async, query_encoded_async
from hitl_cli.engine.revisions import REVISIONS_PATH, expected_revision
from hitl_cli.engine.server import free_loopback_port, opa_run_command
from hitl_cli.errors import EngineError, UsageError
from hitl_cli.inputs import load_all_profiles, load_profile, profile_path

pytestmark = pytest.mark.attack  # each test tries a way past the gate (make bench counts them)

TOKEN = "hitl-test-token-7f3a9c"
DEADLINE_SECONDS = 60  # generous: only a broken setup ever waits this long
# A production DROP of a PII table, exposing PII: blocked under the default profile.
DROP = make_manifest(id="drop-customers", type="drop", env="production", statement="DROP TABLE analytics.customers",
                     pii=True, exposes_pii=True)
# A production write by a trusted agent: double approval under the default profile.
WRITE = make_manifest(id="write-orders", type="write", env="production")
READ = make_manifest(id="read-orders", type="read", env="production")
DEFAULT_REVISION = expected_revision(load_profile(profile_path("default")))


@pytest.fixture
def plan(tmp_path) -> Path:
    return write_manifests(tmp_path, [READ, WRITE, DROP], "plan.json")


def auto_approval(manifest: dict) -> dict:
    return {
        "id": manifest["metadata"]["id"], "tier": "auto_approve", "approvals_required": 0, "post_hoc_review": False,
        "delivery": "none", "agent_level": "medium", "profile": "default",
        "reasons": [{"code": "trusted", "tier": "auto_approve", "message": "fine"}],
        "agent": manifest["agent"]["id"], "action_type": manifest["action"]["type"],
        "declared_type": manifest["action"]["type"], "environment": manifest["target"]["environment"], "risk": "low",
    }


class FakeOpa(LoopbackServer):
    """FAULT INJECTION ONLY: answers auto_approve for everything, publishing `revision` (None: none at all)."""

    def __init__(self, revision: str | None):
        self.decision_requests = 0
        fake = self

        class Handler(QuietHandler):
            def do_GET(self):
                if self.path == REVISIONS_PATH:
                    self._answer(200, json.dumps({} if revision is None else {"result": {"default": revision}}).encode())
                else:
                    self._answer(200, truthful_get(self.path))

            def do_POST(self):
                fake.decision_requests += 1
                asked = json.loads(self.rfile.read(int(self.headers["Content-Length"])))["input"]
                self._answer(200, json.dumps(stand_in_decisions(asked, auto_approval)).encode())

        self._listen(Handler)


@pytest.mark.parametrize("revision", [None, "0" * 64, "not a revision\n::error::x"])
def test_a_fake_engine_answering_auto_approve_is_refused_naming_both_revisions(plan, revision):
    with FakeOpa(revision) as fake:
        result = hitl("check", plan, "--profile", "default", "--opa-url", fake.url)
    assert_failed_closed(result, DEFAULT_REVISION)
    assert "serves policy revision" in result.stderr
    if revision is None:
        assert "none (data.hitl.meta.revisions.default is undefined)" in result.stderr
    elif revision.isalnum():
        assert revision in result.stderr
    else:  # a hostile value is shown as inert JSON, on the one line
        assert '"not a revision\\n::error::x"' in result.stderr
    assert fake.decision_requests == 0  # no answer was even asked for


class TamperingProxy(LoopbackServer):
    """FAULT INJECTION ONLY: forwards to a real OPA and rewrites the decisions it answers with `tamper`."""

    def __init__(self, upstream_url: str, tamper):
        class Handler(QuietHandler):
            def _forward(self, body: bytes | None) -> dict:
                request = urllib.request.Request(upstream_url + self.path, data=body, method=self.command,
                                                 headers={"Content-Type": "application/json", "Authorization": f"Bearer {TOKEN}"})
                with urllib.request.urlopen(request, timeout=30) as answer:
                    return json.loads(answer.read())

            def do_GET(self):
                self._answer(200, json.dumps(self._forward(None)).encode())

            def do_POST(self):
                answer = self._forward(self.rfile.read(int(self.headers["Content-Length"])))
                answer["result"] = tamper(answer["result"])
                self._answer(200, json.dumps(answer).encode())

        self._listen(Handler)


def _by_id(decisions: list[dict], manifest_id: str) -> dict:
    return next(decision for decision in decisions if decision["id"] == manifest_id)


def _edit(manifest_id: str, **changes):
    def tamper(decisions: list[dict]) -> list[dict]:
        _by_id(decisions, manifest_id).update(changes)
        return decisions
    return tamper


def _lower_every_reason(decisions: list[dict]) -> list[dict]:
    drop = _by_id(decisions, "drop-customers")
    drop["reasons"] = [{**reason, "tier": "auto_approve"} for reason in drop["reasons"]]
    return decisions


@pytest.mark.parametrize(
    ("tamper", "needle"),
    [
        (_edit("drop-customers", tier="auto_approve", approvals_required=0, delivery="none"),
         "manifest 'drop-customers': tier auto_approve, but its strictest reason ('pii_exposure') is block"),
        (_edit("drop-customers", reasons=[], tier="auto_approve"), "manifest 'drop-customers': tier auto_approve has no reason"),
        (_edit("drop-customers", profile="startup"), "manifest 'drop-customers': it is for profile 'startup', not 'default'"),
        (_edit("write-orders", approvals_required=1),
         "manifest 'write-orders': 1 approvals required, but profile default requires 2 for double_approval"),
        (_edit("drop-customers", delivery="digest"), "manifest 'drop-customers': delivery digest, but profile default delivers block by interrupt"),
        (_edit("write-orders", post_hoc_review=True), "manifest 'write-orders': post-hoc review of a double_approval action"),
        (_lower_every_reason, "manifest 'drop-customers': tier block, but its strictest reason"),
        (_edit("drop-customers", reasons=[{"code": "x", "tier": "fine", "message": "m"}]), "policy returned a malformed decision"),
        (lambda decisions: decisions[:-1], "policy returned 2 decisions for 3 manifests"),
        (lambda decisions: decisions + decisions[:1], "policy returned 4 decisions for 3 manifests"),
        (lambda decisions: decisions[::-1], "policy returned decisions out of order: manifest 'read-orders' (number 1 asked) got the decision for 'drop-customers'"),
        (lambda decisions: [decisions[0], decisions[0], decisions[2]], "manifest 'write-orders' (number 2 asked) got the decision for 'read-orders'"),
    ],
    ids=["tier-below-reasons", "no-reason", "wrong-profile", "wrong-approvals", "wrong-delivery", "post-hoc-non-auto",
         "reasons-below-tier", "reason-tier-not-a-tier", "too-few", "too-many", "reordered", "duplicated"],
)
def test_a_decision_that_does_not_add_up_is_an_engine_failure(plan, tamper, needle):
    with TamperingProxy(served_url(), tamper) as proxy:
        result = hitl("check", plan, "--profile", "default", "--opa-url", proxy.url)
    assert_failed_closed(result, needle)
    assert result.stdout == ""


def test_an_untampered_answer_through_the_same_proxy_is_believed(plan):
    with TamperingProxy(served_url(), lambda decisions: decisions) as proxy:
        result = hitl("check", plan, "--profile", "default", "--opa-url", proxy.url)
    assert result.returncode == 3, result.stderr  # the DROP is blocked, and nothing failed
    assert "drop-customers" in result.stdout


def test_proxy_and_ca_bundle_variables_cannot_reroute_or_reverify_the_engine(plan, tls_files):
    # A proxy variable would send hitl's questions (and the token) to another server; a CA-bundle variable
    # would decide which certificates hitl believes. The environment is hostile: both are ignored.
    ca, certificate, key, stranger = tls_files
    server = Served(tls=(certificate, key), ca_file=ca)
    try:
        hostile = {variable: "http://127.0.0.1:1" for variable in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy", "ALL_PROXY")}
        hostile |= {"NO_PROXY": "", "no_proxy": "", "HITL_OPA_TOKEN": TOKEN}
        trusted = hitl("check", plan, "--profile", "default", "--opa-url", server.url, "--opa-ca-file", ca, env=hostile)
        assert trusted.returncode == 3, trusted.stderr  # answered directly, not through the dead proxy
        reverified = hitl("check", plan, "--profile", "default", "--opa-url", server.url, "--opa-ca-file", stranger,
                          env={"HITL_OPA_TOKEN": TOKEN, "REQUESTS_CA_BUNDLE": str(ca), "CURL_CA_BUNDLE": str(ca)})
        assert_failed_closed(reverified, "its certificate did not verify")
    finally:
        server.stop()


# A real OPA as an --opa-url user runs one, with a token, for the whole module: started once, stopped at the end.

class Served:
    """`opa run --server` on the policies and every profile with their published revisions (or on a bundle
    from `hitl bundle build`), behind hitl's access policy with a token, and https with a certificate."""

    def __init__(self, bundle: Path | None = None, token: str | None = TOKEN, tls: tuple[Path, Path] | None = None,
                 ca_file: Path | None = None):
        self.port = free_loopback_port()
        self.url = f"{'https' if tls else 'http'}://127.0.0.1:{self.port}"
        self.token, self.ca_file = token, ca_file
        self.folder = tempfile.TemporaryDirectory(prefix="hitl-served-")
        folder = Path(self.folder.name)
        access = write_opa_access_policy(folder / "access", token)
        sources = [bundle, access] if bundle else [*served_sources(load_all_profiles(), folder, None), access]
        args = [*OPA_ACCESS_ARGS, *(["--bundle"] if bundle else [])]
        if tls:
            args += ["--tls-cert-file", str(tls[0]), "--tls-private-key-file", str(tls[1])]
        self.process = subprocess.Popen(
            opa_run_command(find_opa(), f"127.0.0.1:{self.port}", sources, args),
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
        )
        deadline = time.monotonic() + DEADLINE_SECONDS
        while not self.healthy():
            assert self.process.poll() is None, self.process.stderr.read()
            assert time.monotonic() < deadline, "OPA never became healthy"
            time.sleep(0.05)

    def request(self, method: str, path: str, token: str | None = None, **kwargs) -> requests.Response:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return requests.request(method, self.url + path, headers=headers, timeout=10,
                                verify=str(self.ca_file) if self.ca_file else True, **kwargs)

    def healthy(self) -> bool:
        try:
            return self.request("GET", "/health?bundles", self.token).status_code == 200
        except requests.RequestException:
            return False

    def stop(self) -> None:
        self.process.send_signal(signal.SIGTERM)
        self.process.communicate(timeout=30)
        self.folder.cleanup()


_SERVED: dict[str, Served] = {}


def served_url() -> str:
    return _SERVED["token"].url


@pytest.fixture(scope="module", autouse=True)
def served_with_token(opa_bin):
    _SERVED["token"] = Served()
    yield _SERVED["token"]
    _SERVED.pop("token").stop()


def test_the_token_is_sent_by_hitl_check_and_required_by_hitl_serve(plan, served_with_token, tmp_path):
    url = served_with_token.url
    with_token = hitl("check", plan, "--profile", "default", "--opa-url", url, env={"HITL_OPA_TOKEN": TOKEN})
    assert with_token.returncode == 3, with_token.stderr
    token_file = tmp_path / "token"
    token_file.write_text(TOKEN + "\n")
    from_file = hitl("check", plan, "--profile", "default", "--opa-url", url, "--opa-token-file", token_file)
    assert (from_file.returncode, from_file.stdout) == (3, with_token.stdout)
    for env in ({}, {"HITL_OPA_TOKEN": "wrong-token"}):
        refused = hitl("check", plan, "--profile", "default", "--opa-url", url, env=env)
        assert_failed_closed(refused, "hitl serve requires its bearer token")
    assert served_with_token.request("POST", "/v1/data/hitl/main/decisions", json={"input": {}}).status_code == 401
    assert served_with_token.request("GET", "/health").status_code == 401


WRITES = [
    # a policy answering auto_approve for everything
    ("PUT", "/v1/policies/hitl/main", {"data": "package hitl.main\n\ndecisions := []\n"}),
    # a blanket waiver lowering everything to auto_approve
    ("PUT", "/v1/data/hitl/profiles/default/waivers", {"json": [{
        "id": "WVR-ALL", "agent": "**", "action_type": "drop", "resource": "**", "lower_to": "auto_approve",
        "approved_by": "mallory", "reason": "pushed", "expires": "2099-01-01T00:00:00Z"}]}),
    ("PATCH", "/v1/data/hitl/profiles/default", {"json": [{"op": "replace", "path": "waiver_policy/unwaivable", "value": []}]}),
    ("DELETE", "/v1/policies/hitl/rules/pii", {}),
    ("PUT", "/v1/data/hitl/meta/revisions/default", {"json": "forged"}),
]


@pytest.mark.parametrize("token", [None, TOKEN], ids=["without-token", "with-token"])
def test_policy_and_data_writes_to_hitl_serve_are_refused_and_the_drop_stays_blocked(plan, served_with_token, token):
    for method, path, body in WRITES:
        answer = served_with_token.request(method, path, token, **body)
        assert answer.status_code == 401, (method, path, answer.text)  # OPA's authorizer answers every refusal 401
        assert ("writes are refused" if token else "bearer token") in answer.json()["message"]
    result = hitl("check", plan, "--profile", "default", "--opa-url", served_with_token.url, "--format", "json",
                  env={"HITL_OPA_TOKEN": TOKEN})
    assert result.returncode == 3, result.stderr
    assert _by_id(json.loads(result.stdout), "drop-customers")["tier"] == "block"


def test_the_opa_a_run_starts_for_itself_refuses_writes_too(policy):
    # Another process on the host finds the run's port and pushes a policy while the run is deciding.
    pushed = requests.put(policy.client.url + "/v1/policies/hitl/main", data="package hitl.main\n", timeout=10)
    assert pushed.status_code == 401 and "writes are refused" in pushed.json()["message"]
    assert policy.decide("default", DROP).tier == "block"


def test_hitl_serve_publishes_the_revision_hitl_computes(served_with_token):
    answer = served_with_token.request("GET", REVISIONS_PATH, TOKEN)
    assert answer.json()["result"]["default"] == DEFAULT_REVISION
    assert served_with_token.request("GET", "/v1/policies", TOKEN).status_code == 401  # only data.hitl is served
    assert served_with_token.request("GET", "/v1/data/system/hitl_serve", TOKEN).status_code == 401


def test_a_token_is_never_sent_in_clear_beyond_loopback(plan):
    # 192.0.2.1 is TEST-NET-1: nothing answers there, so only a refusal before connecting returns at once.
    result = hitl("check", plan, "--profile", "default", "--opa-url", "http://192.0.2.1:8181", env={"HITL_OPA_TOKEN": TOKEN})
    assert result.returncode == 2, result.stderr
    assert "refusing to send the OPA token over plain http to 192.0.2.1" in result.stderr


@pytest.mark.parametrize("token", ["", "two words", "line\nbreak", "tab\there", "é" * 3])
def test_a_token_that_could_break_the_header_is_refused(monkeypatch, token):
    monkeypatch.setenv("HITL_OPA_TOKEN", token)
    if token:
        with pytest.raises(UsageError, match="printable ASCII"):
            configured_token(None)
    else:
        assert configured_token(None) is None


def test_token_from_environment_and_file_at_once_is_refused(monkeypatch, tmp_path):
    monkeypatch.setenv("HITL_OPA_TOKEN", TOKEN)
    (tmp_path / "token").write_text(TOKEN)
    with pytest.raises(UsageError, match="both set"):
        configured_token(tmp_path / "token")


def test_loopback_is_recognised_and_nothing_else():
    client = connect(OpaEndpoint("http://127.0.0.2:1", TOKEN), timeout=1)
    assert client.headers["Authorization"] == f"Bearer {TOKEN}" and client._session.verify is True  # no https
    assert OpaEndpoint("http://[::1]:1", TOKEN) and OpaEndpoint("http://localhost:1", TOKEN)
    for host in ("10.0.0.1", "127.0.0.1.nip.io", "localhost.example.com", "0.0.0.0"):
        with pytest.raises(UsageError, match="plain http"):
            OpaEndpoint(f"http://{host}:8181", TOKEN)
    verified = connect(OpaEndpoint("https://opa.example.com", TOKEN), timeout=1)
    assert verified.root_url == "https://opa.example.com:443/v1" and verified._session.verify is True


def test_answers_are_asked_uncompressed_from_loopback_only():
    """OPA gzips an answer the client accepts gzipped: over loopback that is CPU spent on both sides for nothing."""
    for url, compressed in (("http://127.0.0.1:1", False), ("http://[::1]:1", False), ("https://opa.example.com", True)):
        for client in (connect(OpaEndpoint(url, TOKEN), timeout=1), connect_async(OpaEndpoint(url, TOKEN), timeout=1)):
            assert client.headers["Authorization"] == f"Bearer {TOKEN}"
            assert ("Accept-Encoding" not in client.headers) is compressed, (url, type(client))
            if compressed is False and hasattr(client, "_session") and client._session is not None:
                assert client._session.headers["Accept-Encoding"] == "identity"


# TLS: a certificate authority and a server certificate for 127.0.0.1, made here.

def _certificate(subject: str, key, issuer_key, issuer_name, ca: bool, ip: str | None = None):
    now = datetime.datetime.now(datetime.timezone.utc)
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
        .issuer_name(issuer_name or x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if ip:
        builder = builder.add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(ip))]), critical=False)
    return builder.sign(issuer_key, hashes.SHA256())


def _pem(folder: Path, name: str, certificate, key=None) -> Path:
    (folder / f"{name}.pem").write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    if key is not None:
        (folder / f"{name}.key").write_bytes(key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    return folder / f"{name}.pem"


@pytest.fixture
def tls_files(tmp_path) -> tuple[Path, Path, Path, Path]:
    """(CA certificate, server certificate, server key, another CA's certificate)."""
    ca_key, server_key, stranger_key = (ec.generate_private_key(ec.SECP256R1()) for _ in range(3))
    ca = _certificate("hitl test CA", ca_key, ca_key, None, ca=True)
    server = _certificate("127.0.0.1", server_key, ca_key, ca.subject, ca=False, ip="127.0.0.1")
    stranger = _certificate("another CA", stranger_key, stranger_key, None, ca=True)
    _pem(tmp_path, "server", server, server_key)
    return _pem(tmp_path, "ca", ca), tmp_path / "server.pem", tmp_path / "server.key", _pem(tmp_path, "stranger", stranger)


def test_tls_with_a_ca_file_against_a_real_opa(plan, tls_files):
    ca, certificate, key, stranger = tls_files
    server = Served(tls=(certificate, key), ca_file=ca)
    try:
        env = {"HITL_OPA_TOKEN": TOKEN}
        trusted = hitl("check", plan, "--profile", "default", "--opa-url", server.url, "--opa-ca-file", ca, env=env)
        assert trusted.returncode == 3, trusted.stderr
        from_environment = hitl("check", plan, "--profile", "default", "--opa-url", server.url,
                                env={**env, "HITL_OPA_CA_FILE": str(ca)})
        assert from_environment.returncode == 3, from_environment.stderr
        for ca_option in ((), ("--opa-ca-file", stranger)):  # the system's authorities, then another CA
            untrusted = hitl("check", plan, "--profile", "default", "--opa-url", server.url, *ca_option, env=env)
            assert_failed_closed(untrusted, "its certificate did not verify")
    finally:
        server.stop()


def test_the_asyncio_client_trusts_only_the_ca_file_and_ignores_the_environment(tls_files, monkeypatch):
    # hitl serve asks its OPA through opa-python-client's asyncio client (aiohttp): it must verify as the synchronous
    # one does, whatever CA bundle or proxy the environment names.
    ca, certificate, key, stranger = tls_files
    server = Served(tls=(certificate, key), ca_file=ca)  # started (and seen healthy) before the environment turns
    for variable in ("SSL_CERT_FILE", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"):
        monkeypatch.setenv(variable, str(ca))
    for variable in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy", "ALL_PROXY"):
        monkeypatch.setenv(variable, "http://127.0.0.1:1")

    async def ask(ca_file: Path | None):
        client = connect_async(OpaEndpoint(server.url, TOKEN, ca_file), timeout=10)
        try:
            return await query_encoded_async(client, server.url, "data.hitl.runtime.opa_version", b"{}")
        finally:
            await client.close_connection()

    try:
        assert asyncio.run(ask(ca))["result"]  # verified with the CA file, asked directly (not through the proxy)
        for ca_file in (None, stranger):  # certifi's authorities (not the environment's bundle), then another CA
            with pytest.raises(EngineError, match="its certificate did not verify"):
                asyncio.run(ask(ca_file))
    finally:
        server.stop()


def test_a_ca_file_for_a_plain_http_url_is_refused(plan, tls_files):
    result = hitl("check", plan, "--profile", "default", "--opa-url", "http://127.0.0.1:1", "--opa-ca-file", tls_files[0])
    assert result.returncode == 2 and "is not https" in result.stderr


def test_a_bundle_of_other_profiles_is_refused_by_revision(plan, tmp_path, opa_bin):
    loosened = shipped_profile("default")
    loosened["budget"]["per_action_usd"] = 10**9
    bundle = tmp_path / "stale.tar.gz"
    assert hitl("bundle", "build", "--profile", write_yaml(tmp_path / "default.yaml", loosened), "-o", bundle).returncode == 0
    server = Served(bundle=bundle)
    try:
        served = server.request("GET", REVISIONS_PATH, TOKEN).json()["result"]["default"]
        result = hitl("check", plan, "--profile", "default", "--opa-url", server.url, env={"HITL_OPA_TOKEN": TOKEN})
        assert_failed_closed(result, f"serves policy revision {served} for profile 'default'")
        assert DEFAULT_REVISION in result.stderr and served != DEFAULT_REVISION
        accepted = hitl("check", plan, "--profile", tmp_path / "default.yaml", "--opa-url", server.url,
                        env={"HITL_OPA_TOKEN": TOKEN})
        assert accepted.returncode == 3, accepted.stderr  # the bundle's own profile: its revision is the one expected
    finally:
        server.stop()


def test_a_fake_engine_replaying_the_expected_revision_still_cannot_lower_what_the_floor_holds(plan):
    """The revision is computed from public files, so a fake can publish it: it then answered auto_approve, with
    self-consistent reasons, for a production DROP exposing PII, and hitl check exited 0."""
    with FakeOpa(DEFAULT_REVISION) as fake:
        result = hitl("check", plan, "--profile", "default", "--opa-url", fake.url)
    assert fake.decision_requests == 1  # the revision was believed; the answer was not
    assert_failed_closed(result, "inconsistent decision for manifest 'drop-customers'")
    assert "tier auto_approve, but it exposes PII, which needs at least block" in result.stderr


@pytest.mark.parametrize(("statement", "needle"), [
    ("DROP TABLE analytics.customers", "its statement counts as drop in production, which needs at least block"),
    ("CALL admin.purge()", "its statement cannot be analysed, which needs at least escalate"),
])  # fmt: skip
def test_a_replaying_fake_cannot_pass_a_statement_the_policy_holds_back(tmp_path, statement, needle):
    read = make_manifest(id="read-that-is-not", type="read", env="production", statement=statement)
    with FakeOpa(DEFAULT_REVISION) as fake:
        result = hitl("check", write_manifests(tmp_path, [read]), "--profile", "default", "--opa-url", fake.url)
    assert_failed_closed(result, needle)
