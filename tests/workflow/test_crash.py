"""A process killed (SIGKILL) in the middle of a write leaves a store that opens, verifies and holds no
half-written request.

FAULT INJECTION: pause_at=<operation> (tests/launch_hitl.py, never the shipped program) makes hitl stop inside its open write transaction - every row
of the change written, nothing committed - and say so on stderr; the test then SIGKILLs it there. A second
test kills real, unhooked submissions at spread-out moments of their run.
"""

import os
import signal
import time
from contextlib import closing

from .support import tier_manifest


def kill_when_paused(process, point: str) -> None:
    line = process.stderr.readline()
    assert f"paused at {point}" in line, line
    os.kill(process.pid, signal.SIGKILL)
    process.wait(timeout=30)
    assert process.returncode == -signal.SIGKILL


def assert_store_sound(ws) -> None:
    if ws.backend == "sqlite":  # PostgreSQL's own recovery is the server's business, not hitl's
        with closing(ws.database()) as connection:
            assert connection.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    verified = ws.verify()
    assert verified.returncode == 0, verified.stderr


def test_sigkill_inside_submit_leaves_no_half_written_request(ws):
    ws.submit([tier_manifest("double_approval", id="before")], name="before.yaml")
    records = ws.audit_count()
    plan = ws.write("killed.yaml", [tier_manifest(t, id=f"killed-{t}") for t in ("single_approval", "block", "escalate")])
    process = ws.popen("submit", plan, "--profile", "default", "--track-record", ws.trusted_record,
                       pause_at="submit")
    kill_when_paused(process, "submit")

    assert_store_sound(ws)
    assert ws.audit_count() == records
    for tier in ("single_approval", "block", "escalate"):
        assert ws.hitl("status", f"killed-{tier}").returncode == 7
    assert [r["id"] for r in ws.json("queue")] == ["before"]
    # The store works on: the same plan goes in whole afterwards.
    again = ws.submit([tier_manifest(t, id=f"killed-{t}") for t in ("single_approval", "block", "escalate")], name="again.yaml")
    assert {r["status"] for r in again.values()} == {"pending", "blocked", "escalated"}
    assert_store_sound(ws)


def test_sigkill_inside_approve_records_no_approval(ws):
    ws.submit([tier_manifest("single_approval")])
    process = ws.popen("approve", "m-single_approval", "--by", "alice", pause_at="approve")
    kill_when_paused(process, "approve")
    assert_store_sound(ws)
    view = ws.status("m-single_approval")
    assert view["status"] == "pending" and view["approvals"] == []
    # alice's approval never happened, so alice may still give it.
    assert ws.hitl("approve", "m-single_approval", "--by", "alice").returncode == 0


def test_submissions_killed_at_any_moment_are_all_or_nothing(ws):
    ws.submit([tier_manifest("single_approval", id="seed")], name="seed.yaml")
    for attempt, delay in enumerate((0.3, 0.5, 0.7, 0.9, 1.1, 1.4, 1.8, 2.5)):
        ids = [f"kill{attempt}-{n}" for n in range(3)]
        plan = ws.write(f"kill-{attempt}.yaml", [tier_manifest("single_approval", id=i) for i in ids])
        process = ws.popen("submit", plan, "--profile", "default", "--track-record", ws.trusted_record)
        time.sleep(delay)
        process.send_signal(signal.SIGKILL)
        process.communicate(timeout=30)
        assert_store_sound(ws)
        with closing(ws.database()) as connection:
            found = connection.execute(
                f"SELECT count(*) FROM requests WHERE id IN ({', '.join('?' * len(ids))})", ids
            ).fetchone()[0]
        assert found in (0, len(ids)), (attempt, delay, found)  # the batch landed whole, or not at all
