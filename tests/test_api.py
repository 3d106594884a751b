"""The typed Python API (hitl_cli.Engine) against the real OPA and a real store, and the example agent
(examples/agent.py) acting only once another process has approved with the CLI."""

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import yaml

import hitl_cli
from conftest import ROOT, TRUSTED_RECORD, hitl, make_manifest
from workflow.support import Workspace, make_workspace
from hitl_cli import ActionManifest, Engine, EngineError, ExitCode, NotFound, UsageError
from hitl_cli.models import Decision

READ = make_manifest(id="read-orders", type="read", env="dev")
WRITE = make_manifest(id="write-orders", type="write", env="production")
DROP = make_manifest(id="drop-customers", type="drop", env="production", statement="DROP TABLE analytics.customers",
                     pii=True, exposes_pii=True)


@pytest.fixture
def people(tmp_path, monkeypatch) -> Workspace:
    """The shipped profiles and policies with people who sign their verdicts (tests/workflow/support.py), for the
    Engine in this process, the example agent's process and the CLI's verdicts alike."""
    workspace = make_workspace(tmp_path / "people")
    for name, value in workspace.env.items():
        if name != "HITL_STATE":
            monkeypatch.setenv(name, value)
    return workspace


def _verdict(people: Workspace, verb: str, request_id: str, person: str, state: Path, *extra: str) -> int:
    """A signed verdict, given with the CLI (`--key` of the person, tests/workflow/support.py)."""
    return people.hitl(verb, request_id, "--by", person, "--state", state, *extra).returncode


def _opa_children() -> list[str]:
    found = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            status = Path(f"/proc/{pid}/status").read_text()
            command = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            continue
        if f"PPid:\t{os.getpid()}\n" in status and b"opa" in command.split(b"\0")[0]:
            found.append(pid)
    return found


def test_decisions_from_mappings_models_and_files_are_the_clis(opa_bin, tmp_path, record):
    plan = tmp_path / "plan.yaml"
    plan.write_text(yaml.safe_dump_all([READ, WRITE, DROP]))
    cli = hitl("evaluate", plan, "--profile", "default", "--track-record", record, "--format", "json")
    expected = {item["id"]: item["tier"] for item in json.loads(cli.stdout)}
    before = set(_opa_children())  # the session's own OPA, when other tests started it
    with Engine(["default"], state=tmp_path / "state.db", track_record=record) as engine:
        started = set(_opa_children()) - before
        from_dicts = engine.decide([READ, WRITE, DROP])
        from_models = engine.decide([ActionManifest.model_validate(m) for m in (READ, WRITE, DROP)])
        from_file = engine.decide(plan)
        from_name = engine.decide(str(plan))
        assert set(_opa_children()) - before == started and len(started) == 1  # one OPA, started once, reused
    assert set(_opa_children()) == before  # and stopped with the block
    for result in (from_dicts, from_models, from_file, from_name):
        assert {item.decision.id: item.decision.tier for item in result.evaluated} == expected
        assert result.problems == []
    assert expected["drop-customers"] == "block"


def test_decisions_share_their_set_fields_and_still_behave_as_models(opa_bin, tmp_path, record):
    """The engine gives every decision one set of set fields (hitl_cli.engine.client): right only while every
    field of a decision is required, and only if a copy or an update of one decision leaves the others alone."""
    assert all(field.is_required() for field in Decision.model_fields.values())
    with Engine(["default"], state=tmp_path / "state.db", track_record=record) as engine:
        first, second = (item.decision for item in engine.decide([READ, WRITE]).evaluated)
    assert first.model_fields_set == second.model_fields_set == set(Decision.model_fields)
    lowered = first.model_copy(update={"tier": "block"})
    lowered.reasons = []
    assert (first.tier, second.tier, lowered.tier) == ("auto_approve", "double_approval", "block")
    assert first.reasons and first.model_fields_set == set(Decision.model_fields)
    assert Decision.model_validate_json(first.model_dump_json(exclude_unset=True)) == first


def test_a_records_policy_input_is_made_once():
    from hitl_cli.models import AgentRecord, TrackRecord

    record = TrackRecord.with_invalid_entries({"agent-1": AgentRecord.model_validate(next(iter(TRUSTED_RECORD["agents"].values())))},
                                              {"agent-2"})
    first = record.policy_input()
    assert first == {"agents": {"agent-1": next(iter(TRUSTED_RECORD["agents"].values()))}, "invalid_agents": ["agent-2"]}
    assert record.policy_input() is first  # the same dict, not made again


def test_invalid_manifests_are_problems_and_the_valid_rest_is_decided(opa_bin, tmp_path):
    hostile = {**READ, "metadata": {"id": "bad"}, "action": {**READ["action"], "confidence": "very high"}}
    with Engine(state=tmp_path / "state.db") as engine:
        result = engine.decide([hostile, WRITE, {"not": "a manifest"}, WRITE])
    assert [item.decision.id for item in result.evaluated] == ["write-orders"]
    lines = [str(problem) for problem in result.problems]
    assert lines[0].startswith("manifests[0]: action.confidence:")
    assert "manifests[2]: (document): not an action manifest (no apiVersion or kind)" in lines
    assert "manifests[3]: metadata.id: duplicate id 'write-orders' (first in manifests[1])" in lines


def test_errors_are_typed_and_carry_the_clis_exit_codes(opa_bin, tmp_path):
    with pytest.raises(UsageError) as outside:
        Engine().decide(READ)
    assert outside.value.exit_code == ExitCode.USAGE
    with Engine(["default"], state=tmp_path / "state.db") as engine:
        with pytest.raises(UsageError, match="profile 'bank' was not loaded"):
            engine.decide(READ, profile="bank")
        with pytest.raises(NotFound) as missing:
            engine.status("no-such-request")
        assert missing.value.exit_code == ExitCode.NOT_FOUND == 7
    from hitl_cli.engine.server import free_loopback_port

    with pytest.raises(EngineError, match="unreachable") as unreachable:
        Engine(opa_url=f"http://127.0.0.1:{free_loopback_port()}").__enter__()
    assert unreachable.value.exit_code == ExitCode.ENGINE_FAILURE == 5
    with pytest.raises(UsageError, match="plain http"):
        Engine(opa_url="http://10.0.0.1:8181", token="secret")
    assert set(hitl_cli.__all__) >= {"Engine", "EngineError", "NotFound", "RunResult", "RequestView"}


def test_submit_status_and_wait_through_the_store_the_cli_reads(opa_bin, tmp_path, record, people):
    state = tmp_path / "state.db"
    with Engine(state=state, track_record=record) as engine:
        submitted = engine.submit([READ, WRITE])
        views = {item.view.manifest_id: item.view for item in submitted.submitted}
        assert (views["read-orders"].status, views["write-orders"].status) == ("approved", "pending")
        assert [view.id for view in engine.queue()] == ["write-orders"]
        started = time.monotonic()
        assert engine.wait("write-orders", timeout=0.3).status == "pending"  # timed out, still waiting
        assert time.monotonic() - started >= 0.3
        assert engine.wait("read-orders", timeout=60).may_run  # already decided: returns at once
        for person in ("alice", "bob"):
            assert _verdict(people, "approve", "write-orders", person, state) == 0
        assert engine.status("write-orders").status == "approved"
    cli = json.loads(hitl("status", "write-orders", "--state", state, "--format", "json").stdout)
    assert cli["status"] == "approved" and cli["id"] == "write-orders"


def _agent(tmp_path: Path, manifest: dict, record: Path) -> subprocess.Popen:
    path = tmp_path / f"{manifest['metadata']['id']}.yaml"
    path.write_text(yaml.safe_dump(manifest))
    return subprocess.Popen(
        [sys.executable, str(ROOT / "examples" / "agent.py"), str(path), "--state", str(tmp_path / "state.db"),
         "--track-record", str(record), "--timeout", "120"],
        cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )


def _wait_for_request(state: Path, request_id: str) -> None:
    deadline = time.monotonic() + 60
    while hitl("status", request_id, "--state", state).returncode == 7:
        assert time.monotonic() < deadline, f"the agent never submitted {request_id}"
        time.sleep(0.2)


@pytest.mark.attack
def test_the_example_agent_acts_only_once_people_approve(opa_bin, tmp_path, record, people):
    agent = _agent(tmp_path, WRITE, record)
    _wait_for_request(tmp_path / "state.db", "write-orders")
    assert agent.poll() is None  # waiting, not acting
    assert _verdict(people, "approve", "write-orders", "alice", tmp_path / "state.db") == 0
    time.sleep(0.5)
    assert agent.poll() is None  # one approval of two: still waiting
    assert _verdict(people, "approve", "write-orders", "bob", tmp_path / "state.db") == 0
    out, err = agent.communicate(timeout=60)
    assert agent.returncode == 0, err
    assert out.splitlines() == [
        "agent: write-orders needs double_approval",
        "agent: submitted request write-orders, waiting for people",
        "agent: request write-orders is approved",
        "agent: running write-orders",
    ]


@pytest.mark.attack
def test_the_example_agent_does_not_act_when_rejected_or_blocked(opa_bin, tmp_path, record, people):
    agent = _agent(tmp_path, WRITE, record)
    _wait_for_request(tmp_path / "state.db", "write-orders")
    assert _verdict(people, "reject", "write-orders", "alice", tmp_path / "state.db", "--reason", "no") == 0
    out, err = agent.communicate(timeout=60)
    assert agent.returncode == 3, err
    assert "running" not in out and out.splitlines()[-1] == "agent: request write-orders is rejected"
    blocked = _agent(tmp_path, DROP, record)
    _wait_for_request(tmp_path / "state.db", "drop-customers")
    blocked.terminate()  # a block waits for an override nobody gives: the agent never acts
    out, _ = blocked.communicate(timeout=60)
    assert "running" not in out and "drop-customers needs block" in out


def test_the_example_agent_runs_an_action_that_needs_nobody_at_once(opa_bin, tmp_path, record):
    agent = _agent(tmp_path, READ, record)
    out, err = agent.communicate(timeout=120)
    assert agent.returncode == 0, err
    assert out.splitlines() == ["agent: read-orders needs auto_approve", "agent: running read-orders"]


@pytest.mark.attack
def test_a_waiver_expires_for_an_engine_kept_open_across_its_expiry(opa_bin, tmp_path, record, monkeypatch):
    from datetime import datetime

    from hitl_cli import clock
    from waiver_fixtures import AFTER_EXPIRY, NOW, WAIVER, profile_with

    waived = profile_with(tmp_path, [WAIVER])
    manifest = make_manifest(type="write", env="production")
    monkeypatch.setattr(clock, "now", lambda: datetime.fromisoformat(NOW))
    with Engine([waived], state=tmp_path / "state.db", track_record=record) as engine:
        assert engine.decide(manifest).evaluated[0].decision.tier == "single_approval"  # the waiver in force
        monkeypatch.setattr(clock, "now", lambda: datetime.fromisoformat(AFTER_EXPIRY))
        assert engine.decide(manifest).evaluated[0].decision.tier == "double_approval"  # expired: no longer lowers


@pytest.mark.attack
def test_an_engine_kept_open_decides_with_what_was_recorded_since_its_last_decision(opa_bin, tmp_path, monkeypatch):
    """The Engine reuses what it read from the store only while the store's audit head and the day stand still:
    spend another process records between two decisions counts against the second one (a stale history would
    auto-approve it over the daily budget), and yesterday's spend stops counting when the day turns."""
    from datetime import datetime

    from hitl_cli import clock
    from workflow.support import at, copy_profile, manifest

    ws = make_workspace(tmp_path / "ws")
    for name, value in ws.env.items():
        monkeypatch.setenv(name, value)
    budget = copy_profile(ws, "default", "budget", {"daily_budget.per_agent_usd": 100, "daily_budget.organisation_usd": 150})
    assert ws.submit([manifest("b-0", type="write", env="dev", cost=1)], profile=budget, now=at(0))["b-0"]["status"] == "approved"
    asked = manifest("b-2", type="write", env="dev", cost=50)

    def tier() -> tuple[str, set[str]]:
        decision = engine.decide(asked).evaluated[0].decision
        return decision.tier, {reason.code for reason in decision.reasons}

    monkeypatch.setattr(clock, "now", lambda: datetime.fromisoformat(at(5)))
    with Engine([budget], state=ws.state, track_record=ws.trusted_record) as engine:
        assert tier()[0] == "auto_approve" and tier()[0] == "auto_approve"  # 1 + 50 USD today, the second from what was kept
        ws.submit([manifest("b-1", type="write", env="dev", cost=60)], name="spent.yaml", profile=budget, now=at(1))
        blocked, codes = tier()  # 1 + 60 + 50 USD: over the agent's 100
        assert blocked == "block" and "daily_agent_budget" in codes
        monkeypatch.setattr(clock, "now", lambda: datetime.fromisoformat(at(24)))
        assert tier()[0] == "auto_approve"  # the next day: nothing spent yet, with the store unchanged


def test_decisions_asked_from_many_threads_at_once_are_the_ones_asked_one_by_one(opa_bin, tmp_path, record):
    """No lock around OPA: each thread's call goes through its own connection and carries its own input, so calls
    at once neither mix their answers up nor differ from the same calls one at a time."""
    from concurrent.futures import ThreadPoolExecutor

    manifests = [READ, WRITE, DROP, make_manifest(id="costly", type="write", env="staging", cost=500)] * 6
    with Engine(["default"], state=tmp_path / "state.db", track_record=record) as engine:
        one_by_one = [engine.decide(m).evaluated[0].decision for m in manifests]
        with ThreadPoolExecutor(max_workers=8) as pool:
            at_once = list(pool.map(lambda m: engine.decide(m).evaluated[0].decision, manifests))
    assert at_once == one_by_one
    assert {d.id: d.tier for d in at_once} == {d.id: d.tier for d in one_by_one} and len({d.tier for d in at_once}) > 1


def test_a_wait_reads_the_view_again_when_the_store_moves_or_a_while_passed(opa_bin, tmp_path, record, people,
                                                                             monkeypatch):
    """A request's view costs reading its profile and hashing the policy files (50 ms), and a wait looks every
    0.2 s: it reads the view again only when the audit head moved (a verdict) or RECHECK_SECONDS passed. A profile
    edit moves no audit record, and the wait still sees the request go stale."""
    state = tmp_path / "state.db"
    with Engine(state=state, track_record=record) as engine:
        engine.submit([WRITE])
        read: list[str] = []
        status = engine.status
        monkeypatch.setattr(engine, "status", lambda request_id: read.append(request_id) or status(request_id))
        assert engine.wait("write-orders", timeout=1.0).status == "pending"
        assert len(read) == 2  # the first look, and the request as it stands when the time is up
        profile = people.profiles / "default.yaml"
        edited = threading.Timer(0.5, lambda: profile.write_text(
            profile.read_text().replace("per_agent_usd: 1000", "per_agent_usd: 999")))
        edited.start()
        waited = engine.wait("write-orders", timeout=60)
        edited.join()
    assert "per_agent_usd: 999" in profile.read_text()
    assert (waited.status, waited.stale_reason) == ("stale", "the policies or the profile changed after it was decided")
