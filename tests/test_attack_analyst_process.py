"""Red team on `hitl serve`'s analyst process (hitl_cli.statements.analyst_process), as a hostile agent holding a
valid token would attack it: a statement that takes sqlglot seconds (it held the server's interpreter lock, and with
it every other agent's answer and /health, about a second per MB), a statement that takes longer than
--statement-timeout, or the analyst killed while it works, hoping for a frozen gate, a decision made without the
statement's analysis, or an analyst left behind. Real `hitl serve` and real OPA."""

import os
import signal
import time
import uuid

import pytest

from conftest import cpu_seconds, default_sigint, make_manifest, proc_stat
from served_hitl import Asked, Service, answered_meanwhile
from hitl_cli import Engine

pytestmark = pytest.mark.attack  # each test tries a way past the gate (make bench counts them)

GUARD_SECONDS = 120  # failure guard only: a working server answers long before


def _long_select(size: int, tail: str = "DROP TABLE customers") -> str:
    """A SELECT of about `size` characters no analysis has seen, then `tail`."""
    columns = ", ".join(f"c{n}" for n in range(size // 7))
    return f"SELECT {columns} FROM t_{uuid.uuid4().hex}; {tail}"


def _fresh(id: str) -> dict:
    return make_manifest(id=id, type="write", env="production", statement=f"UPDATE t_{uuid.uuid4().hex} SET a = 1")


def _asked_of_an_idle_analyst(service: Service, manifest: dict) -> tuple[Asked, int]:
    """The manifest asked once the analyst has loaded its parser and waits (its CPU time stands still), and the
    analyst's pid once it works on the manifest's statement (its CPU time grows), before it is done."""
    deadline = time.monotonic() + GUARD_SECONDS
    while not (idle := [pid for pid in service.analysts() if not _working(pid)]):
        assert time.monotonic() < deadline, "hitl serve has no analyst waiting for statements"
    asked = Asked(service, [manifest])
    while not _working(idle[0]):
        assert time.monotonic() < deadline and not asked.done.is_set(), (
            f"the analyst never worked on the statement: {asked.answer is not None and asked.answer.text}")
    return asked, idle[0]


def _working(pid: int) -> bool:
    before = cpu_seconds(pid)
    time.sleep(0.2)
    return cpu_seconds(pid) > before


def _decided_as_the_engine_decides(service: Service, real_opa, tmp_path, manifest: dict, answer) -> None:
    url, _ = real_opa
    with Engine(opa_url=url, state=tmp_path / "engine.db", track_record=service.record) as engine:
        expected = engine.decide(manifest).evaluated[0].decision.model_dump(mode="json")
    assert answer.status_code == 200, answer.text
    assert answer.json()["decisions"] == [expected]


def _failed_closed(answer, why: str) -> None:
    assert answer.status_code == 503, answer.text
    assert answer.json() == {"error": why, "exit_code": 5, "problems": []}


@pytest.fixture
def served(opa_bin, tmp_path):
    service = Service(tmp_path / "served", "--statement-timeout", str(GUARD_SECONDS))
    yield service
    service.stop()


def test_a_two_megabyte_statement_holds_neither_health_nor_other_decisions(served, real_opa, tmp_path):
    """Attack: a 2 MB statement (a long SELECT hiding a DROP) to freeze the gate for every agent while sqlglot reads it.
    It is read in the analyst process: /health and a decision whose statement is remembered are answered while it is
    analysed there; it is then decided as Engine.decide decides it."""
    quick = {"manifests": [make_manifest(id="quick", type="read", env="dev", statement="SELECT a FROM t")]}
    remembered_answer = served.call("POST", "/v1/decisions", json=quick)
    assert remembered_answer.status_code == 200, remembered_answer.text
    big = make_manifest(id="big", type="read", env="production", statement=_long_select(2_000_000))
    asked, _ = _asked_of_an_idle_analyst(served, big)
    answered_meanwhile(served, asked, quick, remembered_answer.json(), times=5)
    assert asked.done.wait(GUARD_SECONDS) and asked.error is None, asked.error
    _decided_as_the_engine_decides(served, real_opa, tmp_path, big, asked.answer)
    assert asked.answer.json()["decisions"][0]["tier"] != "auto_approve"


def test_a_statement_past_the_timeout_fails_closed_and_the_next_is_decided_by_a_new_analyst(opa_bin, real_opa, tmp_path):
    """Attack: a statement that takes longer than --statement-timeout, to hold the analyst (and every statement behind
    it) for as long as it likes. Its request fails closed (503, exit code 5, one line naming statement analysis, no
    decision); the analyst is killed; a request whose new statement was waiting behind it, and the next one, are
    decided by a new analyst."""
    service = Service(tmp_path / "timeout", "--statement-timeout", "1")
    try:
        slow, first = _asked_of_an_idle_analyst(
            service, make_manifest(id="slow", type="read", env="production", statement=_long_select(2_000_000)))
        behind_manifest = _fresh("behind")
        behind = Asked(service, [behind_manifest])
        assert slow.done.wait(GUARD_SECONDS) and slow.error is None, slow.error
        _failed_closed(slow.answer, "statement analysis took longer than 1s")
        assert behind.done.wait(GUARD_SECONDS) and behind.error is None, behind.error
        _decided_as_the_engine_decides(service, real_opa, tmp_path, behind_manifest, behind.answer)
        after = _fresh("after")
        _decided_as_the_engine_decides(service, real_opa, tmp_path, after,
                                       service.call("POST", "/v1/decisions", json={"manifests": [after]}))
        assert proc_stat(first) is None, "the analyst that took too long still runs"
        assert len(service.analysts()) == 1
    finally:
        service.stop()


def test_the_analyst_killed_while_a_request_waits_fails_it_closed_and_the_next_is_decided(served, real_opa, tmp_path):
    """Attack: kill -9 the analyst while it analyses a statement, hoping the request is decided without its facts.
    It fails closed (503, exit code 5, one line); the next request is decided by a new analyst."""
    asked, analyst = _asked_of_an_idle_analyst(
        served, make_manifest(id="big", type="read", env="production", statement=_long_select(1_000_000)))
    os.kill(analyst, signal.SIGKILL)
    assert asked.done.wait(GUARD_SECONDS) and asked.error is None, asked.error
    _failed_closed(asked.answer, "statement analysis stopped: its process exited")
    after = _fresh("after")
    _decided_as_the_engine_decides(served, real_opa, tmp_path, after,
                                   served.call("POST", "/v1/decisions", json={"manifests": [after]}))


def test_ctrl_c_leaves_the_analyst_to_finish_what_hitl_serve_still_answers(opa_bin, real_opa, tmp_path):
    """Attack: Ctrl-C (SIGINT to hitl serve's whole process group) while the analyst works on a statement, hoping the
    analyst dies with it and the request is decided without the statement's facts. The analyst ignores it, as the
    forked one does: hitl serve finishes the request in flight (its decision, as Engine.decide's), exits 130 and
    takes the analyst with it."""
    service = Service(tmp_path / "ctrl-c", "--statement-timeout", str(GUARD_SECONDS), start_new_session=True,
                      preexec_fn=default_sigint)
    big = make_manifest(id="big", type="read", env="production", statement=_long_select(1_000_000))
    asked, analyst = _asked_of_an_idle_analyst(service, big)
    os.killpg(service.process.pid, signal.SIGINT)
    _, stderr = service.process.communicate(timeout=GUARD_SECONDS)
    assert service.process.returncode == 130, stderr
    assert asked.done.wait(GUARD_SECONDS) and asked.error is None, asked.error
    _decided_as_the_engine_decides(service, real_opa, tmp_path, big, asked.answer)
    assert _gone_soon([analyst]) == [], "the analyst outlived hitl serve"


def _gone_soon(pids: list[int]) -> list[int]:
    deadline = time.monotonic() + 5
    while [pid for pid in pids if proc_stat(pid) is not None] and time.monotonic() < deadline:
        time.sleep(0.05)
    return [pid for pid in pids if proc_stat(pid) is not None]


@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGKILL])
def test_no_analyst_outlives_hitl_serve(opa_bin, tmp_path, stop):
    """Attack: stop hitl serve (SIGTERM; or kill it outright) while its analyst works on a statement, hoping for an
    analyst left running. None remains."""
    service = Service(tmp_path / "stopped", "--statement-timeout", str(GUARD_SECONDS))
    _, analyst = _asked_of_an_idle_analyst(
        service, make_manifest(id="big", type="read", env="production", statement=_long_select(1_000_000)))
    service.process.send_signal(stop)
    service.process.communicate(timeout=GUARD_SECONDS)
    assert _gone_soon([analyst]) == [], "an analyst outlived hitl serve"
