"""`hitl serve`: hitl's own HTTP API in front of a private OPA - real server, real OPA, real store, real CLI.

An agent decides, submits, waits and learns the outcome over HTTP; the profile and track record are the
server's whatever a body carries; every route but /health needs the token; hostile bodies are refused with
hitl's own problems; the OpenAPI document served is the committed one.
"""

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import requests
import yaml

from conftest import ROOT, TRUSTED_RECORD, hitl, make_manifest
from served_hitl import TOKEN, Service, signed_verdict
from hitl_cli.engine.server import free_loopback_port

pytestmark = pytest.mark.attack  # each test tries a way past the gate (make bench counts them)

WRITE = make_manifest(id="write-orders", type="write", env="production")
READ = make_manifest(id="read-orders", type="read", env="dev")
# pipeline-agent is unknown to the server's track record: a new agent, at the strictest level.
STRANGER_WRITE = make_manifest(id="stranger-write", type="write", env="staging", agent="pipeline-agent")
FORGED_RECORD = {"agents": {"pipeline-agent": {"level": "high", "reviewed": 100000, "approved": 100000, "rejected": 0}}}


@pytest.fixture(scope="module")
def service(opa_bin, tmp_path_factory):
    served = Service(tmp_path_factory.mktemp("serve"))
    yield served
    served.stop()


def test_decisions_are_the_cli_decisions_under_the_servers_profile_and_record(service, tmp_path):
    answer = service.call("POST", "/v1/decisions", json={"manifests": [READ, WRITE, STRANGER_WRITE]})
    assert answer.status_code == 200, answer.text
    served = answer.json()
    plan = tmp_path / "plan.yaml"
    plan.write_text(yaml.safe_dump_all([READ, WRITE, STRANGER_WRITE]))
    cli = hitl("evaluate", plan, "--profile", "default", "--track-record", service.record, "--format", "json")
    assert cli.returncode == 0, cli.stderr
    assert served["profile"] == "default"
    from_cli = json.loads(cli.stdout)  # each decision, and where its manifest came from
    assert served["decisions"] == [{key: item[key] for key in served["decisions"][0]} for item in from_cli]


def test_a_body_carrying_a_track_record_or_another_profile_changes_nothing(service):
    honest = service.call("POST", "/v1/decisions", json={"manifests": [STRANGER_WRITE]}).json()
    assert honest["decisions"][0]["agent_level"] == "suggestion"  # a new agent
    for forged in ({"track_record": FORGED_RECORD}, {"profile": "startup"}, {"profile": "bank", "track_record": FORGED_RECORD},
                   {"input": {"track_record": FORGED_RECORD}}, {"now": "2000-01-01T00:00:00Z", "history": {}}):
        answer = service.call("POST", "/v1/decisions", json={"manifests": [STRANGER_WRITE], **forged})
        assert answer.status_code == 200, answer.text
        assert answer.json() == honest, forged


def test_every_route_but_health_needs_the_token(service):
    routes = [("POST", "/v1/decisions", {"json": {"manifests": [READ]}}), ("POST", "/v1/requests", {"json": {"manifests": [READ]}}),
              ("GET", "/v1/requests/read-orders", {}), ("GET", "/v1/requests/read-orders/wait?timeout=0", {}),
              ("GET", "/v1/queue", {})]
    for token in (None, "wrong-token", TOKEN + "x", TOKEN[:-1]):
        for method, path, body in routes:
            answer = service.call(method, path, token, **body)
            assert answer.status_code == 401, (token, method, path, answer.text)
            assert answer.json()["error"].startswith("hitl serve requires its bearer token")
    assert service.call("GET", "/health", None).json()["status"] == "ok"
    # Nothing reached the store: the refused submit recorded no request.
    assert service.call("GET", "/v1/requests/read-orders").status_code == 404


@pytest.mark.parametrize(("body", "problem"), [
    ({"manifests": [{**READ, "action": {**READ["action"], "confidence": "very high"}}]}, "manifests[0]: action.confidence:"),
    ({"manifests": [{**READ, "apiVersion": "hitl/v2"}]}, "manifests[0]: apiVersion:"),
    ({"manifests": [{**READ, "extra": "field"}]}, "manifests[0]: extra: unknown field"),
    ({"manifests": [READ, READ]}, "manifests[1]: metadata.id: duplicate id 'read-orders'"),
    ({"manifests": [READ, {**WRITE, "action": "drop everything"}]}, "manifests[1]: action:"),
    ({"manifests": []}, "request: body.manifests:"),
    ({"manifests": "DROP TABLE x"}, "request: body.manifests:"),
    ({"track_record": FORGED_RECORD}, "request: body.manifests: Field required"),
    ({"manifests": [READ] * 1001}, "request: body.manifests:"),
])
def test_hostile_bodies_are_refused_whole_with_hitls_problems(service, body, problem):
    for path in ("/v1/decisions", "/v1/requests"):
        answer = service.call("POST", path, json=body)
        assert answer.status_code == 422, answer.text
        fault = answer.json()
        assert fault["exit_code"] == 4 and any(line.startswith(problem) for line in fault["problems"]), fault
    assert service.call("GET", "/v1/requests/write-orders").status_code == 404  # nothing was recorded


def test_bodies_that_are_not_json_are_refused(service):
    for data, headers in ((b"\xff\xfe", {"Content-Type": "application/json"}), (b"manifests: []", {"Content-Type": "application/yaml"}),
                          (b"[" * 10000, {"Content-Type": "application/json"})):
        answer = requests.post(service.url + "/v1/decisions", data=data, timeout=30,
                               headers={**headers, "Authorization": f"Bearer {TOKEN}"})
        assert (answer.status_code, answer.json()["exit_code"]) in ((400, 2), (422, 4)), answer.text


def test_an_agent_submits_waits_and_learns_the_outcome_while_a_person_approves(service):
    submitted = service.call("POST", "/v1/requests", json={"manifests": [WRITE]})
    assert submitted.status_code == 200, submitted.text
    request = submitted.json()["requests"][0]["request"]
    assert request["status"] == "pending" and not request["may_run"]
    assert [item["id"] for item in service.call("GET", "/v1/queue").json()] == [request["id"]]
    still = service.call("GET", f"/v1/requests/{request['id']}/wait?timeout=0.3").json()
    assert still["status"] == "pending"  # timed out: still waiting

    def approve_later() -> None:
        time.sleep(1)
        for person in ("alice", "bob"):
            assert service.people.hitl("approve", request["id"], "--by", person, "--state", service.state).returncode == 0

    approver = threading.Thread(target=approve_later)
    approver.start()
    waited = service.call("GET", f"/v1/requests/{request['id']}/wait?timeout=60")
    approver.join()
    assert waited.status_code == 200, waited.text
    assert (waited.json()["status"], waited.json()["may_run"]) == ("approved", True)
    assert [a["person"] for a in waited.json()["approvals"]] == ["alice", "bob"]
    assert service.call("GET", "/v1/queue").json() == []
    assert service.call("GET", "/v1/requests/no-such-request").json()["exit_code"] == 7


@pytest.mark.parametrize("timeout", ["-1", "301", "nan", "inf", "1e999", "soon", ""])
def test_a_wait_out_of_bounds_is_refused(service, timeout):
    answer = service.call("GET", f"/v1/requests/write-orders/wait?timeout={timeout}")
    assert answer.status_code == 422 and answer.json()["problems"][0].startswith("request: query.timeout:"), answer.text


def test_signed_verdicts_are_taken_over_http_and_count_as_the_clis(service, tmp_path):
    [item] = service.call("POST", "/v1/requests", json={"manifests": [{**WRITE, "metadata": {"id": "w-http"}}]}).json()["requests"]
    view = item["request"]
    assert view["approvals_missing"] == 2
    first = service.call("POST", f"/v1/requests/{view['id']}/verdicts", json=signed_verdict(tmp_path, view, "alice"))
    assert first.status_code == 200, first.text
    assert [a["person"] for a in first.json()["approvals"]] == ["alice"] and first.json()["may_run"] is False
    second = service.call("POST", f"/v1/requests/{view['id']}/verdicts",
                          json=signed_verdict(tmp_path, view, "bob", reason="checked the plan"))
    assert (second.json()["status"], second.json()["may_run"]) == ("approved", True), second.text
    audit = service.people.hitl("audit", "verify", "--state", service.state)
    assert audit.returncode == 0, audit.stderr


def test_verdicts_over_http_that_would_not_count_are_refused_and_record_nothing(service, tmp_path):
    submitted = service.call("POST", "/v1/requests", json={"manifests": [
        {**WRITE, "metadata": {"id": "w-guarded"}}, {**WRITE, "metadata": {"id": "w-other"}, "action": {
            **WRITE["action"], "summary": "another write"}}]}).json()["requests"]
    view, other = (item["request"] for item in submitted)
    path = f"/v1/requests/{view['id']}/verdicts"
    alice = signed_verdict(tmp_path, view, "alice")
    refusals = [
        (signed_verdict(tmp_path, view, "alice", signer="bob"), 409, "a key the profile does not list for alice"),
        (signed_verdict(tmp_path, view, "mallory"), 409, "mallory is not one"),
        (signed_verdict(tmp_path, view, "trusted-agent", signer="alice"), 409, "the agent that asked"),
        (signed_verdict(tmp_path, view, "alice", tier="auto_approve"), 409, "does not verify"),
        (signed_verdict(tmp_path, view, "alice", at="2999-01-01T00:00:00Z"), 409, "after now"),
        ({**alice, "statement": {**alice["statement"], "reason": "edited after signing"}}, 409, "does not verify"),
        ({**alice, "signature": ""}, 422, "request: body.signature:"),
        ({**alice, "signature": "-----BEGIN SSH SIGNATURE-----\nAAAA\n-----END SSH SIGNATURE-----"}, 409, "does not verify"),
        ({key: value for key, value in alice.items() if key != "signature"}, 422, "request: body.signature:"),
    ]
    for body, status, needle in refusals:
        answer = service.call("POST", path, json=body)
        assert answer.status_code == status and needle in answer.text, (body["statement"].get("person"), answer.text)
    replayed = service.call("POST", f"/v1/requests/{other['id']}/verdicts",
                            json={**alice, "statement": {**alice["statement"], "request_id": other["id"]}})
    assert replayed.status_code == 409 and "does not verify" in replayed.text
    elsewhere = service.call("POST", f"/v1/requests/{other['id']}/verdicts", json=alice)
    assert elsewhere.status_code == 400 and "not 'w-other'" in elsewhere.text
    assert service.call("POST", path, json=alice, token=None).status_code == 401
    assert service.call("GET", f"/v1/requests/{view['id']}").json()["approvals"] == []
    assert service.call("POST", path, json=alice).status_code == 200
    again = service.call("POST", path, json=alice)
    assert again.status_code == 409 and "already approved" in again.text


def test_concurrent_clients_get_consistent_answers(service):
    manifests = [make_manifest(id=f"c-{n}", type=("read", "write", "drop")[n % 3], env=("dev", "production")[n % 2])
                 for n in range(12)]
    expected = {m["metadata"]["id"]: service.call("POST", "/v1/decisions", json={"manifests": [m]}).json()["decisions"][0]
                for m in manifests}
    answers: list[tuple[str, dict]] = []
    failures: list[str] = []

    def client(offset: int) -> None:
        with requests.Session() as session:
            for n in range(24):
                manifest = manifests[(n + offset) % len(manifests)]
                answer = session.post(service.url + "/v1/decisions", json={"manifests": [manifest]},
                                      headers={"Authorization": f"Bearer {TOKEN}"}, timeout=30)
                if answer.status_code != 200:
                    failures.append(answer.text)
                    continue
                answers.append((manifest["metadata"]["id"], answer.json()["decisions"][0]))

    threads = [threading.Thread(target=client, args=(offset,)) for offset in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    assert len(answers) == 8 * 24
    assert all(decision == expected[manifest_id] for manifest_id, decision in answers)


def test_the_committed_openapi_document_is_the_served_one(service):
    served = service.call("GET", "/openapi.json", None).json()
    committed = json.loads((ROOT / "schemas" / "openapi.json").read_text())
    assert served == committed, "schemas/openapi.json is stale: run `hitl serve` and save /openapi.json (docs/api.md)"
    assert {"/v1/decisions", "/v1/requests", "/v1/requests/{request_id}", "/v1/requests/{request_id}/wait",
            "/v1/queue"} <= set(served["paths"])


def test_schemathesis_finds_no_server_error_or_schema_violation(service, tmp_path):
    """The API against its own OpenAPI document: no 5xx, every answer as documented (a bounded run). The long
    poll is left out: each of its examples could rightly hold the line for its whole timeout (tested below)."""
    result = subprocess.run(
        [str(Path(sys.executable).parent / "schemathesis"), "run", service.url + "/openapi.json",
         "--header", f"Authorization: Bearer {TOKEN}", "--max-examples", "15", "--checks",
         "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance",
         "--phases", "examples,fuzzing", "--seed", "1", "--exclude-path", "/v1/requests/{request_id}/wait", "--no-color", "--suppress-health-check", "all"],
        capture_output=True, text=True, timeout=600, cwd=tmp_path,  # its own files stay out of the checkout
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]


def test_hitl_serve_refuses_to_listen_beyond_loopback_without_a_token():
    environment = {key: value for key, value in os.environ.items() if not key.startswith(("HITL_SERVE", "HITL_OPA"))}
    result = hitl("serve", "--addr", f"0.0.0.0:{free_loopback_port()}", env=environment)
    assert result.returncode == 2
    assert "refusing to serve beyond loopback without a token" in result.stderr and "Traceback" not in result.stderr


def test_sigterm_stops_the_service_and_its_private_opa(opa_bin, tmp_path):
    served = Service(tmp_path / "stopping", token=None)
    try:  # stopped whatever fails here: a failed check must not leave the server running
        children = subprocess.run(["pgrep", "-P", str(served.process.pid)], capture_output=True, text=True).stdout.split()
        assert sorted(children) == sorted(map(str, served.private_opa() + served.analysts())), (
            "hitl serve runs its OPA and its statement analyst as child processes")
        command = Path(f"/proc/{served.private_opa()[0]}/cmdline").read_bytes().split(b"\0")
        private = command[command.index(b"--addr") + 1].decode()
        # The private OPA answers nobody without its random token, not even a process on this host.
        for token in (None, TOKEN):
            headers = {"Authorization": f"Bearer {token}"} if token else {}
            answer = requests.post(f"http://{private}/v1/data/hitl/main/decisions", json={"input": {}}, headers=headers,
                                   timeout=10)
            assert answer.status_code == 401 and "bearer token" in answer.json()["message"]
    finally:
        served.stop()
    assert served.process.returncode is not None
    for child in children:
        assert not Path(f"/proc/{child}").exists() or "zombie" in Path(f"/proc/{child}/status").read_text().lower()


def test_profile_validate_accepts_the_shipped_profiles():
    result = hitl("profile", "validate", "default", "startup", "bank")
    assert result.returncode == 0, result.stderr
    assert result.stdout.count(": ok (profile ") == 3
