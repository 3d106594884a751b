"""A long-lived reader parses only the requests it has not seen (hitl_cli.store.records.ParsedRequests, under
hitl_cli.policy_history.StoreSnapshots). Each test tries to get it to hand a decision a request as it was, not as
the store holds it now: after a verdict, a supersession, a review, a rejection, or another store moved into place."""

import shutil

import pytest

from hitl_cli import clock
from hitl_cli.models.workflow import VerdictAction
from hitl_cli.policy_history import StoreSnapshots
from hitl_cli.store.connection import state_path

from .support import manifest

pytestmark = pytest.mark.attack  # each test tries a way past the gate (make bench counts them)


def read(snapshots: StoreSnapshots, state):
    """(input.history, the store's track record) as of now: verdicts are given at the system clock's moment."""
    return snapshots.read(state_path(state), clock.now(), missing_is_empty=False, with_record=True)


def fresh(state):
    snapshots = StoreSnapshots()
    try:
        return read(snapshots, state)
    finally:
        snapshots.close()


def test_every_read_finds_what_a_fresh_reader_finds_as_requests_change(ws):
    kept = StoreSnapshots()
    try:
        ws.submit([manifest("p-auto", type="write", env="dev", cost=5),
                   manifest("p-single", type="write", env="staging", cost=7),
                   manifest("p-double", type="write", env="production", cost=11),
                   manifest("p-reject", type="write", env="staging", cost=13)])
        steps = [
            lambda: ws.verdict(VerdictAction.APPROVE, "p-single", "data-platform-lead"),  # pending -> approved
            lambda: ws.verdict(VerdictAction.APPROVE, "p-double", "data-platform-lead"),  # still pending, one more verdict
            lambda: ws.verdict(VerdictAction.REJECT, "p-reject", "data-platform-lead", "not now"),
            lambda: ws.submit([manifest("p-auto", type="write", env="dev", cost=17)]),  # supersedes p-auto
            lambda: ws.review("p-auto~2", "data-platform-lead", "wrong", "it was not"),
        ]
        history, record = read(kept, ws.state)
        assert (history, record) == fresh(ws.state)
        for step in steps:
            step()
            history, record = read(kept, ws.state)
            assert (history, record) == fresh(ws.state), step
        assert history.spent_today["organisation"] == 7 + 17  # p-single approved, p-auto's resubmission counted once
        assert record.agents["trusted-agent"].rejected >= 1
    finally:
        kept.close()


def test_another_store_moved_into_place_with_the_same_request_ids_is_read_as_it_is(sqlite_ws, tmp_path):
    """Two stores, each with a request p-1 of its own (another cost, submitted at another moment): once the other is
    moved into place, the long-lived reader counts its spend, not the parsed request it kept from the first."""
    ws = sqlite_ws
    ws.submit([manifest("p-1", type="write", env="dev", cost=5)])
    kept = StoreSnapshots()
    try:
        assert read(kept, ws.state)[0].spent_today["organisation"] == 5
        first = tmp_path / "first.db"
        shutil.copy(ws.state, first)
        for suffix in ("-wal", "-shm"):
            (ws.state.parent / (ws.state.name + suffix)).unlink(missing_ok=True)
        ws.state.unlink()
        ws.submit([manifest("p-1", type="write", env="dev", cost=40)])
        assert read(kept, ws.state)[0].spent_today["organisation"] == 40
        assert read(kept, ws.state) == fresh(ws.state)
    finally:
        kept.close()
