"""Attack: a long-lived engine (hitl_cli.api.Engine, hitl serve) keeps deciding with the policies, profile and
calibration its OPA loaded at start. It recorded each request under the revision the files had at the moment of
submission, so after a recalibration (or a policy edit) its requests passed for decided under the new policy
while its OPA still decided with the old one. Here the agent's calibration shows it right only half the time
at the confidence it states, which adds a low_confidence reason; the engine started before it decided without.
Real OPA, real SQLite store, `hitl calibrate` as a process of its own."""

import json

import pytest

from conftest import hitl, write_manifests
from served_hitl import Service
from workflow.support import manifest
from hitl_cli import Engine

pytestmark = pytest.mark.attack

# over-agent states 0.95 and is right half the time: calibrated, its confidence counts as about 0.5
OVERCONFIDENT_OUTCOMES = [
    {"agent": "over-agent", "action_type": "write", "confidence": 0.95, "correct": index % 2 == 0} for index in range(2000)
]


def _overconfident(id: str) -> dict:
    item = manifest(id, type="write", env="dev", agent="over-agent")
    item["action"]["confidence"] = 0.95
    return item


def _codes(view) -> set[str]:
    return {reason.code for reason in view.decision.reasons}


def test_a_request_a_running_engine_records_after_a_recalibration_is_stale_not_fresh(opa_bin, tmp_path):
    state = tmp_path / "state.db"
    outcomes = tmp_path / "outcomes.jsonl"
    outcomes.write_text("".join(json.dumps(outcome) + "\n" for outcome in OVERCONFIDENT_OUTCOMES))
    with Engine(["default"], state=state) as engine:
        first = engine.submit(_overconfident("over-1")).submitted[0].view
        assert "low_confidence" not in _codes(first) and first.status != "stale"

        calibrated = hitl("calibrate", "--profile", "default", "--outcomes", outcomes, "--state", state)
        assert calibrated.returncode == 0, calibrated.stderr

        second = engine.submit(_overconfident("over-2")).submitted[0].view
        assert "low_confidence" not in _codes(second)  # the engine's OPA still decides without the calibration
        assert second.status == "stale"  # so the request must not count as decided under it
        assert engine.status("over-2").status == "stale"

    shown = hitl("status", "over-2", "--state", state, "--format", "json")
    assert json.loads(shown.stdout)["status"] == "stale", shown.stderr
    decided_now = hitl("evaluate", write_manifests(tmp_path, [_overconfident("over-3")]), "--profile", "default",
                       "--state", state, "--format", "json")
    assert "low_confidence" in {reason["code"] for reason in json.loads(decided_now.stdout)[0]["reasons"]}  # a new run does


def test_hitl_serve_records_a_request_after_a_recalibration_as_stale(opa_bin, tmp_path):
    """The same through `hitl serve`, whose engine reaches its private OPA as a remote one: the revision it records
    is the one that OPA was found serving when the service started."""
    service = Service(tmp_path / "serve")
    try:
        outcomes = tmp_path / "outcomes.jsonl"
        outcomes.write_text("".join(json.dumps(outcome) + "\n" for outcome in OVERCONFIDENT_OUTCOMES))
        environment = {name: value for name, value in service.people.env.items() if name != "HITL_STATE"}
        calibrated = hitl("calibrate", "--profile", "default", "--outcomes", outcomes, "--state", service.state,
                          env=environment)
        assert calibrated.returncode == 0, calibrated.stderr
        answer = service.call("POST", "/v1/requests", json={"manifests": [_overconfident("over-served")]})
        assert answer.status_code == 200, answer.text
        request = answer.json()["requests"][0]["request"]
        assert "low_confidence" not in {reason["code"] for reason in request["decision"]["reasons"]}
        assert request["status"] == "stale" and not request["may_run"]
    finally:
        service.stop()
