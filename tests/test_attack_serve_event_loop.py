"""Red team on the event-loop path of `hitl serve` (POST /v1/decisions with at most ON_THE_LOOP manifests, decided by
Engine.decide_async: statements analysed by the analyst thread and awaited, OPA asked through the asyncio client),
as a hostile agent holding a valid token, or a caller of the Python API, would attack it: to get a decision other
than `Engine.decide`'s for the same manifest, to hold the loop, or to make a fault end in anything but 503 / exit
code 5 with no decision. Real `hitl serve` and real OPA unless a test says otherwise."""

import asyncio
import threading
import uuid

import pytest

from conftest import make_manifest
from hitl_cli import Engine
from hitl_cli.statements import analysis

pytestmark = pytest.mark.attack  # each test tries a way past the gate (make bench counts them)

GUARD_SECONDS = 60  # failure guard only: a working engine answers long before


def _fresh_statement() -> str:
    """A statement no analysis in this process has seen (nothing remembered answers it)."""
    return f"UPDATE t_{uuid.uuid4().hex} SET a = 1 WHERE b = 2"


def test_a_decision_cancelled_while_its_statement_is_analysed_leaves_the_analyst_answering(real_opa, tmp_path, monkeypatch):
    """Attack: cancel Engine.decide_async (asyncio.wait_for's timeout, a client's task cancelled) while its statement
    waits for the analyst thread. asyncio.wrap_future cancels the analyst's Future too; the analyst then set a result
    on a cancelled Future, which raises InvalidStateError, and died - every later statement, in every caller of the
    process (hitl serve's requests, Engine.decide), waited forever for an analyst that was gone."""
    url, _ = real_opa
    held, entered, release = _fresh_statement(), threading.Event(), threading.Event()
    real_analyse = analysis.analyse

    def analyse(statement, dialect):  # the analysis of `held` takes as long as the test says
        if statement == held:
            entered.set()
            release.wait(GUARD_SECONDS)
        return real_analyse(statement, dialect)

    monkeypatch.setattr(analysis, "analyse", analyse)
    fresh = make_manifest(id="after", type="write", env="production", statement=_fresh_statement())

    async def attack(engine: Engine):
        try:
            cancelled = asyncio.create_task(engine.decide_async(make_manifest(id="held", statement=held)))
            assert await asyncio.to_thread(entered.wait, GUARD_SECONDS), "the analyst never started on the statement"
            cancelled.cancel()
            with pytest.raises(asyncio.CancelledError):
                await cancelled
            release.set()
            return await asyncio.wait_for(engine.decide_async(fresh), GUARD_SECONDS)
        finally:
            release.set()
            await engine.aclose()

    with Engine(opa_url=url, state=tmp_path / "state.db") as engine:
        after = asyncio.run(attack(engine)).evaluated[0].decision
        assert after == engine.decide(fresh).evaluated[0].decision
