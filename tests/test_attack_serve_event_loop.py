"""Red team on the event-loop path of `hitl serve` (POST /v1/decisions with at most ON_THE_LOOP manifests, decided by
Engine.decide_async: statements analysed by the analyst thread and awaited, OPA asked through the asyncio client),
as a hostile agent holding a valid token, or a caller of the Python API, would attack it: to get a decision other
than `Engine.decide`'s for the same manifest, to hold the loop, or to make a fault end in anything but 503 / exit
code 5 with no decision. Real `hitl serve` and real OPA unless a test says otherwise."""

import asyncio
import json
import os
import signal
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
import uvicorn

from conftest import decided_async, make_manifest, proc_stat
from fault_proxy import LoopbackServer, QuietHandler, StubOpa, decision_for, stand_in_decisions, truthful_get
from served_hitl import TOKEN, Asked, Service, answered_meanwhile, signed_verdict
from hitl_cli import Engine
from hitl_cli.engine.server import free_loopback_port
from hitl_cli.errors import EngineError
from hitl_cli.service.app import ON_THE_LOOP, create_app
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


def _long_statement(tail: str, size: int = 2_000) -> str:
    """A SELECT of about `size` characters (longer than what is remembered, 1,000: analysed afresh every time) and
    then `tail`."""
    columns = ", ".join(f"c{n}" for n in range(size // 5))
    return f"SELECT {columns} FROM t_{uuid.uuid4().hex}; {tail}"


MIXED = [
    make_manifest(id="m-read-dev", type="read", env="dev", statement="SELECT a FROM t"),
    make_manifest(id="m-write-prod", type="write", env="production", statement="UPDATE t SET a = 1 WHERE b = 2"),
    make_manifest(id="m-hidden-drop", type="read", env="production", statement=_long_statement("DROP TABLE customers")),
    make_manifest(id="m-long-read", type="read", env="dev", statement=_long_statement("SELECT 1")),
    make_manifest(id="m-no-statement", type="write", env="staging"),
    make_manifest(id="m-delete-all", type="write", env="dev", statement="DELETE FROM t"),
    make_manifest(id="m-costly", type="write", env="dev", cost=5000.0),
    make_manifest(id="m-pii", type="read", env="production", pii=True, exposes_pii=True),
    make_manifest(id="m-ninth", type="drop_column", env="staging", statement="ALTER TABLE t DROP COLUMN c"),
]
INVALID = {"apiVersion": "hitl/v1", "kind": "ActionManifest", "metadata": {"id": "bad"}}


@pytest.fixture(scope="module")
def served(opa_bin, tmp_path_factory):
    service = Service(tmp_path_factory.mktemp("serve-event-loop"))
    yield service
    service.stop()


def test_eight_manifests_on_the_loop_and_nine_on_a_thread_get_the_engines_decisions(served, real_opa, tmp_path):
    """Attack: find a body the event loop decides otherwise than Engine.decide (the CLI's path): 8 manifests (on the
    loop) and 9 (a worker thread), statements remembered, analysed afresh (longer than what is remembered) or hiding a
    DROP after a long SELECT, and the same 8 again once their short statements are remembered."""
    url, _ = real_opa
    with Engine(opa_url=url, state=tmp_path / "state.db", track_record=served.record) as engine:
        expected = [engine.decide(manifest).evaluated[0].decision.model_dump(mode="json") for manifest in MIXED]
    assert {decision["tier"] for decision in expected} != {"auto_approve"}
    for body in (MIXED[:8], MIXED, MIXED[:8], MIXED[:1], MIXED[2:3]):
        answer = served.call("POST", "/v1/decisions", json={"manifests": body})
        assert answer.status_code == 200, answer.text
        assert answer.json()["decisions"] == [expected[MIXED.index(manifest)] for manifest in body]


@pytest.mark.parametrize("size", [8, 9])
def test_one_invalid_manifest_among_eight_or_nine_refuses_the_body_as_the_engine_reports_it(served, real_opa, tmp_path, size):
    """Attack: hide an invalid manifest among valid ones, on either side of the event loop's limit, to get the
    valid ones' decisions. The body is refused whole (422, exit code 4, no decision), with Engine.decide's problems."""
    url, _ = real_opa
    body = [*MIXED[: size - 1]]
    body.insert(3, INVALID)
    with Engine(opa_url=url, state=tmp_path / "state.db", track_record=served.record) as engine:
        problems = [str(problem) for problem in engine.decide(body).problems]
    answer = served.call("POST", "/v1/decisions", json={"manifests": body})
    assert answer.status_code == 422, answer.text
    assert answer.json() == {"error": "invalid input", "exit_code": 4, "problems": problems}
    assert problems and all(problem.startswith("manifests[3]: ") for problem in problems), problems



def test_a_manifest_nested_too_deep_is_invalid_input_and_nothing_is_decided(served):
    """Attack: a manifest whose context (kept whole for reviewers) is nested 300 deep validated, but could not be
    encoded for OPA (pydantic's serialisation depth): alone on the event loop and among nine on a worker thread, hitl
    serve answered Starlette's bare 500, then an internal error. A manifest handed over in memory is now held to a
    file's nesting limit (HITL_MAX_NESTING_DEPTH): invalid input, 422 with exit code 4 and the problem, no decision;
    and the next body is decided."""
    deep: list = []
    for _ in range(300):
        deep = [deep]
    too_deep = {**make_manifest(id="too-deep"), "context": {"plan": "see below", "nested": deep}}
    for body, place in (([too_deep], 0), ([*MIXED[:8], too_deep], 8)):
        answer = served.call("POST", "/v1/decisions", json={"manifests": body})
        assert answer.status_code == 422, answer.text
        assert answer.json()["exit_code"] == 4 and "decisions" not in answer.json()
        assert answer.json()["problems"] == [f"manifests[{place}]: (document): nested deeper than 64 levels"]
    assert served.call("POST", "/v1/decisions", json={"manifests": MIXED[:1]}).status_code == 200


SLOW_DROP = _long_statement("DROP TABLE customers", size=200_000)  # about a second of the analyst's time, here


def test_a_statement_slow_to_analyse_holds_neither_the_loop_nor_a_remembered_decision(served, real_opa, tmp_path):
    """Attack: one manifest whose statement takes the analyst about a second (a long SELECT hiding a DROP), to hold
    the event loop and every other agent's decision meanwhile, or to be waved through. /health and a decision whose
    statement is remembered are answered while it is analysed; it is then decided as Engine.decide decides it, not
    auto-approved. (The loop is answered between the stretches in which sqlglot's compiled tokenizer and parser hold
    the interpreter lock, which grow with the statement: about a second per MB of it where this was written.)"""
    url, _ = real_opa
    slow = make_manifest(id="slow", type="read", env="production", statement=SLOW_DROP)
    quick = {"manifests": [make_manifest(id="quick", type="read", env="dev", statement="SELECT a FROM t")]}
    remembered = served.call("POST", "/v1/decisions", json=quick)  # its statement is remembered from now on
    assert remembered.status_code == 200, remembered.text
    asked = Asked(served, [slow])
    answered_meanwhile(served, asked, quick, remembered.json(), times=3)
    assert asked.done.wait(GUARD_SECONDS) and asked.error is None, asked.error
    assert asked.answer.status_code == 200, asked.answer.text
    with Engine(opa_url=url, state=tmp_path / "state.db", track_record=served.record) as engine:
        expected = engine.decide(slow).evaluated[0].decision.model_dump(mode="json")
    assert asked.answer.json()["decisions"] == [expected]
    assert expected["tier"] != "auto_approve", expected


@pytest.mark.parametrize("stops", [(signal.SIGTERM,), (signal.SIGTERM, signal.SIGINT)])
def test_stopped_with_a_decision_in_flight_gives_it_whole_or_not_at_all_and_stops_opa(opa_bin, tmp_path, stops):
    """Attack: stop the service (SIGTERM; or SIGTERM then Ctrl-C, uvicorn's forced quit) while a statement slow to
    analyse is decided on the loop, hoping for a half answer that claims a decision, or a private OPA left running. The request is answered whole (its decision, not auto-approved),
    or with no decision at all: its connection closed, or (after the forced quit, which cancels it) uvicorn's plain
    500; the server exits as a signal it had says (docs/cli.md: 143, 130) and its OPA with it."""
    service = Service(tmp_path / "stopped")
    opa = service.private_opa()
    try:
        assert opa, "hitl serve's OPA was not found"
        asked = Asked(service, [make_manifest(id="slow", type="read", env="production", statement=SLOW_DROP)])
        assert service.call("GET", "/health").status_code == 200
    finally:
        for stop in stops:
            service.process.send_signal(stop)
        _, stderr = service.process.communicate(timeout=GUARD_SECONDS)
    assert asked.done.wait(GUARD_SECONDS)
    assert service.process.returncode in {128 + stop for stop in stops}, stderr
    if asked.error is None and asked.answer.status_code == 200:
        [decision] = asked.answer.json()["decisions"]
        assert decision["id"] == "slow" and decision["tier"] != "auto_approve", decision
    elif asked.error is None:  # uvicorn's forced quit cancels the request: its plain "Internal Server Error", no decision
        assert asked.answer.status_code >= 500 and "decisions" not in asked.answer.text, asked.answer.text
    assert not [pid for pid in opa if os.path.exists(f"/proc/{pid}")], "the private OPA outlived hitl serve"


SHAPES = [("read", "dev"), ("write", "production"), ("drop_column", "staging"), ("write", "dev"), ("read", "production")]


def _shaped(tag: str, n: int) -> dict:
    kind, env = SHAPES[n % len(SHAPES)]
    return make_manifest(id=f"{tag}-{n}", type=kind, env=env)


def _alone(service: Service) -> list[dict]:
    """Each shape's decision asked alone, before any fault (its id left out)."""
    return [_without_id(service.call("POST", "/v1/decisions", json={"manifests": [_shaped("alone", n)]}).json()["decisions"][0])
            for n in range(len(SHAPES))]


def _without_id(decision: dict) -> dict:
    return {key: value for key, value in decision.items() if key != "id"}


def _own_decisions_or_503(body: list[dict], status: int, answer: dict, alone: list[dict]) -> bool:
    """The answer is the body's own decisions, each as its shape is decided alone; or 503, exit code 5, none at all.
    False for a 503; an assertion fails for anything else."""
    if status == 503:
        assert answer["exit_code"] == 5 and "decisions" not in answer, answer
        return False
    assert status == 200, answer
    assert [d["id"] for d in answer["decisions"]] == [m["metadata"]["id"] for m in body], answer
    for manifest, decision in zip(body, answer["decisions"]):
        assert _without_id(decision) == alone[int(manifest["metadata"]["id"].rsplit("-", 1)[1]) % len(SHAPES)], decision
    return True


def test_opa_killed_with_decisions_in_flight_answers_each_its_own_or_503(opa_bin, tmp_path):
    """Attack: kill the private OPA while eight agents ask on the loop at once (bodies of 1 to 8 manifests of distinct
    ids), hoping for an answer without OPA, or one paired with another request. Every answer is its own request's
    decisions or 503 with exit code 5 and none; once OPA is dead, every answer is 503; the server stays up."""
    service = Service(tmp_path / "kill")
    alone, answers, lock = _alone(service), [], threading.Lock()
    killed, stop = threading.Event(), threading.Event()

    def agent(tag: int):
        with requests.Session() as session:
            for n in range(10_000):
                if stop.is_set():
                    return
                body = [_shaped(f"a{tag}x{n}", tag + n + k) for k in range(1 + (tag + n) % ON_THE_LOOP)]
                after_kill = killed.is_set()
                reply = session.post(service.url + "/v1/decisions", json={"manifests": body},
                                     headers={"Authorization": f"Bearer {service.token}"}, timeout=GUARD_SECONDS)
                with lock:
                    answers.append((after_kill, body, reply.status_code, reply.json()))

    def count(after_kill: bool) -> int:
        with lock:
            return sum(1 for answer in answers if answer[0] == after_kill)

    try:
        agents = [threading.Thread(target=agent, args=(tag,), daemon=True) for tag in range(8)]
        for thread in agents:
            thread.start()
        _until(lambda: count(False) >= 40)
        opa = service.private_opa()
        assert opa, "hitl serve's OPA was not found"
        for pid in opa:
            os.kill(pid, signal.SIGKILL)
        _until(lambda: not [pid for pid in opa if _alive(pid)])
        killed.set()
        _until(lambda: count(True) >= 40)
        stop.set()
        for thread in agents:
            thread.join(GUARD_SECONDS)
        assert service.call("GET", "/health").status_code == 200
    finally:
        stop.set()
        service.stop()
    decided = [_own_decisions_or_503(body, status, answer, alone) for _, body, status, answer in answers]
    assert any(decided), "nothing was decided before the kill: the test proves nothing"
    assert not any(ok for (after_kill, *_), ok in zip(answers, decided) if after_kill), "decided without OPA"


def test_opa_stalled_fails_every_request_in_flight_and_the_service_recovers_with_each_its_own(opa_bin, tmp_path):
    """Attack: stop the private OPA (SIGSTOP) with HITL_OPA_TIMEOUT at 1 s while agents ask at once, on the loop and
    on a worker thread (9 manifests), then let it go on: the answers it then gives to the questions given up on
    must never reach a later request. Every stalled request is 503 (exit code 5, "did not answer"); afterwards each
    request gets its own decisions."""
    service = Service(tmp_path / "stall", env={"HITL_OPA_TIMEOUT": "1"})
    try:
        alone = _alone(service)
        opa = service.private_opa()
        assert opa, "hitl serve's OPA was not found"
        for pid in opa:
            os.kill(pid, signal.SIGSTOP)
        try:
            stalled = [Asked(service, [_shaped(f"s{tag}", tag + k) for k in range(1 + tag)]) for tag in range(9)]
            for asked in stalled:
                assert asked.done.wait(GUARD_SECONDS) and asked.error is None, asked.error
                assert not _own_decisions_or_503(asked.manifests, asked.answer.status_code, asked.answer.json(), alone)
                assert "did not answer" in asked.answer.json()["error"], asked.answer.text
        finally:
            for pid in opa:
                os.kill(pid, signal.SIGCONT)
        for round_ in range(3):
            later = [Asked(service, [_shaped(f"r{round_}t{tag}", tag + k + 1) for k in range(1 + tag)]) for tag in range(9)]
            for asked in later:
                assert asked.done.wait(GUARD_SECONDS) and asked.error is None, asked.error
                assert _own_decisions_or_503(asked.manifests, asked.answer.status_code, asked.answer.json(), alone), \
                    asked.answer.text
    finally:
        service.stop()


def _alive(pid: int) -> bool:
    fields = proc_stat(pid)
    return fields is not None and fields[0] != "Z"


def _until(condition) -> None:
    """Wait for the condition (a failure guard only: it holds long before)."""
    deadline = time.monotonic() + GUARD_SECONDS
    while not condition():
        assert time.monotonic() < deadline, "the condition never held"
        time.sleep(0.01)


class RecordingOpa(LoopbackServer):
    """FAULT INJECTION ONLY: an OPA stand-in (or a proxy a variable names) that records the Authorization header of
    every request, answers look-ups truthfully and decides each manifest as test_engine_faults' stub does."""

    def __init__(self):
        self.authorizations: list[str | None] = []
        recording = self

        class Handler(QuietHandler):
            def do_GET(self):
                recording.authorizations.append(self.headers.get("Authorization"))
                self._answer(200, truthful_get(self.path))

            def do_POST(self):
                recording.authorizations.append(self.headers.get("Authorization"))
                asked = json.loads(self.rfile.read(int(self.headers["Content-Length"])))["input"]
                self._answer(200, json.dumps(stand_in_decisions(asked, decision_for)).encode())

        self._listen(Handler)


def test_netrc_and_proxy_variables_reach_neither_opa_client(tmp_path, monkeypatch):
    """Attack: a hostile environment for the clients hitl asks OPA with (the asyncio one of hitl serve's event loop,
    the synchronous one of a worker thread): a ~/.netrc (or NETRC) naming the OPA's host would have aiohttp or
    requests send its password to OPA in an Authorization header, and HTTP_PROXY / ALL_PROXY (NO_PROXY empty) would
    send every question, with hitl's token, to another server. Neither client reads either."""
    netrc = tmp_path / "netrc"
    netrc.write_text("machine 127.0.0.1 login agent password stolen-secret\ndefault login agent password stolen-secret\n")
    netrc.chmod(0o600)
    (tmp_path / ".netrc").write_bytes(netrc.read_bytes())
    (tmp_path / ".netrc").chmod(0o600)
    with RecordingOpa() as opa, RecordingOpa() as proxy:
        monkeypatch.setenv("HOME", str(tmp_path))
        monkeypatch.setenv("NETRC", str(netrc))
        for variable in ("HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"):
            monkeypatch.setenv(variable, proxy.url)
        monkeypatch.setenv("NO_PROXY", "")
        monkeypatch.setenv("no_proxy", "")
        with Engine(opa_url=opa.url, state=tmp_path / "state.db") as engine:
            asked = [make_manifest(id="netrc", type="read", env="dev")]
            on_the_loop = decided_async(engine, asked)
            on_a_thread = [item.decision for item in engine.decide(asked).evaluated]
    assert on_the_loop == on_a_thread and [d.id for d in on_the_loop] == ["netrc"]
    assert proxy.authorizations == [], "a question went through the proxy a variable names"
    assert len(opa.authorizations) >= 3 and set(opa.authorizations) == {None}, opa.authorizations



def test_a_statement_whose_analysis_raises_is_503_with_exit_code_5_and_no_decision(real_opa, tmp_path, monkeypatch):
    """Attack: a statement whose analysis raises (sqlglot failing in a way analyse() does not catch), alone on the
    event loop or among nine on a worker thread: the service must answer as for any engine fault - 503, the documented
    body with exit code 5 (as the CLI exits on an internal error), no decision - not a bare "Internal Server Error"
    an agent cannot read; and go on deciding. hitl's app in uvicorn in this process: the analysis is made to fail
    here (FAULT INJECTION ONLY), which no real statement is known to do."""
    url, _ = real_opa
    failing = _fresh_statement()
    real_analyse = analysis.analyse

    def analyse(statement, dialect):
        if statement == failing:
            raise RuntimeError("the analysis failed")
        return real_analyse(statement, dialect)

    monkeypatch.setattr(analysis, "analyse", analyse)
    port = free_loopback_port()
    with Engine(opa_url=url, state=tmp_path / "state.db") as engine:
        server = uvicorn.Server(uvicorn.Config(create_app(engine, TOKEN), host="127.0.0.1", port=port, log_level="critical"))
        running = threading.Thread(target=server.run, daemon=True)
        running.start()
        try:
            _until(lambda: server.started)

            def ask(manifests):
                return requests.post(f"http://127.0.0.1:{port}/v1/decisions", json={"manifests": manifests},
                                     headers={"Authorization": f"Bearer {TOKEN}"}, timeout=GUARD_SECONDS)

            for body in ([make_manifest(id="fails", statement=failing)], [_shaped("nine", n) for n in range(8)]
                         + [make_manifest(id="fails", statement=failing)]):
                answer = ask(body)
                assert answer.status_code == 503, answer.text
                assert answer.json() == {"error": "internal error (RuntimeError): nothing was decided", "exit_code": 5,
                                         "problems": []}
            assert ask([_shaped("after", 0)]).status_code == 200
        finally:
            server.should_exit = True
            running.join(GUARD_SECONDS)


def test_the_stores_track_record_changed_by_a_rejection_is_seen_by_the_next_decision_on_the_loop(opa_bin, real_opa, tmp_path):
    """Attack: the record's JSON is made once per record read (TrackRecord.policy_input_json) and the read is kept
    while the store is unchanged: have the store's own track record change between two decisions on the event loop
    (a request submitted, then rejected with a signed verdict over HTTP) and look for the first record served again.
    Each decision is a fresh Engine's reading the store afresh, and the agent is no longer new after the rejection."""
    url, _ = real_opa
    service = Service(tmp_path / "record", record_file=False)
    asked = {"manifests": [make_manifest(id="asked", type="write", env="staging", agent="loop-agent")]}

    def served_and_fresh() -> tuple[dict, dict]:
        served = service.call("POST", "/v1/decisions", json=asked)
        assert served.status_code == 200, served.text
        with Engine(opa_url=url, state=service.state) as engine:
            fresh = engine.decide(asked["manifests"]).evaluated[0].decision.model_dump(mode="json")
        return served.json()["decisions"][0], fresh

    try:
        before, fresh = served_and_fresh()
        assert before == fresh and "new: not in the track record" in str(before["reasons"]), before
        waiting = make_manifest(id="rejected", type="write", env="production", agent="loop-agent")
        [item] = service.call("POST", "/v1/requests", json={"manifests": [waiting]}).json()["requests"]
        submitted, fresh = served_and_fresh()
        assert submitted == fresh
        verdict = signed_verdict(tmp_path, item["request"], "alice", verdict="reject", reason="not now")
        rejected = service.call("POST", f"/v1/requests/{item['request']['id']}/verdicts", json=verdict)
        assert rejected.status_code == 200 and rejected.json()["status"] == "rejected", rejected.text
        after, fresh = served_and_fresh()
        assert after == fresh
        assert after != before and "new: not in the track record" not in str(after["reasons"]), after
    finally:
        service.stop()


def test_a_body_split_into_batches_on_the_loop_gets_the_same_decisions(opa_bin, real_opa, tmp_path):
    """Attack: with HITL_OPA_BATCH_SIZE at 3, a body of 8 is asked of OPA in three batches on the event loop (9: on a
    worker thread), each batch awaited in turn while other requests interleave: look for a decision put in another
    manifest's place, or one of another request."""
    url, _ = real_opa
    service = Service(tmp_path / "batches", env={"HITL_OPA_BATCH_SIZE": "3"})
    try:
        with Engine(opa_url=url, state=tmp_path / "state.db", track_record=service.record) as engine:
            expected = [engine.decide(manifest).evaluated[0].decision.model_dump(mode="json") for manifest in MIXED]
        bodies = [MIXED[:8], MIXED, MIXED[3:8], MIXED[::-1][:8]] * 3
        asked = [Asked(service, body) for body in bodies]
        for body, answer in zip(bodies, asked):
            assert answer.done.wait(GUARD_SECONDS) and answer.error is None, answer.error
            assert answer.answer.status_code == 200, answer.answer.text
            assert answer.answer.json()["decisions"] == [expected[MIXED.index(manifest)] for manifest in body]
    finally:
        service.stop()


def test_a_later_batch_failing_on_the_loop_fails_the_whole_call_as_decide_does(tmp_path, monkeypatch):
    """Attack: OPA answers the first batches and fails a later one (test_engine_faults' stub, FAULT INJECTION ONLY):
    decide_async must not hand back the batches answered before (a partial result an agent could act on), but fail
    with decide's line."""
    monkeypatch.setenv("HITL_OPA_BATCH_SIZE", "2")
    reads = [make_manifest(id=f"read-{n}", type="read") for n in range(8)]
    with StubOpa("later-batch-fails") as stub, Engine(opa_url=stub.url, state=tmp_path / "state.db") as engine:
        with pytest.raises(EngineError) as on_the_loop:
            decided_async(engine, reads)
        assert stub.posts == 3  # two batches answered, the third failed, the fourth never asked
        with pytest.raises(EngineError) as on_a_thread:
            engine.decide(reads)
    assert str(on_the_loop.value) == str(on_a_thread.value) == "OPA failed evaluating data.hitl.main.decisions: overloaded"


def test_fresh_statements_analysed_for_requests_at_once_are_each_paired_with_their_own_manifest(served, real_opa, tmp_path):
    """Attack: forty requests at once, each of one to four read manifests whose statements no one analysed before
    (each awaits its analysis from the one analyst thread, in whatever order the loop resumes them), half of them a
    DELETE without WHERE declared as a read: an analysis paired with another request's manifest would auto-approve
    a DELETE. Every answer is Engine.decide's for its own manifests."""
    url, _ = real_opa

    def statement(n: int) -> str:
        table = f"t_{uuid.uuid4().hex}"
        return f"DELETE FROM {table}" if n % 2 else f"SELECT a FROM {table}"

    bodies = [[make_manifest(id=f"f{r}-{k}", type="read", env="dev", statement=statement(r + k)) for k in range(1 + r % 4)]
              for r in range(40)]
    with Engine(opa_url=url, state=tmp_path / "state.db", track_record=served.record) as engine:
        expected = [[engine.decide(m).evaluated[0].decision.model_dump(mode="json") for m in body] for body in bodies]
    tiers = {decision["tier"] for decisions in expected for decision in decisions}
    assert "auto_approve" in tiers and len(tiers) > 1, tiers
    with ThreadPoolExecutor(max_workers=16) as pool:
        answers = list(pool.map(lambda body: served.call("POST", "/v1/decisions", json={"manifests": body}), bodies))
    for answer, decisions in zip(answers, expected):
        assert answer.status_code == 200, answer.text
        assert answer.json()["decisions"] == decisions


def test_a_few_large_manifests_are_validated_on_a_worker_thread_not_on_the_loop(real_opa, tmp_path):
    """Attack: hold the event loop with a body of few manifests that are each large (validation costs more than the
    JSON parse): a body over ON_THE_LOOP_BYTES goes to a worker thread like a body of many manifests, and gets the
    same decisions. hitl's app in uvicorn in this process, its Engine's two calls counted (a spy, nothing changed)."""
    from hitl_cli.service.app import ON_THE_LOOP_BYTES

    url, _ = real_opa
    port = free_loopback_port()
    large = make_manifest(id="large", context={"why": "x" * ON_THE_LOOP_BYTES, "rollback": "none needed"})
    with Engine(opa_url=url, state=tmp_path / "state.db") as engine:
        called = []
        decide, decide_async = engine.decide, engine.decide_async
        engine.decide = lambda manifests: called.append("thread") or decide(manifests)
        engine.decide_async = lambda manifests: called.append("loop") or decide_async(manifests)
        server = uvicorn.Server(uvicorn.Config(create_app(engine, TOKEN), host="127.0.0.1", port=port, log_level="critical"))
        running = threading.Thread(target=server.run, daemon=True)
        running.start()
        try:
            _until(lambda: server.started)
            for body, path in (([_shaped("small", 0)], "loop"), ([large], "thread"),
                               ([_shaped("nine", n) for n in range(ON_THE_LOOP + 1)], "thread")):
                answer = requests.post(f"http://127.0.0.1:{port}/v1/decisions", json={"manifests": body},
                                       headers={"Authorization": f"Bearer {TOKEN}"}, timeout=GUARD_SECONDS)
                assert answer.status_code == 200, answer.text
                assert called.pop() == path and not called
                assert answer.json()["decisions"] == [decide(m).evaluated[0].decision.model_dump(mode="json") for m in body]
        finally:
            server.should_exit = True
            running.join(GUARD_SECONDS)
