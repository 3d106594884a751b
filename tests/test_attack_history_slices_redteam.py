"""Second red team on the part of the store's history a decision request carries (PolicyHistory.about), by an
agent that writes its manifests to be found precedented or under budget: strings that Python's lookup and OPA's
comparison might not agree on, a manifest id another agent's approved action holds, a fingerprint of no field the
manifest states, a field left out. Each outcome is asserted as it must be and compared with the decision made on
the whole history (about patched in this process to send all of it). Real OPA, real SQLite, the real Engine."""

import json
import unicodedata

import pytest
import yaml

from conftest import hitl
from hitl_cli import Engine
from served_hitl import Service
from history_slices import OTHER, TRUSTED, action, judged, recorded, whole_history, workspace  # noqa: F401

pytestmark = pytest.mark.attack  # each test tries a way past the gate (make bench counts them)

CAFE = unicodedata.normalize("NFC", "analytics.café")


def on_whole_history(engine: Engine, manifests: list[dict], profile: str, monkeypatch) -> dict[str, dict]:
    with monkeypatch.context() as patched:
        whole_history(patched)
        return judged(engine, manifests, profile)


def test_lookalike_strings_find_no_precedent_on_either_side(workspace, monkeypatch):
    """Approved: a read of analytics.café (NFC) in dev on warehouse. Probes that differ from it only in case, a
    trailing space, or the same text decomposed (NFD) are each novel, as on the whole history: neither Python's
    lookup nor OPA's comparison folds them, so the slice drops no precedent OPA would have matched, and keeps
    none it would not."""
    state, record, profile = workspace
    every = profile("every-field", ["agent", "action_type", "environment", "system", "resource_type", "resource"])
    with Engine(["default", every], state=state, track_record=record) as engine:
        recorded(engine, [action("approved", resource=CAFE)])
        probes = [
            action("exact", resource=CAFE),
            action("nfd", resource=unicodedata.normalize("NFD", CAFE)),
            action("upper", resource=CAFE.upper()),
            action("spaced", resource=CAFE + " "),
            action("env-case", environment="Dev", resource=CAFE),
            action("system-case", system="Warehouse", resource=CAFE),
        ]
        sliced = judged(engine, probes, every)
        whole = on_whole_history(engine, probes, every, monkeypatch)
    assert sliced == whole
    assert {id for id, d in sliced.items() if "no_precedent" not in d["codes"]} == {"exact"}


def test_a_field_no_manifest_states_matches_only_a_precedent_without_it(workspace, monkeypatch):
    """Approved: other-agent's read of a table with no resource named. Under a fingerprint of resource alone, a
    probe naming none is precedented by it (null and a missing field are one on both sides), and a probe naming
    any resource is not; under a fingerprint of the action type alone, every read is precedented, whoever's."""
    state, record, profile = workspace
    by_resource = profile("resource-only", ["resource"])
    by_type = profile("type-only", ["action_type"])
    with Engine(["default", by_resource, by_type], state=state, track_record=record) as engine:
        recorded(engine, [action("approved-unnamed", agent=OTHER, resource=None)])
        unnamed = action("unnamed", resource=None)
        del unnamed["target"]["resource"]
        probes = [unnamed, action("named", resource="analytics.elsewhere")]
        sliced = {name: judged(engine, probes, name) for name in (by_resource, by_type)}
        whole = {name: on_whole_history(engine, probes, name, monkeypatch) for name in (by_resource, by_type)}
    assert sliced == whole
    assert "no_precedent" not in sliced[by_resource]["unnamed"]["codes"]
    assert "no_precedent" in sliced[by_resource]["named"]["codes"]
    assert not any("no_precedent" in d["codes"] for d in sliced[by_type].values())


def test_a_manifest_id_another_agent_spent_under_is_counted_as_on_the_whole_history(workspace, monkeypatch):
    """trusted-agent spent 60 USD on manifest shared-id and 30 on another (budgets: 100 an agent, 150 in all).
    other-agent asks for 70 USD under the same manifest id, trusted-agent for 15 more: on the whole history
    other-agent's own spend is 0 and the organisation's 30 without shared-id's 60, so it passes; trusted-agent's
    105 is over. The slice, which carries shared-id's spend because a manifest names it, decides the same, asked
    alone or in one batch."""
    state, record, profile = workspace
    path = profile("budget", per_agent_usd=100)
    data = yaml.safe_load(open(path))
    data["daily_budget"]["organisation_usd"] = 150
    with open(path, "w") as out:
        yaml.safe_dump(data, out)
    with Engine([path], state=state, track_record=record) as engine:
        recorded(engine, [action("shared-id", cost=60, resource="analytics.a"), action("t-30", cost=30, resource="analytics.b")])
        batch = [action("shared-id", cost=70, agent=OTHER, resource="analytics.a"), action("t-15", cost=15)]
        sliced = judged(engine, batch, path)
        alone = {m["metadata"]["id"]: judged(engine, [m], path)[m["metadata"]["id"]] for m in batch}
        whole = on_whole_history(engine, batch, path, monkeypatch)
    assert sliced == whole == alone
    assert not {"daily_agent_budget", "daily_organisation_budget"} & sliced["shared-id"]["codes"]
    assert "daily_agent_budget" in sliced["t-15"]["codes"] and sliced["t-15"]["tier"] == "block"


@pytest.mark.parametrize("agent", [TRUSTED.upper(), TRUSTED + ".", "trusted_agent"])
def test_an_agent_id_like_a_spending_agents_borrows_neither_its_spend_nor_its_precedents(workspace, monkeypatch, agent):
    """trusted-agent spent 90 USD today on a read of analytics.orders. An agent whose id differs from it only in case
    or punctuation is another agent on both sides: its 50 USD read is within its own budget and novel, on the slice
    as on the whole history."""
    state, record, profile = workspace
    path = profile("budget-and-novelty", ["agent", "action_type", "environment", "resource"], per_agent_usd=100)
    with Engine(["default", path], state=state, track_record=record) as engine:
        recorded(engine, [action("spent-90", cost=90)])
        probes = [action("lookalike", cost=50, agent=agent), action("same", cost=50)]
        sliced = judged(engine, probes, path)
        whole = on_whole_history(engine, probes, path, monkeypatch)
    assert sliced == whole
    assert "no_precedent" in sliced["lookalike"]["codes"] and "daily_agent_budget" not in sliced["lookalike"]["codes"]
    assert "no_precedent" not in sliced["same"]["codes"] and "daily_agent_budget" in sliced["same"]["codes"]


@pytest.mark.parametrize("command", ["check", "evaluate"])
def test_the_cli_decides_a_mixed_batch_as_the_engine_does_on_the_whole_history(workspace, monkeypatch, tmp_path, command):
    """`hitl check` and `hitl evaluate` (one run, a store read once, the batch asked as data.hitl.main.decisions)
    decide a batch mixing agents, lookalike strings and a spent budget as a long-lived Engine does on the whole
    history: novel where only a lookalike was approved, over budget where the agent spent."""
    state, record, profile = workspace
    path = profile("budget-and-novelty", ["agent", "action_type", "environment", "resource"], per_agent_usd=100)
    with Engine(["default", path], state=state, track_record=record) as engine:
        recorded(engine, [action("spent-90", cost=90, resource=CAFE), action("other-10", cost=10, agent=OTHER)])
        batch = [action("same", cost=20, resource=CAFE), action("nfd", cost=5, resource=unicodedata.normalize("NFD", CAFE)),
                 action("other", cost=50, agent=OTHER), action("upper", cost=5, agent=TRUSTED.upper(), resource=CAFE)]
        whole = on_whole_history(engine, batch, path, monkeypatch)
    plan = tmp_path / "plan.json"
    plan.write_text(json.dumps(batch))
    result = hitl(command, plan, "--profile", path, "--state", state, "--track-record", record, "--format", "json")
    assert result.returncode in (0, 1, 3), result.stderr
    by_cli = {d["id"]: {"tier": d["tier"], "codes": {r["code"] for r in d["reasons"]}} for d in json.loads(result.stdout)}
    assert by_cli == whole
    assert "daily_agent_budget" in by_cli["same"]["codes"] and "no_precedent" not in by_cli["same"]["codes"]
    assert "no_precedent" in by_cli["nfd"]["codes"] and "no_precedent" in by_cli["upper"]["codes"]
    assert not {"no_precedent", "daily_agent_budget"} & by_cli["other"]["codes"]


def test_hitl_serve_decides_one_by_one_and_in_batches_as_on_the_whole_history(workspace, monkeypatch, tmp_path):
    """hitl serve (a real subprocess: data.hitl.main.decision for each manifest alone, data.hitl.main.decisions for a
    batch) decides the same mix as an Engine on the whole history, before and after another process records more
    spend and a precedent in its store meanwhile."""
    _, _, profile = workspace
    path = profile("budget-and-novelty", ["agent", "action_type", "environment", "resource"], per_agent_usd=100)
    service_folder = tmp_path / "served"
    service_folder.mkdir()
    state = service_folder / "state.db"
    batch = [action("same", cost=20, resource=CAFE), action("nfd", cost=5, resource=unicodedata.normalize("NFD", CAFE)),
             action("other", cost=50, agent=OTHER), action("upper", cost=5, agent=TRUSTED.upper(), resource=CAFE),
             action("later", cost=5, resource="analytics.later")]
    with Engine(["default"], state=state, track_record=workspace[1]) as recorder:
        recorded(recorder, [action("spent-90", cost=90, resource=CAFE), action("other-10", cost=10, agent=OTHER)])
    service = Service(service_folder, "--profile", str(path))
    try:
        for round in ("before", "after"):
            with Engine([path], state=state, track_record=service.record) as engine:
                whole = on_whole_history(engine, batch, str(path), monkeypatch)
            served = {}
            for manifests in [batch, *([m] for m in batch)]:
                answer = service.call("POST", "/v1/decisions", json={"manifests": manifests})
                assert answer.status_code == 200, answer.text
                served[len(manifests)] = {d["id"]: {"tier": d["tier"], "codes": {r["code"] for r in d["reasons"]}}
                                          for d in answer.json()["decisions"]}
                if len(manifests) == 1:
                    served.setdefault("alone", {}).update(served.pop(1))
            assert served[len(batch)] == served["alone"] == whole, round
            assert ("no_precedent" in whole["later"]["codes"]) == (round == "before")
            assert ("daily_agent_budget" in whole["other"]["codes"]) == (round == "after")
            with Engine(["default"], state=state, track_record=workspace[1]) as recorder:
                recorded(recorder, [action("later-0", cost=0, resource="analytics.later"),
                                    action("other-45", cost=45, agent=OTHER, resource="analytics.x")])
    finally:
        service.stop()
