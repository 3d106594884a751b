"""A long-lived Engine (hitl serve) reads the store on one connection kept open between decisions
(hitl_cli.store.connection.KeptReader). Each test tries to get a decision made on a store other than the one
--state names now, or on a connection that is gone, or to leave a connection behind."""

import os
import shutil
import sqlite3
from datetime import datetime

import psycopg
import pytest

from hitl_cli import Engine, clock

from .support import at, copy_profile, descriptors_on, hitl_sessions, kept_connections, manifest

pytestmark = pytest.mark.attack  # each test tries a way past the gate (make bench counts them)

ASKED = manifest("k-asked", type="write", env="dev", cost=50)
SPEND = manifest("k-spent", type="write", env="dev", cost=60)


def _tier(engine: Engine) -> str:
    return engine.decide(ASKED).evaluated[0].decision.tier


def test_decisions_share_one_kept_connection_and_the_engine_closes_it(ws, budget_profile, monkeypatch):
    module, name = (sqlite3, "connect") if ws.backend == "sqlite" else (psycopg, "connect")
    opened = []
    connect = getattr(module, name)
    monkeypatch.setattr(module, name, lambda *args, **kwargs: opened.append(args) or connect(*args, **kwargs))
    with Engine([budget_profile], state=ws.state, track_record=ws.trusted_record) as engine:
        assert _tier(engine) == "auto_approve"  # 1 + 50 of 100
        first = len(opened)
        for _ in range(4):
            assert _tier(engine) == "auto_approve"
        assert len(opened) == first, "a decision after the first opened a connection of its own"
        assert kept_connections(ws) == 1
    assert kept_connections(ws) == 0


def test_a_spend_recorded_by_another_process_counts_at_the_next_decision(ws, budget_profile):
    """The kept connection must see what another process committed after it was opened."""
    with Engine([budget_profile], state=ws.state, track_record=ws.trusted_record) as engine:
        assert _tier(engine) == "auto_approve"
        assert ws.submit([SPEND], profile=budget_profile, now=at(1))["k-spent"]["status"] == "approved"
        assert _tier(engine) == "block"  # 1 + 60 + 50 of 100


def test_a_store_file_swapped_for_another_by_rename_is_the_one_read(sqlite_ws, tmp_path, monkeypatch):
    """A store restored by moving another file into its place (a new file at the same path): the kept connection
    still holds the old file open, and must not be the one read."""
    ws = sqlite_ws
    for name, value in ws.env.items():
        monkeypatch.setenv(name, value)
    profile = copy_profile(ws, "default", "budget", {"daily_budget.per_agent_usd": 100, "daily_budget.organisation_usd": 150})
    ws.submit([manifest("k-0", type="write", env="dev", cost=1)], profile=profile, now=at(0))
    monkeypatch.setattr(clock, "now", lambda: datetime.fromisoformat(at(5)))
    as_it_was = tmp_path / "as-it-was.db"
    shutil.copy(ws.state, as_it_was)  # the store is at rest (no writer): its file alone is the whole store
    with Engine([profile], state=ws.state, track_record=ws.trusted_record) as engine:
        assert _tier(engine) == "auto_approve"
        ws.submit([SPEND], profile=profile, now=at(1))
        assert _tier(engine) == "block"
        for leftover in ("-wal", "-shm"):
            ws.state.with_name(ws.state.name + leftover).unlink(missing_ok=True)
        os.replace(as_it_was, ws.state)  # back to before the 60 USD: a new file where the store was
        assert _tier(engine) == "auto_approve"
        ws.state.unlink()  # no store at all: the budget counts this action alone
        assert _tier(engine) == "auto_approve"
        assert descriptors_on(ws.state.with_name("state.db")) == 0


@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
def test_a_connection_the_database_server_dropped_is_replaced(ws, budget_profile):
    """The server ends hitl's kept session between two decisions (a restart, an idle timeout, an administrator):
    the next decision is made on a new one, with everything recorded meanwhile."""
    with Engine([budget_profile], state=ws.state, track_record=ws.trusted_record) as engine:
        assert _tier(engine) == "auto_approve"
        ws.submit([SPEND], profile=budget_profile, now=at(1))
        sessions = hitl_sessions(ws)
        assert len(sessions) == 1
        database = psycopg.conninfo.conninfo_to_dict(ws.state)["dbname"]
        with psycopg.connect(ws.postgres.url(database), autocommit=True) as admin:
            assert admin.execute("SELECT pg_terminate_backend(%s)", (sessions[0],)).fetchone()[0] is True
        assert _tier(engine) == "block"
        assert hitl_sessions(ws) != sessions

