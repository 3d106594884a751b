"""Engine.decide_async (what `hitl serve` decides a few manifests with): the same decisions as Engine.decide, and
every fault fails closed exactly as decide does - the same EngineError line, no decision at all.

The faults come from tests/fault_proxy.py's proxy in front of a real OPA and its stub OPA
(FAULT INJECTION ONLY). A hitl serve whose private OPA dies answers 503 with exit code 5.
"""

import asyncio
import os
import signal

import pytest

from conftest import decided_async, make_manifest
from fault_proxy import FaultProxy, LoopbackServer, QuietHandler, StubOpa, truthful_get
from served_hitl import Service
from hitl_cli import Engine
from hitl_cli.errors import EngineError, UsageError
from hitl_cli.store import records

MANIFESTS = [
    make_manifest(id="write-prod", type="write", env="production"),
    make_manifest(id="read-dev", type="read", env="dev"),
    make_manifest(id="drop", type="drop_column", env="staging", statement="ALTER TABLE t DROP COLUMN c"),
]


def _failure(call) -> str:
    with pytest.raises(EngineError) as failed:
        call()
    return str(failed.value)


def test_the_same_decisions_as_decide_one_by_one_and_together(real_opa, tmp_path):
    url, _ = real_opa
    with Engine(opa_url=url, state=tmp_path / "state.db") as engine:
        one_by_one = [engine.decide(manifest).evaluated[0].decision for manifest in MANIFESTS]
        assert decided_async(engine, MANIFESTS) == one_by_one
        assert [decided_async(engine, [manifest])[0] for manifest in MANIFESTS] == one_by_one
    assert len({decision.tier for decision in one_by_one}) > 1


def test_an_invalid_manifest_is_a_problem_and_the_valid_ones_are_decided(real_opa, tmp_path):
    url, _ = real_opa

    async def deciding(engine):
        try:
            return await engine.decide_async([{"apiVersion": "hitl/v1"}, MANIFESTS[1]])
        finally:
            await engine.aclose()

    with Engine(opa_url=url, state=tmp_path / "state.db") as engine:
        result = asyncio.run(deciding(engine))
    assert [item.decision.id for item in result.evaluated] == ["read-dev"]
    assert "manifests[0]: kind: required field is missing" in [str(problem) for problem in result.problems]


@pytest.mark.parametrize("fault", ["kill", "stall", "garbage", "malformed"])
def test_a_fault_behind_the_proxy_fails_as_decide_fails(real_opa, tmp_path, monkeypatch, fault):
    url, pid = real_opa
    monkeypatch.setenv("HITL_OPA_TIMEOUT", "1")  # the documented setting: a stall is reported after a second
    with FaultProxy(url, pid, fault) as proxy, Engine(opa_url=proxy.url, state=tmp_path / "state.db") as engine:
        failures = [_failure(lambda: decided_async(engine, MANIFESTS[0])), _failure(lambda: engine.decide(MANIFESTS[0]))]
    if fault == "kill":  # the proxy has nothing to forward to after the first: the second fails otherwise
        failures.pop()
    assert len(set(failures)) == 1, failures
    assert {"kill": "is unreachable", "stall": "did not answer", "garbage": "unusable answer",
            "malformed": "malformed decision"}[fault] in failures[0]


READS = [make_manifest(id=f"read-{n}", type="read") for n in range(2)]


@pytest.mark.parametrize(
    ("fault", "needle"),
    [
        ("reordered", "policy returned decisions out of order"),
        ("error-status", "OPA failed evaluating data.hitl.main.decisions: eval_conflict_error (complete rules must not produce multiple outputs)"),
        ("cut-short", "is unreachable"),
    ],
)
def test_a_broken_answer_fails_as_decide_fails(tmp_path, fault, needle):
    with StubOpa(fault) as stub, Engine(opa_url=stub.url, state=tmp_path / "state.db") as engine:
        failures = [_failure(lambda: engine.decide(READS)), _failure(lambda: decided_async(engine, READS))]
    assert len(set(failures)) == 1 and needle in failures[0], failures


class UndefinedOpa(LoopbackServer):
    """FAULT INJECTION ONLY: answers every question truthfully but decisions, which it leaves undefined ({})."""

    def __init__(self):
        class Handler(QuietHandler):
            def do_GET(self):
                self._answer(200, truthful_get(self.path))

            def do_POST(self):
                self.rfile.read(int(self.headers["Content-Length"]))
                self._answer(200, b"{}")

        self._listen(Handler)


def test_an_undefined_decision_is_refused_and_explained_as_decide_does(tmp_path):
    with UndefinedOpa() as stub, Engine(opa_url=stub.url, state=tmp_path / "state.db") as engine:
        failures = {_failure(lambda: engine.decide(MANIFESTS[0])), _failure(lambda: decided_async(engine, MANIFESTS[0]))}
    assert failures == {"policy returned no decision (data.hitl.main.decision is undefined)"}


def test_hitl_serve_answers_503_when_its_opa_dies(opa_bin, tmp_path):
    service = Service(tmp_path / "serve")
    try:
        body = {"manifests": [MANIFESTS[0]]}
        assert service.call("POST", "/v1/decisions", json=body).status_code == 200
        private_opa = service.private_opa()
        assert private_opa, "hitl serve's OPA was not found"
        for pid in private_opa:
            os.kill(pid, signal.SIGKILL)
        answer = service.call("POST", "/v1/decisions", json=body)
        assert answer.status_code == 503, answer.text
        assert answer.json()["exit_code"] == 5 and "unreachable" in answer.json()["error"]
        assert "decisions" not in answer.json()
    finally:
        service.stop()


def test_a_served_decision_is_the_engines(opa_bin, real_opa, tmp_path):
    url, _ = real_opa
    service = Service(tmp_path / "serve")
    try:
        served = service.call("POST", "/v1/decisions", json={"manifests": MANIFESTS}).json()["decisions"]
    finally:
        service.stop()
    with Engine(opa_url=url, state=tmp_path / "state.db", track_record=service.record) as engine:
        assert served == [engine.decide(m).evaluated[0].decision.model_dump(mode="json") for m in MANIFESTS]


def test_a_second_event_loop_is_refused_as_a_usage_error_until_the_first_closes(real_opa, tmp_path):
    """The asyncio client belongs to the loop of the first call: another loop gets hitl's typed error (exit 2),
    never aiohttp's RuntimeError; decide() from a thread and decide_async after aclose() still work."""
    url, _ = real_opa
    with Engine(opa_url=url, state=tmp_path / "state.db") as engine:
        first = asyncio.new_event_loop()
        try:
            decided = first.run_until_complete(engine.decide_async(MANIFESTS[1])).evaluated[0].decision
            with pytest.raises(UsageError, match="event loop of its first call") as refused:
                asyncio.run(engine.decide_async(MANIFESTS[1]))
            assert refused.value.exit_code == 2
            assert engine.decide(MANIFESTS[1]).evaluated[0].decision == decided
            first.run_until_complete(engine.aclose())
        finally:
            first.close()
        assert decided_async(engine, [MANIFESTS[1]]) == [decided]


def test_a_store_that_moved_is_read_again_on_a_worker_thread_not_on_the_loop(real_opa, tmp_path, monkeypatch):
    """Reading the tables again passes over every request of the store (a quarter of a second at 10,000): on the
    loop it would hold every other call of a hitl serve. A decision while the store stands still takes the kept
    snapshot on the loop; one after a submission reads the tables on a worker thread."""
    url, _ = real_opa
    parsed_on: list[bool] = []  # for each read of the tables: was it on the thread running the event loop?
    original = records.ParsedRequests.all

    def recording(self, connection):
        parsed_on.append(_on_a_running_loop())
        return original(self, connection)

    monkeypatch.setattr(records.ParsedRequests, "all", recording)
    with Engine(opa_url=url, state=tmp_path / "state.db") as engine:
        engine.submit(make_manifest(id="spend", type="read", env="dev"))  # the store is made: nothing to read before
        assert len(decided_async(engine, MANIFESTS)) == len(MANIFESTS)  # the store moved: read again
        assert len(decided_async(engine, MANIFESTS)) == len(MANIFESTS)  # it stands still: the kept snapshot
        engine.submit(make_manifest(id="more", type="read", env="dev"))  # the snapshot is current: nothing read
        assert len(decided_async(engine, MANIFESTS)) == len(MANIFESTS)  # moved again: read again
    assert parsed_on == [False, False]


def _on_a_running_loop() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True
