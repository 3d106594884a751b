"""Red team on the long-lived Engine's speed-ups (hitl_cli/api.py, hitl_cli/policy_history.StoreSnapshots): decisions
run side by side, and the store's history and track record are reused while its audit head, the day and the store
stand still. Each test tries to get a decision made on stale history (a daily budget undercounted) or to get one
call's answer given to another."""

import sqlite3
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest

from conftest import make_manifest
from workflow.support import at, copy_profile, make_workspace, manifest
from hitl_cli import Engine, clock, policy_history
from hitl_cli.models.workflow import VerdictAction
from hitl_cli.policy_history import StoreSnapshots
from hitl_cli.workflow import submission

pytestmark = pytest.mark.attack  # each test tries a way past the gate (make bench counts them)

PER_AGENT_USD = 100


@pytest.fixture
def budget(tmp_path, monkeypatch):
    """A workspace (its folders in this process's environment) and a copy of the default profile with a daily
    budget of 100 USD an agent, with 1 USD already approved today (at(0))."""
    ws = make_workspace(tmp_path / "ws")
    for name, value in ws.env.items():
        monkeypatch.setenv(name, value)
    profile = copy_profile(ws, "default", "budget",
                           {"daily_budget.per_agent_usd": PER_AGENT_USD, "daily_budget.organisation_usd": 150})
    assert ws.submit([manifest("b-0", type="write", env="dev", cost=1)], profile=profile, now=at(0))["b-0"]["status"] == "approved"
    monkeypatch.setattr(clock, "now", lambda: datetime.fromisoformat(at(5)))
    return ws, profile


def _decision(engine: Engine, asked: dict):
    decision = engine.decide(asked).evaluated[0].decision
    return decision.tier, {reason.code for reason in decision.reasons}


def test_two_submissions_at_once_through_one_engine_see_each_others_spend(budget, monkeypatch):
    """60 + 60 USD over a 100 USD budget, submitted from two threads through one Engine at the same moment: the
    second must decide with the first's spend recorded, however the threads interleave (the decision is held a
    while before it is recorded, to give the other thread every chance to decide on the same history)."""
    ws, profile = budget
    deciding = submission.decide_files

    def slow_decide(*args, **kwargs):
        result = deciding(*args, **kwargs)
        time.sleep(0.5)
        return result

    monkeypatch.setattr(submission, "decide_files", slow_decide)
    spends = [manifest(f"s-{n}", type="write", env="dev", cost=60) for n in range(2)]
    with Engine([profile], state=ws.state, track_record=ws.trusted_record) as engine:
        with ThreadPoolExecutor(max_workers=2) as pool:
            results = list(pool.map(lambda m: engine.submit(m).submitted[0].view, spends))
    statuses = sorted(view.status for view in results)
    assert statuses.count("approved") <= 1, statuses  # 1 + 60 + 60 > 100: both approved would break the budget


def test_two_submissions_at_once_from_two_engines_see_each_others_spend(budget, monkeypatch):
    """As above, but each submission from its own Engine on the same store: two processes (hitl serve and a CLI,
    two agents' Engines) are the everyday case, and nothing serialises them but the store's write lock."""
    ws, profile = budget
    deciding = submission.decide_files
    both_decided = threading.Barrier(2)

    waited: set[int] = set()

    def decide_then_wait(*args, **kwargs):
        result = deciding(*args, **kwargs)
        if threading.get_ident() in waited:  # deciding again, under the write lock: nobody else to wait for
            return result
        waited.add(threading.get_ident())
        try:
            both_decided.wait(timeout=10)  # the schedule two processes can always have: both decide, then both record
        except threading.BrokenBarrierError:
            pass  # the other could not decide meanwhile (a fix that decides under the write lock): go on
        return result

    monkeypatch.setattr(submission, "decide_files", decide_then_wait)
    spends = [manifest(f"s-{n}", type="write", env="dev", cost=60) for n in range(2)]
    with (Engine([profile], state=ws.state, track_record=ws.trusted_record) as first,
          Engine([profile], state=ws.state, track_record=ws.trusted_record) as second):
        with ThreadPoolExecutor(max_workers=2) as pool:
            results = list(pool.map(lambda pair: pair[0].submit(pair[1]).submitted[0].view,
                                    zip((first, second), spends)))
    statuses = sorted(view.status for view in results)
    assert statuses.count("approved") <= 1, statuses


def test_a_decision_after_a_verdict_recorded_elsewhere_counts_the_approved_spend(budget):
    """A spend waiting for approval does not count; once a person approves it (in-process, on the same store, not
    through the Engine) the next decision of the Engine kept open must count it."""
    ws, profile = budget
    asked = manifest("b-asked", type="write", env="dev", cost=50)
    pending = manifest("b-pending", type="write", env="staging", cost=60)  # staging writes wait for one approval
    with Engine([profile], state=ws.state, track_record=ws.trusted_record) as engine:
        submitted = engine.submit(pending).submitted[0].view
        assert submitted.status not in ("approved", "overridden"), submitted.status
        assert _decision(engine, asked)[0] == "auto_approve"  # 1 USD approved today: 51 of 100
        view = None
        for person in ("data-platform-lead", "security-oncall", "cto"):
            try:
                view = ws.verdict(VerdictAction.APPROVE, submitted.id, person)
                break
            except Exception:  # noqa: BLE001 - a person this profile does not let approve; try the next
                continue
        assert view is not None and view["status"] in ("approved", "overridden"), view
        tier, codes = _decision(engine, asked)  # 1 + 60 approved + 50 asked: over 100
        assert tier == "block" and "daily_agent_budget" in codes, (tier, codes)


def test_a_store_replaced_under_an_open_engine_is_read_again(budget, tmp_path):
    """The store file swapped for another (a restore, a rotation) between two decisions: the second decision is
    the new store's, never what was kept from the old one."""
    ws, profile = budget
    asked = manifest("b-asked", type="write", env="dev", cost=50)
    spent = tmp_path / "spent.db"
    with Engine([profile], state=ws.state, track_record=ws.trusted_record) as engine:
        assert _decision(engine, asked)[0] == "auto_approve"
        _restore(ws.state, spent)  # the same store as it stood: the same audit head
        ws.submit([manifest("b-1", type="write", env="dev", cost=60)], name="spent.yaml", profile=profile, now=at(1))
        assert _decision(engine, asked)[0] == "block"
        _restore(spent, ws.state)  # rolled back to the copy: the 60 USD is gone, the head is the old one
        assert _decision(engine, asked)[0] == "auto_approve"
        spent.unlink()


def _restore(source, target) -> None:
    """SQLite's own online backup (the store is in WAL mode: copying its file alone could leave a stale log)."""
    with sqlite3.connect(source) as reading, sqlite3.connect(target) as writing:
        reading.backup(writing)
    reading.close()
    writing.close()


@pytest.mark.parametrize("seconds", [-1, 0, 1])
def test_the_day_turns_at_midnight_utc_for_kept_history(tmp_path, seconds):
    """StoreSnapshots keyed by the day: a read one second before, at and after midnight UTC of the day spent."""
    ws = make_workspace(tmp_path / "ws")
    ws.submit([manifest("m-0", type="write", env="dev", cost=7)], now=at(0))  # 09:00 UTC on 2026-11-24
    snapshots = StoreSnapshots()
    day = datetime(2026, 11, 24, 12, tzinfo=UTC)
    midnight = datetime(2026, 11, 25, tzinfo=UTC) + timedelta(seconds=seconds)
    first = snapshots.read(ws.state, day, False, True)[0]
    later = snapshots.read(ws.state, midnight, False, True)[0]
    assert first.spent_today["organisation"] == 7
    assert later.spent_today["day"] == midnight.date().isoformat()
    assert later.spent_today["organisation"] == (7 if seconds < 0 else 0)


def test_two_hundred_decisions_at_once_each_get_their_own_answer(opa_bin, tmp_path, record):
    """200 calls at once through one Engine, each a distinct manifest (id, type, environment, cost): every answer
    is the one its own call gets alone - same id, same tier, same reasons."""
    shapes = [("read", "dev"), ("write", "production"), ("drop", "production"), ("write", "staging"), ("read", "production")]
    manifests = [make_manifest(id=f"mix-{n}", type=shapes[n % 5][0], env=shapes[n % 5][1], cost=float(n % 7))
                 for n in range(200)]
    companion = make_manifest(id="companion", type="drop", env="production", statement="DROP TABLE analytics.orders")
    with Engine(["default"], state=tmp_path / "state.db", track_record=record) as engine:
        alone = {m["metadata"]["id"]: engine.decide(m).evaluated[0].decision for m in [*manifests[:25], companion]}
        start = threading.Barrier(16, timeout=60)

        def ask(m):
            if int(m["metadata"]["id"].split("-")[1]) < 16:
                start.wait()
            return m["metadata"]["id"], engine.decide([m, companion]).evaluated

        with ThreadPoolExecutor(max_workers=16) as pool:
            answers = list(pool.map(ask, manifests))
    for asked, evaluated in answers:
        assert [item.decision.id for item in evaluated] == [asked, "companion"]
        if asked in alone:
            assert evaluated[0].decision == alone[asked]
        assert evaluated[1].decision == alone["companion"]
    assert len({evaluated[0].decision.tier for _, evaluated in answers}) > 1


def test_a_caller_changing_a_decision_it_was_given_changes_nobody_elses(opa_bin, tmp_path, record):
    drop = make_manifest(id="d", type="drop", env="production", statement="DROP TABLE analytics.customers")
    with Engine(["default"], state=tmp_path / "state.db", track_record=record) as engine:
        first = engine.decide(drop).evaluated[0].decision
        expected = first.model_copy(deep=True)
        first.reasons.clear()
        object.__setattr__(first, "tier", "auto_approve")
        again = engine.decide(drop).evaluated[0].decision
    assert again == expected and again.tier == "block"


def test_manifest_files_read_from_many_threads_at_once_are_read_as_one_by_one(opa_bin, tmp_path, record):
    """The one-pass YAML reader's shared scalar builder and cache, and the statement cache, used by 12 threads at
    once through one Engine: every file gives the decisions it gives alone."""
    import yaml

    files = []
    for n in range(24):
        kind, env = [("read", "production"), ("drop", "production"), ("write", "dev")][n % 3]
        documents = [make_manifest(id=f"f{n}-{k}", type=kind, env=env, cost=float(k),
                                   statement=["SELECT 1", "SELECT 1; DROP TABLE analytics.customers", None][(n + k) % 3],
                                   system=["postgres", "mysql", None][k % 3]) for k in range(5)]
        path = tmp_path / f"plan-{n}.yaml"
        path.write_text(yaml.safe_dump_all(documents, default_flow_style=bool(n % 2)))
        files.append(path)
    with Engine(["default"], state=tmp_path / "state.db", track_record=record) as engine:
        alone = [[item.decision for item in engine.decide(path).evaluated] for path in files]
        with ThreadPoolExecutor(max_workers=12) as pool:
            together = list(pool.map(lambda path: [item.decision for item in engine.decide(path).evaluated], files * 3))
    assert together == alone * 3
    assert {d.tier for decisions in alone for d in decisions} >= {"auto_approve", "block"}


def test_a_submission_reads_the_history_again_under_the_write_lock_only_when_the_store_moved(budget, monkeypatch):
    """Under the write lock a submission makes sure its decisions were made on the store as it now stands. Reading
    the history again there is a pass over every request (1.5 s at 10,000), so it is done only when the audit head
    moved since the history was read: never for a lone submission, always when another was recorded meanwhile."""
    ws, profile = budget
    reread: list[bool] = []
    stored = policy_history._stored_history
    monkeypatch.setattr(policy_history, "_stored_history",
                        lambda connection, now, requests=None: reread.append(requests is None) or
                        stored(connection, now, requests))
    with Engine([profile], state=ws.state, track_record=ws.trusted_record) as engine:
        assert engine.submit(manifest("alone", type="write", env="dev", cost=2)).submitted[0].view.status == "approved"
        assert reread == [False]  # the run's own read, through the Engine's snapshots; none under the lock
        snapshot = engine._run(None, recording=True)  # a run that read the store, then another submission lands
        reread.clear()
        ws.submit([manifest("meanwhile", type="write", env="dev", cost=60)], profile=profile, now=at(5))
        decided = submission.submit([manifest("late", type="write", env="dev", cost=60)], snapshot, engine._connected())
    assert reread == [True]  # the store moved: read again under the lock, and decided on it
    assert decided.submitted[0].view.status != "approved"  # 1 + 60 + 60 > 100
