"""Red team on what a decision request carries of the state store's history (hitl_cli.policy_history.PolicyHistory.
about): only the precedents and the spend that concern its manifests, so that a request no longer grows with the
store. Each test tries to get an action found precedented, or a budget undercounted, where the whole history would
judge otherwise. Every outcome is asserted as it must be, and compared with the decision made on the whole history
(`about` patched, in this test process, to send all of it). Real OPA, real SQLite, the real Engine."""

import json
from contextlib import closing

import pytest

from history_slices import FIELDS, ONE_OFF, OTHER, STATEMENTS, TRUSTED, action, judged, recorded, whole_history, workspace  # noqa: F401
from hitl_cli import Engine, clock
from hitl_cli.policy_history import StoreSnapshots


def test_a_precedent_differing_only_in_a_field_the_fingerprint_leaves_out_still_counts(workspace, monkeypatch):
    """For each fingerprint field left out, the one approved action that differs from the probe in that field alone
    is its precedent; with every field in, none is. A request that left out precedents by a field the profile does
    not compare (the agent, say) would call the probe novel."""
    state, record, profile = workspace
    without = {field: profile(f"without-{field}", [f for f in FIELDS if f != field]) for field in FIELDS}
    every = profile("every-field", FIELDS)
    with Engine(["default", every, *without.values()], state=state, track_record=record) as engine:
        recorded(engine, [action(f"off-{field}", **{field: value}) for field, value in ONE_OFF.items()])
        probe = action("probe")
        sliced = {name: judged(engine, [probe], name)["probe"] for name in [every, *without.values()]}
        with monkeypatch.context() as patched:
            whole_history(patched)
            whole = {name: judged(engine, [probe], name)["probe"] for name in [every, *without.values()]}
    assert sliced == whole
    assert "no_precedent" in sliced[every]["codes"] and sliced[every]["tier"] == "escalate"
    for field, name in without.items():
        assert "no_precedent" not in sliced[name]["codes"], field


def test_the_action_type_compared_is_the_effective_one_not_the_declared(workspace, monkeypatch):
    """A probe declared a read whose statement writes: its effective type is write, the type of the approved action
    it repeats. A request that chose precedents by the declared type would leave that one out."""
    state, record, profile = workspace
    every = profile("every-field", FIELDS)
    with Engine(["default", every], state=state, track_record=record) as engine:
        recorded(engine, [action("approved-write", action_type="write")])
        declared_read = action("declared-read", action_type="read", statement=STATEMENTS["write"])
        sliced = judged(engine, [declared_read], every)
        with monkeypatch.context() as patched:
            whole_history(patched)
            whole = judged(engine, [declared_read], every)
    assert sliced == whole
    assert "statement_type" in sliced["declared-read"]["codes"]
    assert "no_precedent" not in sliced["declared-read"]["codes"]


def test_a_batch_of_many_agents_counts_each_agents_spend_and_no_manifest_twice(workspace, monkeypatch):
    """Today trusted-agent spent 60 USD and other-agent 30 (budget 100 each). In one batch with other-agent's
    actions, trusted-agent's 50 USD write is blocked and its 30 USD one is not; the approved 60 USD action decided
    again is not counted twice; other-agent's 80 USD write is blocked, its 60 USD one is not."""
    state, record, profile = workspace
    budget = profile("budget", per_agent_usd=100)
    with Engine([budget], state=state, track_record=record) as engine:
        recorded(engine, [action("spent-60", cost=60, resource="analytics.a"),
                          action("spent-30", cost=30, agent=OTHER, resource="analytics.b")])
        batch = [action("trusted-50", cost=50), action("trusted-30", cost=30), action("spent-60", cost=60, resource="analytics.a"),
                 action("other-80", cost=80, agent=OTHER), action("other-60", cost=60, agent=OTHER)]
        sliced = judged(engine, batch, budget)
        alone = {m["metadata"]["id"]: judged(engine, [m], budget)[m["metadata"]["id"]] for m in batch}
        with monkeypatch.context() as patched:
            whole_history(patched)
            whole = judged(engine, batch, budget)
    assert sliced == whole == alone
    over = {id for id, d in sliced.items() if "daily_agent_budget" in d["codes"]}
    assert over == {"trusted-50", "other-80"}
    assert sliced["trusted-50"]["tier"] == sliced["other-80"]["tier"] == "block"


def test_a_request_carries_no_other_agents_or_actions_history(workspace):
    """With 40 approved actions of two agents on 20 tables, the history one request carries is the probe's: the
    precedents it could match, its agent's spend, and none of the other agent's or of the other tables."""
    state, record, _ = workspace
    with Engine(["default"], state=state, track_record=record) as engine:
        recorded(engine, [action(f"t-{agent}-{n}", agent=agent, resource=f"analytics.t{n}")
                          for agent in (TRUSTED, OTHER) for n in range(20)])
    with closing(StoreSnapshots()) as snapshots:
        history, _ = snapshots.read(state, clock.now(), missing_is_empty=False, with_record=False)
    assert len(history.precedents) == 40
    probe = action("probe", resource="analytics.t7")
    carried = json.loads(history.about([probe], ["agent", "action_type", "environment", "resource"]))
    assert [(p["agent"], p["resource"]) for p in carried["precedents"]] == [(TRUSTED, "analytics.t7")]
    assert set(carried["spent_today"]["agents"]) == {TRUSTED}
    assert carried["spent_today"]["manifests"] == {}
    assert carried["spent_today"]["organisation"] == pytest.approx(0.4)
