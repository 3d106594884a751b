"""Red team on the read-only store connection a long-lived Engine (hitl serve) keeps open between decisions
(hitl_cli.store.connection.KeptReader, under hitl_cli.policy_history.StoreSnapshots). Each test tries to get a
decision made on stale or wrong history (a daily budget undercounted), a store fault that does not fail closed, or
a connection left open behind the Engine."""

import asyncio
import os
import shutil
import sqlite3
import subprocess
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing
from datetime import datetime

import psycopg
import pytest

from hitl_cli import Engine, clock, policy_history
from hitl_cli.errors import StoreError, UsageError
from hitl_cli.store.connection import KeptReader
from hitl_cli.store.schema import SCHEMA_VERSION
from hitl_cli.store.sqlite_backend import SqliteBackend

from .support import at, copy_profile, daily_budget, descriptors_on, hitl_sessions, kept_connections, manifest

pytestmark = pytest.mark.attack  # each test tries a way past the gate (make bench counts them)

ASKED = manifest("a-asked", type="write", env="dev", cost=50)
SPEND = manifest("a-spent", type="write", env="dev", cost=60)


@pytest.fixture
def sqlite_budget(sqlite_ws, monkeypatch):
    """The conftest's budget_profile on a SQLite workspace (its folders in this process's environment)."""
    for name, value in sqlite_ws.env.items():
        monkeypatch.setenv(name, value)
    return sqlite_ws, daily_budget(sqlite_ws, monkeypatch)


def _tier(engine: Engine) -> str:
    return engine.decide(ASKED).evaluated[0].decision.tier


def _store_with_the_spend(ws, profile, folder):
    """A copy of the workspace's store (at rest: no connection open on it), with SPEND approved in the copy."""
    folder.mkdir()
    copy = folder / "state.db"
    shutil.copy(ws.state, copy)
    assert ws.submit([SPEND], profile=profile, now=at(1), env={"HITL_STATE": str(copy)})["a-spent"]["status"] == "approved"
    assert not copy.with_name("state.db-wal").exists()  # its writer, the last connection, checkpointed it
    return copy


# Another process writes while the Engine keeps its connection


def test_a_verdict_given_through_the_cli_counts_at_the_next_decision(ws, budget_profile):
    """60 USD waiting for an approval counts nothing; once another process (hitl approve) approves it, the next
    decision counts it: the kept connection's snapshot is a new one at every read."""
    waiting = manifest("a-waits", type="write", env="staging", cost=60)
    request = ws.submit([waiting], profile=budget_profile, now=at(1))["a-waits"]
    assert request["status"] == "pending"
    with Engine([budget_profile], state=ws.state, track_record=ws.trusted_record) as engine:
        assert _tier(engine) == "auto_approve"  # 1 + 50 of 100: the waiting 60 is not spent
        result = ws.hitl("approve", request["id"], "--by", "alice", now=at(2))
        assert result.returncode == 0, result.stderr
        assert ws.view(request["id"])["status"] == "approved"
        assert _tier(engine) == "block"  # 1 + 60 + 50 of 100


def test_decisions_on_threads_see_a_spend_another_process_records_meanwhile(ws, budget_profile):
    """Four threads decide again and again through one Engine (one kept connection, and connections of their own for
    reads made meanwhile) while another process records 60 USD: every decision begun after that process ended
    counts it."""
    done = threading.Event()
    decided: list[tuple[float, str]] = []  # (when the decision began, its tier)

    def decide_until_done() -> None:
        while not done.is_set() or len([d for d in decided if d[0] > recorded_at[0]]) < 8:
            began = time.monotonic()
            decided.append((began, _tier(engine)))

    recorded_at = [float("inf")]
    with Engine([budget_profile], state=ws.state, track_record=ws.trusted_record) as engine:
        with ThreadPoolExecutor(max_workers=4) as pool:
            deciders = [pool.submit(decide_until_done) for _ in range(4)]
            assert ws.submit([SPEND], profile=budget_profile, now=at(1))["a-spent"]["status"] == "approved"
            recorded_at[0] = time.monotonic()
            done.set()
            for decider in deciders:
                decider.result(timeout=120)
        # the kept one, and what the reads made meanwhile on connections of their own left: closed, though SQLite
        # keeps a closed connection's descriptor for the next one while another connection holds a lock on the file
        assert kept_connections(ws) <= 4
    after = [tier for began, tier in decided if began > recorded_at[0]]
    assert after and set(after) == {"block"}, after
    assert kept_connections(ws) == 0


def test_decisions_on_the_event_loop_and_on_threads_share_the_reader_and_see_a_new_spend(ws, budget_profile):
    """hitl serve decides a few manifests on its event loop (decide_async reads the store there) and the rest on
    worker threads, all through one reader and its lock: neither side waits on the other for ever, and all
    count a spend another process records between two rounds."""

    async def one_round(engine, pool) -> list[str]:
        loop = asyncio.get_running_loop()
        on_threads = [loop.run_in_executor(pool, _tier, engine) for _ in range(6)]
        on_loop = [(await engine.decide_async(ASKED)).evaluated[0].decision.tier for _ in range(6)]
        return on_loop + list(await asyncio.gather(*on_threads))

    async def both_rounds(engine, pool) -> tuple[list[str], list[str]]:
        before = await one_round(engine, pool)
        await asyncio.to_thread(ws.submit, [SPEND], profile=budget_profile, now=at(1))
        after = await one_round(engine, pool)
        await engine.aclose()
        return before, after

    with Engine([budget_profile], state=ws.state, track_record=ws.trusted_record) as engine:
        with ThreadPoolExecutor(max_workers=3) as pool:
            before, after = asyncio.run(asyncio.wait_for(both_rounds(engine, pool), timeout=120))
    assert set(before) == {"auto_approve"} and set(after) == {"block"}, (before, after)
    assert kept_connections(ws) == 0


def test_a_decision_does_not_wait_behind_another_decisions_read(ws, budget_profile, monkeypatch):
    """One decision's read of the store takes long (a large store whose head moved; on PostgreSQL, one waiting
    HITL_STATE_TIMEOUT for a locked table, twice with the retry). With one kept connection under one lock, every
    other decision of hitl serve - its event loop's too - waited behind it, one after the other: N decisions at a
    locked store took N times the timeout. Another decision must be made meanwhile, on the store as it stands."""
    stored_history = policy_history._stored_history
    first_read, release = threading.Event(), threading.Event()

    def slow_first(connection, now, *read):
        if not first_read.is_set():
            first_read.set()
            release.wait(timeout=120)
        return stored_history(connection, now, *read)

    with Engine([budget_profile], state=ws.state, track_record=ws.trusted_record) as engine:
        assert _tier(engine) == "auto_approve"
        ws.submit([SPEND], profile=budget_profile, now=at(1))  # the head moves: the next reads read the tables
        monkeypatch.setattr(policy_history, "_stored_history", slow_first)
        with ThreadPoolExecutor(max_workers=2) as pool:
            slow = pool.submit(_tier, engine)
            assert first_read.wait(timeout=60)
            other = pool.submit(_tier, engine)
            try:
                assert other.result(timeout=60) == "block"  # made while the slow read still holds its connection
                assert not slow.done()
            finally:
                release.set()
            assert slow.result(timeout=60) == "block"
    assert kept_connections(ws) == 0


# The SQLite file at --state replaced while the Engine keeps the old one open


def test_a_store_overwritten_in_place_is_read_as_it_is_now(sqlite_budget, tmp_path):
    """A copy written over the store's file (`cp copy state.db`: the same file, the same inode, new contents) while
    the Engine keeps a connection on it. SQLite's page cache on the kept connection outlives its read
    transactions and, in WAL mode, is checked against the WAL index alone, which a copy does not touch: the
    Engine went on deciding on the pages it had read before (1 USD spent) when the file now holds 61."""
    ws, profile = sqlite_budget
    copy = _store_with_the_spend(ws, profile, tmp_path / "copy")
    with Engine([profile], state=ws.state, track_record=ws.trusted_record) as engine:
        assert _tier(engine) == "auto_approve"
        inode = ws.state.stat().st_ino
        subprocess.run(["cp", str(copy), str(ws.state)], check=True)
        assert ws.state.stat().st_ino == inode
        assert _tier(engine) == "block"  # 1 + 60 + 50 of 100, as a new connection reads it


def test_a_store_restored_through_sqlites_backup_is_read_as_it_is_now(sqlite_budget, tmp_path):
    """A copy restored onto the store by SQLite's online backup (`sqlite3 state.db ".restore copy"`): written
    through the store's own locks and WAL, so the kept connection's next read sees it."""
    ws, profile = sqlite_budget
    copy = _store_with_the_spend(ws, profile, tmp_path / "copy")
    with Engine([profile], state=ws.state, track_record=ws.trusted_record) as engine:
        assert _tier(engine) == "auto_approve"
        with sqlite3.connect(copy) as source, sqlite3.connect(ws.state) as target:
            source.backup(target)
        source.close()
        target.close()
        assert _tier(engine) == "block"


def test_a_store_removed_without_its_wal_and_made_again_shows_nothing_of_the_old_one(sqlite_budget):
    """`rm state.db` while the Engine keeps the store open: its -wal and -shm stay (the kept connection stops the
    last writer from checkpointing and removing them). A store made again at the path must not take the old
    store's WAL as its own (60 USD from the removed store counted, or its requests as precedents), nor the Engine
    read the removed file."""
    ws, profile = sqlite_budget
    with Engine([profile], state=ws.state, track_record=ws.trusted_record) as engine:
        assert _tier(engine) == "auto_approve"
        assert ws.submit([SPEND], profile=profile, now=at(1))["a-spent"]["status"] == "approved"
        assert _tier(engine) == "block"
        assert ws.state.with_name("state.db-wal").stat().st_size > 0
        ws.state.unlink()
        assert ws.submit([manifest("a-new", type="write", env="dev", cost=1)], profile=profile, now=at(2))["a-new"]["status"] == "approved"
        assert _tier(engine) == "auto_approve"  # 1 + 50: the new store's spend alone
    with sqlite3.connect(ws.state) as store:
        assert store.execute("SELECT manifest_id FROM requests").fetchall() == [("a-new",)]
    store.close()
    assert ws.verify().returncode == 0


def test_a_symlink_at_state_retargeted_is_followed(sqlite_budget, tmp_path):
    """--state is a symbolic link, and someone points it at another store: the identity the Engine checks is the
    link's target's (os.stat follows links, and the connection opens the resolved path), so each decision reads
    the store the link names at that moment."""
    ws, profile = sqlite_budget
    with_spend = _store_with_the_spend(ws, profile, tmp_path / "spent")
    without = tmp_path / "unspent" / "state.db"
    without.parent.mkdir()
    shutil.copy(ws.state, without)
    link = tmp_path / "link.db"
    link.symlink_to(without)

    def point_at(target) -> None:
        staged = tmp_path / "staged-link.db"
        staged.symlink_to(target)
        os.replace(staged, link)  # atomically, as `ln -sfn` would

    with Engine([profile], state=link, track_record=ws.trusted_record) as engine:
        for target, expected in [(without, "auto_approve"), (with_spend, "block"), (without, "auto_approve")]:
            point_at(target)
            assert _tier(engine) == expected, target
        assert descriptors_on(with_spend) == 0  # the store it no longer names is closed
    assert descriptors_on(without) == 0


def test_a_store_made_again_at_the_path_never_has_the_kept_files_inode(sqlite_budget, tmp_path):
    """The kept connection tells files apart by (device, inode). Could a store removed and made again reuse the
    removed file's inode number, so that the Engine goes on reading the removed file? Not while the kept
    connection holds that file open: an inode is freed (and its number free to reuse) only once no descriptor
    refers to it. Stores with and without the 60 USD, removed and made again at the path, time after time."""
    ws, profile = sqlite_budget
    spent = _store_with_the_spend(ws, profile, tmp_path / "spent")
    unspent = tmp_path / "unspent.db"
    shutil.copy(ws.state, unspent)
    with Engine([profile], state=ws.state, track_record=ws.trusted_record) as engine:
        for round in range(12):
            kept = ws.state.stat().st_ino
            assert _tier(engine) == ("auto_approve" if round % 2 == 0 else "block")
            for name in ("state.db", "state.db-wal", "state.db-shm"):
                ws.state.with_name(name).unlink(missing_ok=True)
            shutil.copy(spent if round % 2 == 0 else unspent, ws.state)
            assert ws.state.stat().st_ino != kept


# Store faults on the kept connection


def test_a_store_upgraded_by_a_newer_hitl_while_kept_is_refused_and_nothing_is_decided(ws, budget_profile):
    """A newer hitl migrates the store while the Engine keeps its connection (the schema version read afresh in
    every read transaction): decisions fail with a store fault until the version is one this hitl knows."""
    with Engine([budget_profile], state=ws.state, track_record=ws.trusted_record) as engine:
        assert _tier(engine) == "auto_approve"
        ws.set_schema_version(SCHEMA_VERSION + 1)
        for _ in range(2):
            with pytest.raises(StoreError, match="newer") as fault:
                engine.decide(ASKED)
            assert fault.value.exit_code == 5 and "\n" not in str(fault.value)
        ws.set_schema_version(SCHEMA_VERSION)
        assert _tier(engine) == "auto_approve"
    assert kept_connections(ws) == 0


@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
def test_a_session_ended_by_the_server_in_the_middle_of_a_read_fails_closed_and_is_replaced(ws, budget_profile, monkeypatch):
    """The server ends hitl's kept session while a read transaction is open on it (after the audit head, before
    the tables): that decision is a store fault (nothing decided on half a read); the next one, on a new
    session, counts everything."""
    database = psycopg.conninfo.conninfo_to_dict(ws.state)["dbname"]
    stored_history = policy_history._stored_history
    ended: list[int] = []

    def end_the_session_first(connection, now, *read):
        if not ended:
            ended.extend(hitl_sessions(ws))
            with psycopg.connect(ws.postgres.url(database), autocommit=True) as admin:
                for pid in ended:
                    admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
        return stored_history(connection, now, *read)

    with Engine([budget_profile], state=ws.state, track_record=ws.trusted_record) as engine:
        assert _tier(engine) == "auto_approve"
        ws.submit([SPEND], profile=budget_profile, now=at(1))  # the head moves: the next read reads the tables
        monkeypatch.setattr(policy_history, "_stored_history", end_the_session_first)
        with pytest.raises(StoreError) as fault:
            engine.decide(ASKED)
        assert fault.value.exit_code == 5 and "\n" not in str(fault.value)
        assert len(ended) == 1
        assert _tier(engine) == "block"
        assert hitl_sessions(ws) not in ([], ended)
    assert hitl_sessions(ws) == []


@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
def test_a_database_store_dropped_and_made_again_under_the_kept_session_is_read_afresh(ws, budget_profile):
    """A PostgreSQL store is the same store for as long as its URL names it, so nothing tells the kept session that
    its tables were dropped and made again (an administrator resetting the store) - and psycopg has by then
    prepared hitl's statements on it. The next decisions must read the tables as they now are."""
    database = psycopg.conninfo.conninfo_to_dict(ws.state)["dbname"]
    with Engine([budget_profile], state=ws.state, track_record=ws.trusted_record) as engine:
        for _ in range(7):  # past psycopg's prepare threshold (5 runs of a statement)
            assert _tier(engine) == "auto_approve"
        ws.submit([SPEND], profile=budget_profile, now=at(1))
        assert _tier(engine) == "block"
        sessions = hitl_sessions(ws)
        with psycopg.connect(ws.postgres.url(database, "postgres"), autocommit=True) as admin:
            admin.execute(f"DROP SCHEMA public CASCADE; CREATE SCHEMA public AUTHORIZATION {ws.postgres.OWNER}")
        assert _tier(engine) == "auto_approve"  # no store: this action alone
        assert ws.submit([manifest("a-new", type="write", env="dev", cost=1)], profile=budget_profile, now=at(2))["a-new"]["status"] == "approved"
        for _ in range(3):
            assert _tier(engine) == "auto_approve"  # 1 + 50 of 100 in the new store
        assert ws.submit([SPEND], profile=budget_profile, now=at(3))["a-spent"]["status"] == "approved"
        assert _tier(engine) == "block"
        assert len(hitl_sessions(ws)) == 1, (sessions, hitl_sessions(ws))
    assert hitl_sessions(ws) == []


@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
def test_a_store_locked_by_a_migration_is_a_fault_after_the_timeout_not_a_wait_without_end(ws, budget_profile, monkeypatch):
    """Another session holds hitl_schema locked (a newer hitl's migration altering it, VACUUM FULL, LOCK TABLE) while
    hitl serve decides. The kept session's read gives up after HITL_STATE_TIMEOUT; the reader then opens a new
    session and first asks whether the database holds a store, on a session of its own that had no lock timeout:
    it waited for as long as the lock was held, with the reader's lock held, so every decision of hitl serve (its
    event loop's too) waited behind it. A decision must fail closed within the timeout (twice it, and a retry)."""
    monkeypatch.setenv("HITL_STATE_TIMEOUT", "1")
    database = psycopg.conninfo.conninfo_to_dict(ws.state)["dbname"]
    with Engine([budget_profile], state=ws.state, track_record=ws.trusted_record) as engine:
        assert _tier(engine) == "auto_approve"
        outcome: list[BaseException | str] = []

        def decide() -> None:
            try:
                outcome.append(_tier(engine))
            except BaseException as error:  # noqa: BLE001 - what the decision raised is the test's subject
                outcome.append(error)

        with psycopg.connect(ws.postgres.url(database, "postgres"), autocommit=True) as holder:
            holder.execute("BEGIN")
            holder.execute("LOCK TABLE hitl_schema IN ACCESS EXCLUSIVE MODE")
            deciding = threading.Thread(target=decide)
            deciding.start()
            deciding.join(timeout=30)  # far past the 1 s timeout: only a wait without end takes this long
            waited_on = deciding.is_alive()
            holder.execute("ROLLBACK")
        deciding.join()
        assert not waited_on, "the decision waited for the lock past HITL_STATE_TIMEOUT"
        assert isinstance(outcome[0], StoreError) and outcome[0].exit_code == 5, outcome
        assert _tier(engine) == "auto_approve"


def test_a_store_made_after_the_engine_began_is_read_and_an_absent_one_keeps_no_connection(ws, tmp_path, monkeypatch):
    """No store yet (no file; a database without hitl's tables): decisions have no history and keep no connection
    open; once another process makes the store, the next decision reads it."""
    profile = copy_profile(ws, "default", "budget", {"daily_budget.per_agent_usd": 100, "daily_budget.organisation_usd": 150})
    monkeypatch.setattr(clock, "now", lambda: datetime.fromisoformat(at(5)))
    with Engine([profile], state=ws.state, track_record=ws.trusted_record) as engine:
        for _ in range(3):
            assert _tier(engine) == "auto_approve"
            assert kept_connections(ws) == 0
        assert ws.submit([SPEND], profile=profile, now=at(1))["a-spent"]["status"] == "approved"
        assert _tier(engine) == "block"
        assert kept_connections(ws) == 1
    assert kept_connections(ws) == 0


# The reader itself: errors in a read, and what is left open


def test_an_error_inside_a_read_is_the_one_raised_and_the_next_read_is_fine(ws, budget_profile):
    """Whatever fails while a read transaction is open (here a bug in the caller) propagates as itself, not masked
    by the clean-up; the connection is closed, and the next read opens a new one."""
    reader = KeptReader(ws.store)
    try:
        with pytest.raises(ZeroDivisionError):
            with reader.read() as connection:
                connection.execute("SELECT count(*) FROM requests").fetchone()
                1 / 0
        assert kept_connections(ws) == 0
        with pytest.raises(StoreError):  # a failing statement: a store fault, and the reader still usable after it
            with reader.read() as connection:
                connection.execute("SELECT no_such_column FROM requests")
        with reader.read() as connection:
            assert connection.execute("SELECT count(*) FROM requests").fetchone()[0] == 1
        assert kept_connections(ws) == 1
    finally:
        reader.close()
    assert kept_connections(ws) == 0


def test_a_decision_asked_of_an_engine_whose_block_ended_opens_no_connection(ws, budget_profile):
    """After the block, the Engine refuses to decide: the refusal must come before the store is read, or it would
    leave a connection open that nothing closes any more."""
    with Engine([budget_profile], state=ws.state, track_record=ws.trusted_record) as engine:
        assert _tier(engine) == "auto_approve"
    assert kept_connections(ws) == 0
    for call in (lambda: engine.decide(ASKED), lambda: engine.submit(ASKED)):
        with pytest.raises(UsageError):
            call()
        assert kept_connections(ws) == 0


def test_an_engine_closed_while_a_decision_reads_fails_that_decision_and_leaves_nothing_open(ws, budget_profile, monkeypatch):
    """hitl serve stopped while a worker thread's decision is in the middle of its read: the block's end closes the
    kept connection under that read. The decision must fail (nothing decided on a read cut short), and no
    connection may outlive the Engine (the end of a block is safe to run twice, as here)."""
    stored_history = policy_history._stored_history
    reading, closed = threading.Event(), threading.Event()

    def cut_short(connection, now, *read):
        reading.set()
        closed.wait(timeout=120)
        return stored_history(connection, now, *read)

    engine = Engine([budget_profile], state=ws.state, track_record=ws.trusted_record).__enter__()
    try:
        assert _tier(engine) == "auto_approve"
        ws.submit([SPEND], profile=budget_profile, now=at(1))
        monkeypatch.setattr(policy_history, "_stored_history", cut_short)
        with ThreadPoolExecutor(max_workers=1) as pool:
            deciding = pool.submit(_tier, engine)
            assert reading.wait(timeout=60)
            engine.__exit__(None, None, None)
            closed.set()
            with pytest.raises((StoreError, UsageError)):
                deciding.result(timeout=60)
    finally:
        closed.set()
        engine.__exit__(None, None, None)
    assert kept_connections(ws) == 0


def test_the_wal_starts_over_while_the_reader_is_kept_and_opened_again_at_each_checkpoint(sqlite_ws):
    """A long-running hitl serve keeps its connection while other processes write, each on a connection of its own
    (the CLI's). The kept connection stops the last writer from removing the WAL; the WAL must still start over
    once checkpointed, not grow with every write. The reader opens its connection again after each checkpoint
    (the store's file changed): were the connection it kept closed before the new one has the WAL index open,
    the store would be left with no connection on it, the next one would recover it from the WAL (forgetting
    what was checkpointed), and the WAL would never start over."""
    path = sqlite_ws.state
    backend = SqliteBackend(path)
    with closing(backend.connect(read_only=False, timeout=5)) as setup:
        setup.execute("CREATE TABLE filler (data BLOB)")
        setup.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
    reader = KeptReader(path)
    try:
        for _ in range(1500):  # about 6 MB of pages: more than SQLite's 1000-page automatic checkpoint
            with closing(SqliteBackend(path).connect(read_only=False, timeout=5)) as writer:
                writer.execute("INSERT INTO filler VALUES (randomblob(3000))")
            with reader.read() as connection:
                connection.execute("SELECT count(*) FROM filler").fetchone()
        wal = path.with_name(path.name + "-wal").stat().st_size
        assert wal < 5_000_000, wal  # one checkpoint's worth (1000 pages of 4 KiB and their headers), not 6 MB
    finally:
        reader.close()
