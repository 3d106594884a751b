"""Attacks on a PostgreSQL store's own calibration (the `calibration` table, store schema 4): hostile rows written
by the store's writer role, a store an older hitl left, and a working directory or environment that offers a
calibration file of its own. Real CLI, real OPA, real PostgreSQL."""

import json
import os
import subprocess
import sys

import psycopg
import pytest

from hitl_cli.calibration import storage as calibration_storage
from hitl_cli.errors import StoreError
from workflow.support import make_workspace, manifest

pytestmark = pytest.mark.attack

# under-agent states 0.65, under the shipped 0.80 threshold, in the 0.6-0.7 bin where it was right 99 times in 100:
# calibrated, its confidence counts as 0.99 and the low_confidence reason goes.
UNDER_AGENT_OUTCOMES = [
    {"agent": "under-agent", "action_type": "write", "confidence": 0.65, "correct": index % 100 != 0}
    for index in range(2000)
]


def _under_plan(ws):
    item = manifest("under-1", type="write", env="dev", agent="under-agent")
    item["action"]["confidence"] = 0.65
    return ws.write("under.yaml", [item])


def _calibrated(ws, tmp_path, target=None):
    outcomes = tmp_path / "outcomes.jsonl"
    outcomes.write_text("".join(json.dumps(outcome) + "\n" for outcome in UNDER_AGENT_OUTCOMES))
    made = ws.hitl("calibrate", "--profile", "default", "--outcomes", outcomes,
                   *(["--calibration", target] if target is not None else []))
    assert made.returncode == 0, made.stderr
    return outcomes


def _as_writer(ws):
    """The store's login role hitl (group hitl_writer), not the tables' owner: what hitl itself runs as."""
    database = psycopg.conninfo.conninfo_to_dict(ws.state)["dbname"]
    return psycopg.connect(ws.postgres.url(database, "hitl"), autocommit=True)


@pytest.fixture
def ws(tmp_path, postgres):
    workspace = make_workspace(tmp_path, postgres)
    try:
        yield workspace
    finally:
        workspace.close()


HOSTILE_ROWS = {
    "not JSON": "{not json",
    "another format": json.dumps({"format": "hitl/calibration-v0", "agents": {}}),
    "agents not an object": json.dumps({"format": "hitl/calibration-v1", "agents": []}),
    "a JSON array": "[]",
    "nested past any limit": "[" * 100_000 + "]" * 100_000,
    "NaN": '{"format": "hitl/calibration-v1", "agents": {"under-agent": NaN}}',
    "a duplicate key": '{"format": "hitl/calibration-v1", "agents": {}, "agents": {"under-agent": {}}}',
    "a lone surrogate": '{"format": "hitl/calibration-v1", "agents": {"\\ud800": {}}}',
    "huge": json.dumps({"format": "hitl/calibration-v1", "agents": {f"agent-{index}": {} for index in range(260_000)}}),
    "an array of one": json.dumps([{"format": "hitl/calibration-v1", "agents": {}}]),
}


def _write_row(ws, row: str) -> None:
    with _as_writer(ws) as writer:
        writer.execute("INSERT INTO calibration (id, data, written_at) VALUES (1, %s, 'now')", (row,))


@pytest.mark.parametrize("row", HOSTILE_ROWS.values(), ids=HOSTILE_ROWS.keys())
def test_a_hostile_calibration_row_is_refused_naming_the_calibration(ws, row):
    """Every command reads the row through the same loader (the policy data and the policy revision alike)."""
    ws.submit([manifest("s-1", type="write", env="staging")])
    _write_row(ws, row)
    with pytest.raises(StoreError, match="calibration data") as refused:
        calibration_storage.load(calibration_storage.beside(ws.store))
    assert len(str(refused.value).splitlines()) == 1


@pytest.mark.parametrize("row", [HOSTILE_ROWS["not JSON"], HOSTILE_ROWS["nested past any limit"]],
                         ids=["not JSON", "nested past any limit"])
def test_a_hostile_calibration_row_stops_every_deciding_command_with_one_line(ws, row):
    plan = _under_plan(ws)
    ws.submit([manifest("s-1", type="write", env="staging")])
    _write_row(ws, row)
    for command in (("evaluate", plan, "--profile", "default"), ("check", plan, "--profile", "default"),
                    ("submit", plan, "--profile", "default")):
        result = ws.hitl(*command)
        assert result.returncode == 5, (command, result.returncode, result.stdout, result.stderr)
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and "calibration" in lines[0] and "internal error" not in lines[0], (command, result.stderr)
    shown = ws.hitl("status", "s-1")  # the revision cannot be computed: stale, saying why
    assert shown.returncode == 3 and "stale" in shown.stdout and "calibration" in shown.stdout, shown
    approved = ws.hitl("approve", "s-1", "--by", "alice")
    assert approved.returncode not in (0, 1), approved
    assert "Traceback" not in approved.stderr and len(approved.stderr.strip().splitlines()) == 1, approved.stderr
    with ws.connect() as connection:
        assert connection.execute("SELECT count(*) FROM requests").fetchall() == [(1,)]
        assert connection.execute("SELECT count(*) FROM verdicts").fetchall() == [(0,)]


def _low_confidence(reasons: list[dict]) -> list[dict]:
    return [reason for reason in reasons if reason["code"] == "low_confidence"]


def test_a_calibration_file_in_the_working_directory_changes_no_command_on_a_postgresql_store(ws, tmp_path):
    """.hitl/calibration.json and a calibration.json in the working directory, each calibrated to lift the agent
    over the threshold: check, evaluate, submit and diff still decide with the store's (none)."""
    for planted in (ws.root / ".hitl" / "calibration.json", ws.root / "calibration.json"):
        _calibrated(ws, tmp_path, target=planted)
    plan = _under_plan(ws)
    assert ws.hitl("submit", ws.write("first.yaml", [manifest("s-1")]), "--profile", "default").returncode in (0, 1, 3)
    [evaluated] = ws.json("evaluate", plan, "--profile", "default")
    assert len(_low_confidence(evaluated["reasons"])) == 1
    checked = ws.hitl("check", plan, "--profile", "default", "--format", "json")
    assert checked.returncode != 0 and "low_confidence" in checked.stdout, checked
    submitted = ws.json("submit", plan, "--profile", "default", expect=(0, 1, 3))
    assert len(_low_confidence(submitted[0]["decision"]["reasons"])) == 1
    with ws.connect() as connection:
        assert connection.execute("SELECT count(*) FROM calibration").fetchall() == [(0,)]


def test_a_store_an_older_hitl_left_is_refused_by_reads_and_upgraded_by_a_write_losing_nothing(ws, tmp_path):
    """Schema 3, before the calibration table: evaluate, check and status refuse as for any older store (exit 5,
    one line); submit, approve and calibrate upgrade it and keep every request."""
    ws.submit([manifest("s-1"), manifest("s-2")])
    with ws.connect() as connection:
        connection.execute("DROP TABLE calibration")
    ws.set_schema_version(3)
    plan = _under_plan(ws)
    for command in (("evaluate", plan, "--profile", "default"), ("check", plan, "--profile", "default"),
                    ("status", "s-1")):
        refused = ws.hitl(*command)
        assert refused.returncode == 5, (command, refused)
        assert len(refused.stderr.strip().splitlines()) == 1 and "older than this hitl's" in refused.stderr, refused
    approved = ws.hitl("approve", "s-1", "--by", "alice")
    assert approved.returncode == 0, approved.stderr
    assert ws.status("s-1")["status"] == "approved" and ws.status("s-2")["status"] == "pending"
    with ws.connect() as connection:
        assert connection.execute("SELECT version FROM hitl_schema").fetchall() == [(4,)]
        connection.execute("DROP TABLE calibration")
    ws.set_schema_version(3)
    _calibrated(ws, tmp_path)  # the first thing to write is calibrate itself
    assert ws.status("s-1")["status"] == "stale" and ws.status("s-2")["status"] == "stale"
    assert _low_confidence(ws.json("evaluate", plan, "--profile", "default")[0]["reasons"]) == []


def test_the_writer_role_recalibrates_through_hitl_and_earlier_approvals_go_stale(ws, tmp_path):
    ws.submit([manifest("s-1")])
    assert ws.hitl("approve", "s-1", "--by", "alice").returncode == 0
    database = psycopg.conninfo.conninfo_to_dict(ws.state)["dbname"]
    as_writer = {"HITL_STATE": ws.postgres.url(database, "hitl")}
    outcomes = tmp_path / "outcomes.jsonl"
    outcomes.write_text("".join(json.dumps(outcome) + "\n" for outcome in UNDER_AGENT_OUTCOMES))
    made = ws.hitl("calibrate", "--profile", "default", "--outcomes", outcomes, env=as_writer)
    assert made.returncode == 0, made.stderr
    assert ws.status("s-1")["status"] == "stale"
    refused = ws.hitl("approve", "s-1", "--by", "bob")
    assert refused.returncode == 6 and "stale" in refused.stderr, refused
    with _as_writer(ws) as writer:  # by hand, past hitl: the row can be changed, never removed or doubled
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            writer.execute("DELETE FROM calibration")
        with pytest.raises(psycopg.errors.CheckViolation):
            writer.execute("INSERT INTO calibration (id, data, written_at) VALUES (2, '{}', 'now')")
        with pytest.raises(psycopg.errors.NotNullViolation):
            writer.execute("UPDATE calibration SET data = NULL")
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            writer.execute("ALTER TABLE calibration DROP CONSTRAINT calibration_id_check")


def test_calibrations_at_once_with_submits_leave_one_row_and_decide_with_one_or_the_other(ws, tmp_path):
    outcomes = _calibrated(ws, tmp_path)
    plan = _under_plan(ws)
    running = [ws.popen("calibrate", "--profile", "default", "--outcomes", outcomes) for _ in range(3)]
    running += [ws.popen("submit", ws.write(f"plan-{index}.yaml", [manifest(f"c-{index}")]), "--profile", "default")
                for index in range(3)]
    for process in running:
        _, stderr = process.communicate(timeout=300)
        assert process.returncode in (0, 1, 3), stderr
    with ws.connect() as connection:
        assert connection.execute("SELECT count(*) FROM calibration").fetchall() == [(1,)]
        assert connection.execute("SELECT count(*) FROM requests").fetchall() == [(3,)]
    assert _low_confidence(ws.json("evaluate", plan, "--profile", "default")[0]["reasons"]) == []


ENGINE_RUN = """
import json, sys
from hitl_cli import Engine
with Engine(["default"], state=sys.argv[1]) as engine:
    result = engine.decide(sys.argv[2])
print(json.dumps([reason.code for item in result.evaluated for reason in item.decision.reasons]))
"""


def test_the_python_api_on_a_postgresql_store_reads_no_calibration_file_in_the_working_directory(ws, tmp_path):
    _calibrated(ws, tmp_path, target=ws.root / ".hitl" / "calibration.json")
    plan = _under_plan(ws)
    environment = {name: value for name, value in os.environ.items() if not name.startswith("HITL_")}
    environment.update(ws.env, HITL_OPA_BIN=os.environ["HITL_OPA_BIN"])
    ran = subprocess.run([sys.executable, "-c", ENGINE_RUN, ws.state, str(plan)], cwd=ws.root, env=environment,
                         capture_output=True, text=True, timeout=120)
    assert ran.returncode == 0, ran.stderr
    assert "low_confidence" in json.loads(ran.stdout)
