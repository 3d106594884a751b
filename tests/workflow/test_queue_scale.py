"""A big queue is judged as strictly as one request: the queue reads every request, verdict and signature in a few
set-based queries and builds each view once (bench/store_queue.py), and no forged, replayed or altered verdict
row may count there because it sits among hundreds of others, beside valid signatures, or repeats one.

Real `hitl` processes, real OPA, real SQLite and PostgreSQL stores; the rows are forged by the store's owner.
"""

import gc
from contextlib import closing

import pytest

from hitl_cli.store.connection import state_path
from hitl_cli.workflow import queries
from .support import tier_manifest, unguard

REQUESTS = 150
VERDICT_COLUMNS = "request_id, kind, person, person_key, reason, at, signature"


def insert(connection, request_id: str, person: str, at: str, signature: str | None) -> None:
    connection.execute(f"INSERT INTO verdicts ({VERDICT_COLUMNS}) VALUES (?, 'approve', ?, ?, NULL, ?, ?)",
                       (request_id, person, person, at, signature))


@pytest.fixture
def big_queue(ws):
    """REQUESTS single-approval requests; q-0 approved by alice and q-1 by bob, both signed."""
    ws.submit([tier_manifest("single_approval", id=f"q-{index}") for index in range(REQUESTS)])
    for request_id, person in (("q-0", "alice"), ("q-1", "bob")):
        assert ws.hitl("approve", request_id, "--by", person).returncode == 0
    return ws


def signed_row(ws, request_id: str) -> tuple[str, str]:
    """(at, signature) of a request's recorded verdict."""
    with closing(ws.connect()) as connection:
        return connection.execute("SELECT at, signature FROM verdicts WHERE request_id = ?", (request_id,)).fetchone()


@pytest.mark.attack
def test_forged_replayed_and_altered_verdict_rows_count_for_nothing_in_a_big_queue(big_queue):
    ws = big_queue
    at, signature = signed_row(ws, "q-0")
    replayed = [f"q-{index}" for index in range(2, 80)]  # alice's valid signature for q-0, on 78 other requests
    unsigned = [f"q-{index}" for index in range(80, 140)]
    with closing(ws.connect()) as connection:
        connection.execute("BEGIN")
        for request_id in replayed:
            insert(connection, request_id, "alice", at, signature)
        for request_id in unsigned:
            insert(connection, request_id, "carol", at, None)
        insert(connection, "q-140", "bob", at, signature)  # alice's signature, claimed by bob
        unguard(ws, connection)
        # bob's own verdict on q-1, given a reason after he signed it
        connection.execute("UPDATE verdicts SET reason = 'checked the rollback' WHERE request_id = 'q-1'")
        connection.execute("COMMIT")

    waiting = {view["id"]: view for view in ws.json("queue")}
    assert set(waiting) == {f"q-{index}" for index in range(1, REQUESTS)}  # only q-0 counts as approved
    for request_id in [*replayed, *unsigned, "q-140", "q-1"]:
        view = waiting[request_id]
        assert view["status"] == "pending" and view["may_run"] is False and view["approvals"] == []
        assert len(view["ignored"]) == 1, request_id
    assert all("does not verify for this request" in waiting[r]["ignored"][0]["why"] for r in [*replayed, "q-140", "q-1"])
    assert all("unsigned" in waiting[r]["ignored"][0]["why"] for r in unsigned)
    assert waiting["q-140"]["ignored"][0]["signed_with"] == ws.status("q-0")["approvals"][0]["signed_with"]
    assert ws.status("q-0")["status"] == "approved"
    text = ws.hitl("queue").stdout
    assert "q-0 " not in text and "q-140" in text


def test_a_queue_read_makes_no_reference_cycles_and_leaves_the_collector_on(big_queue):
    """hitl_cli.collector freezes what a queue read made instead of scanning it: that is safe only because the
    read leaves no cyclic garbage behind, which only the collector could free."""
    state = state_path(str(big_queue.state))
    gc.collect()
    gc.disable()
    try:
        views = queries.all_views(state)
        assert len(views) == REQUESTS
        del views
        assert gc.collect() == 0
    finally:
        gc.enable()
    queries.all_views(state)
    assert gc.isenabled()
