"""Fixtures for the workflow tests; everything else they share lives in support.py."""

import pytest

from hitl_cli.engine.binary import find_opa
from hitl_cli.errors import EngineError

from .support import Workspace, make_workspace


@pytest.fixture(scope="session", autouse=True)
def opa_is_installed() -> None:
    """The workflow tests need the real OPA: they fail, never skip, without it."""
    try:
        find_opa()
    except EngineError as error:
        pytest.fail(f"OPA is missing, so the workflow tests cannot run: {error}")


@pytest.fixture
def ws(tmp_path, monkeypatch) -> Workspace:
    """A workspace; its folders are in this process's environment too, for the in-process calls."""
    workspace = make_workspace(tmp_path)
    for name, value in workspace.env.items():
        monkeypatch.setenv(name, value)
    return workspace
