"""Red team on what a long-lived PolicyClient (hitl_cli.api.Engine, hitl serve) keeps between decisions: since
decisions of many callers now run side by side through one client, anything it shares between their answers is
shared between callers. Each test tries to have one caller's decision change what another caller is told, or a
hostile agent grow what the server keeps without bound."""

import gc
import tracemalloc

import pytest

from conftest import make_manifest
from hitl_cli import Engine

pytestmark = pytest.mark.attack  # each test tries a way past the gate (make bench counts them)

DROP = make_manifest(id="drop", type="drop", env="production", statement="DROP TABLE analytics.customers")


def test_a_caller_changing_a_reason_it_was_given_changes_no_other_callers_reasons(opa_bin, tmp_path, record):
    with Engine(["default"], state=tmp_path / "state.db", track_record=record) as engine:
        mine = engine.decide(DROP).evaluated[0].decision
        pristine = [reason.model_copy() for reason in mine.reasons]
        for reason in mine.reasons:  # what a caller may do to its own answer, e.g. before showing it
            reason.message = "nothing to see here"
            reason.tier = "auto_approve"
        theirs = engine.decide({**DROP, "metadata": {"id": "someone-elses"}}).evaluated[0].decision
    assert theirs.reasons == pristine


def test_a_caller_changing_a_reason_it_was_given_changes_nothing_recorded(opa_bin, tmp_path, record):
    with Engine(["default"], state=tmp_path / "state.db", track_record=record) as engine:
        mine = engine.decide(DROP).evaluated[0].decision
        pristine = [(reason.code, reason.tier, reason.message) for reason in mine.reasons]
        for reason in mine.reasons:
            reason.message = "nothing to see here"
        view = engine.submit({**DROP, "metadata": {"id": "recorded"}}).submitted[0].view
        stored = engine.status(view.id)
    assert [(r.code, r.tier, r.message) for r in stored.decision.reasons] == pristine


def test_distinct_manifests_do_not_grow_what_a_long_lived_engine_keeps(opa_bin, tmp_path, record):
    """Decide 1,500 manifests whose reasons differ only in what the agent wrote (agent name, table, cost), then
    1,500 more: what the Engine still holds after the second round (everything else released) is not more than
    after the first, beyond a little noise."""
    def round_of(start: int) -> list[dict]:
        return [make_manifest(id=f"m-{n}", type="write", env="production", cost=100 + n / 100, agent=f"agent-{n}",
                              statement=None) for n in range(start, start + 1500)]

    with Engine(["default"], state=tmp_path / "state.db", track_record=record) as engine:
        engine.decide(round_of(0))  # warm: modules, bounded caches, connections
        gc.collect()
        tracemalloc.start()
        try:
            engine.decide(round_of(10_000))
            gc.collect()
            first, _ = tracemalloc.get_traced_memory()
            engine.decide(round_of(20_000))
            gc.collect()
            second, _ = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    assert second - first < 1_000_000, f"kept {second - first} more bytes after 1,500 more distinct manifests"
