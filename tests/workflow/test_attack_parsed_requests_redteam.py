"""Red team on the requests a long-lived reader keeps parsed between reads (hitl_cli.store.records.ParsedRequests, under
hitl_cli.policy_history.StoreSnapshots, which hitl serve and hitl_cli.api.Engine read the store through). Each test
tries to get that reader to decide on a request as it no longer stands in the store, where a fresh reader of the
same store would decide otherwise."""

import json
from contextlib import closing

import pytest

from hitl_cli import Engine, clock
from hitl_cli.canonical import canonical_json
from hitl_cli.policy_history import StoreSnapshots
from hitl_cli.store.connection import state_path

from .support import at, manifest

pytestmark = pytest.mark.attack  # each test tries a way past the gate (make bench counts them)


def read(snapshots: StoreSnapshots, state):
    return snapshots.read(state_path(state), clock.now(), missing_is_empty=False, with_record=True)


def fresh(state):
    with closing(StoreSnapshots()) as snapshots:
        return read(snapshots, state)


def rewrite(ws, request_id: str, column: str, change) -> None:
    """Edit one JSON column of a request row in place, as someone with the store's owner's access can (the requests
    table has no append-only guard: its status changes), leaving its id, hash, revision, time and status as they are."""
    with closing(ws.connect()) as connection:
        (text,) = connection.execute(f"SELECT {column} FROM requests WHERE id = ?", (request_id,)).fetchone()
        value = json.loads(text)
        change(value)
        connection.execute(f"UPDATE requests SET {column} = ? WHERE id = ?", (canonical_json(value), request_id))
        if ws.backend == "sqlite":
            connection.commit()


def test_a_request_row_mended_in_place_is_read_as_the_store_holds_it_again(ws):
    """Someone with the store's access lowers an approved 90 USD action's recorded cost to 1 USD and calls its write
    a read; the long-lived reader (hitl serve, started since) parses that row. `hitl audit verify` flags the edit and the
    operator mends the row; after the next submission the reader must count 90 USD again and see a write, not go on
    deciding on the row as it was tampered with (a budget 89 USD short, a read precedent the store does not hold)."""
    ws.submit([manifest("p-spent", type="write", env="dev", cost=90)])
    rewrite(ws, "p-spent", "manifest", lambda m: m["impact"].update(estimated_cost_usd=1))
    rewrite(ws, "p-spent", "decision", lambda d: d.update(action_type="read"))
    ws.submit([manifest("p-later", type="write", env="dev", cost=2)])
    kept = StoreSnapshots()
    try:
        tampered = read(kept, ws.state)
        assert tampered == fresh(ws.state)
        assert tampered[0].spent_today["organisation"] == 1 + 2

        rewrite(ws, "p-spent", "manifest", lambda m: m["impact"].update(estimated_cost_usd=90))
        rewrite(ws, "p-spent", "decision", lambda d: d.update(action_type="write"))
        ws.submit([manifest("p-last", type="write", env="dev", cost=3)])
        mended = read(kept, ws.state)
        assert mended == fresh(ws.state)
        assert mended[0].spent_today["organisation"] == 90 + 2 + 3
        assert {p["action_type"] for p in mended[0].precedents} == {"write"}
    finally:
        kept.close()


def test_an_engine_counts_the_mended_cost_of_a_request_it_parsed_tampered(ws, budget_profile):
    """The same through an Engine (hitl serve's), on a budget of 100 USD an agent with 1 USD spent: an approved 60 USD
    action whose recorded cost was lowered to 1 USD, then mended. Its 50 USD write auto-approved while the store held 1
    USD there; once the store holds 60 again, it must be blocked (1 + 60 + 1 + 1 + 50 > 100)."""
    asked = manifest("r-asked", type="write", env="dev", cost=50)
    tier = lambda engine: engine.decide(asked).evaluated[0].decision.tier  # noqa: E731
    submitted = ws.submit([manifest("r-spent", type="write", env="dev", cost=60)], profile=budget_profile, now=at(1))
    assert submitted["r-spent"]["status"] == "approved"
    rewrite(ws, "r-spent", "manifest", lambda m: m["impact"].update(estimated_cost_usd=1))
    ws.submit([manifest("r-later", type="write", env="dev", cost=1)], profile=budget_profile, now=at(2))
    with Engine([budget_profile], state=ws.state, track_record=ws.trusted_record) as engine:
        assert tier(engine) == "auto_approve"  # 1 + 1 + 1 + 50: as the store stands, tampered
        rewrite(ws, "r-spent", "manifest", lambda m: m["impact"].update(estimated_cost_usd=60))
        ws.submit([manifest("r-last", type="write", env="dev", cost=1)], profile=budget_profile, now=at(3))
        assert tier(engine) == "block"
    with Engine([budget_profile], state=ws.state, track_record=ws.trusted_record) as engine:
        assert tier(engine) == "block"
