"""Attacks on a PostgreSQL store's own calibration (the `calibration` table, store schema 4): hostile rows written
by the store's writer role, a store an older hitl left, and a working directory or environment that offers a
calibration file of its own. Real CLI, real OPA, real PostgreSQL."""

import json

import psycopg
import pytest

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
    "an array of one": json.dumps([{"format": "hitl/calibration-v1", "agents": {}}]),
}


@pytest.mark.parametrize("row", HOSTILE_ROWS.values(), ids=HOSTILE_ROWS.keys())
def test_a_hostile_calibration_row_stops_every_deciding_command_with_one_line(ws, tmp_path, row):
    plan = _under_plan(ws)
    ws.submit([manifest("s-1", type="write", env="staging")])
    with _as_writer(ws) as writer:
        writer.execute("INSERT INTO calibration (id, data, written_at) VALUES (1, %s, 'now')", (row,))
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
