"""What the red-team tests on the history a decision request carries (PolicyHistory.about) share: two trusted agents,
actions that differ from a probe in one fingerprint field, profiles that differ only in history_novelty and
daily_budget, and the decisions made on the slice and on the whole history (about patched in the test's process)."""

import json

import pytest

from conftest import decided_async, make_manifest, shipped_profile, write_yaml
from hitl_cli import Engine
from hitl_cli.policy_history import PolicyHistory

TRUSTED, OTHER = "trusted-agent", "other-agent"
FIELDS = ["agent", "action_type", "environment", "system", "resource_type", "resource"]
PROBE = {"agent": TRUSTED, "action_type": "read", "environment": "dev", "system": "warehouse",
         "resource_type": "table", "resource": "analytics.orders"}
# Each approved action (each auto-approved) differs from the probe in one fingerprint field (the value it has there instead).
ONE_OFF = {"agent": OTHER, "action_type": "write", "environment": "staging", "system": "lake",
           "resource_type": "view", "resource": "analytics.refunds"}
STATEMENTS = {"read": "SELECT status FROM analytics.orders WHERE id = 7",
              "write": "UPDATE analytics.orders SET status = 'late' WHERE id = 7"}


def action(id: str, cost: float = 0.01, statement: str | None = None, **fields) -> dict:
    described = {**PROBE, **fields}
    manifest = make_manifest(id=id, type=described["action_type"], env=described["environment"],
                             agent=described["agent"], system=described["system"], cost=cost,
                             statement=statement or STATEMENTS[described["action_type"]])
    manifest["target"].update(resource=described["resource"], resource_type=described["resource_type"])
    return manifest


@pytest.fixture
def workspace(tmp_path, opa_bin):
    """A track record that trusts both agents, and profiles that differ only in history_novelty and daily_budget."""
    record = write_yaml(tmp_path / "record.yaml", {"agents": {
        agent: {"level": "medium", "reviewed": 1000, "approved": 1000, "rejected": 0} for agent in (TRUSTED, OTHER)
    }})

    def profile(name: str, fingerprint: list[str] | None = None, per_agent_usd: float | None = None) -> str:
        data = shipped_profile("default")
        data["metadata"]["name"] = name
        if fingerprint is not None:
            data["history_novelty"].update(enabled=True, fingerprint=fingerprint)
        if per_agent_usd is not None:
            data["daily_budget"].update(per_agent_usd=per_agent_usd, organisation_usd=None)
        return str(write_yaml(tmp_path / f"{name}.yaml", data))

    return tmp_path / "state.db", record, profile


def whole_history(monkeypatch) -> None:
    """Every request carries all of the history, as before PolicyHistory.about."""
    monkeypatch.setattr(PolicyHistory, "about", lambda self, manifests, fingerprint: json.dumps(
        {"precedents": self.precedents, "spent_today": self.spent_today}).encode())


def judged(engine: Engine, manifests: list[dict], profile: str) -> dict[str, dict]:
    """Each decision's tier and reason codes, asked as one request, and once more on an event loop."""
    result = engine.decide(manifests, profile=profile)
    assert not result.problems, result.problems
    found = {item.decision.id: {"tier": item.decision.tier, "codes": {r.code for r in item.decision.reasons}}
             for item in result.evaluated}
    with Engine([profile], state=engine.state, track_record=engine.track_record) as alone:
        on_loop = {d.id: {"tier": d.tier, "codes": {r.code for r in d.reasons}} for d in decided_async(alone, manifests)}
    assert on_loop == found
    return found


def recorded(engine: Engine, manifests: list[dict]) -> None:
    submitted = engine.submit(manifests)
    assert not submitted.problems and [s.view.status for s in submitted.submitted] == ["approved"] * len(manifests)
