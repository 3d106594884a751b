"""Fixtures for the workflow tests; everything else they share lives in support.py."""

import os

import psycopg
import pytest

from hitl_cli.engine.binary import find_opa
from hitl_cli.errors import EngineError

from .support import Postgres, Workspace, daily_budget, make_workspace

BACKENDS = ["sqlite", "postgresql"]


@pytest.fixture(scope="session", autouse=True)
def opa_is_installed() -> None:
    """The workflow tests need the real OPA: they fail, never skip, without it."""
    try:
        find_opa()
    except EngineError as error:
        pytest.fail(f"OPA is missing, so the workflow tests cannot run: {error}")


@pytest.fixture(scope="session")
def postgres() -> Postgres:
    """The real PostgreSQL server of scripts/with-postgres (make test runs the suite through it): the tests on
    PostgreSQL fail, never skip, without it."""
    url = os.environ.get("HITL_TEST_POSTGRES_URL")
    if not url:
        pytest.fail("HITL_TEST_POSTGRES_URL is not set, so the PostgreSQL store cannot be tested: run the tests "
                    "through scripts/with-postgres (make test does), which starts a throwaway server")
    try:
        psycopg.connect(url, connect_timeout=10).close()
    except psycopg.Error as error:
        pytest.fail(f"the PostgreSQL server of HITL_TEST_POSTGRES_URL cannot be reached: {error}")
    return Postgres(url)


@pytest.fixture(params=BACKENDS)
def backend(request) -> str:
    return request.param


@pytest.fixture
def ws(tmp_path, backend, request, monkeypatch) -> Workspace:
    """A workspace on each backend; its folders are in this process's environment too, for the in-process calls."""
    workspace = make_workspace(tmp_path, request.getfixturevalue("postgres") if backend == "postgresql" else None)
    for name, value in workspace.env.items():
        monkeypatch.setenv(name, value)
    yield workspace
    workspace.close()


@pytest.fixture
def sqlite_ws(tmp_path) -> Workspace:
    """For what only a file can suffer (a corrupt file, a missing folder, a file lock held by hand)."""
    return make_workspace(tmp_path)


@pytest.fixture
def budget_profile(ws, monkeypatch):
    """support.daily_budget in the workspace on each backend."""
    return daily_budget(ws, monkeypatch)
