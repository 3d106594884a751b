"""A PostgreSQL store keeps its calibration data in its own table. Attack: it used to read `.hitl/calibration.json`
in the working directory (such a store has no folder to keep the file beside), so a file planted in a checkout
lowered a decision in a CI job on a PostgreSQL store. Real CLI, real OPA, real PostgreSQL."""

import json

import pytest

from workflow.support import make_workspace, manifest

pytestmark = pytest.mark.attack

# under-agent states 0.65, under the shipped 0.80 threshold, in the 0.6-0.7 bin where it was right 99 times in 100:
# calibrated, its confidence counts as 0.99 and the low_confidence reason goes.
UNDER_AGENT_OUTCOMES = [
    {"agent": "under-agent", "action_type": "write", "confidence": 0.65, "correct": index % 100 != 0}
    for index in range(2000)
]


def _low_confidence(ws, plan) -> list[dict]:
    found = ws.json("evaluate", plan, "--profile", "default")
    return [reason for reason in found[0]["reasons"] if reason["code"] == "low_confidence"]


def test_a_postgresql_store_reads_its_calibration_from_itself_never_the_working_directory(tmp_path, postgres):
    ws = make_workspace(tmp_path, postgres)
    try:
        outcomes = tmp_path / "outcomes.jsonl"
        outcomes.write_text("".join(json.dumps(outcome) + "\n" for outcome in UNDER_AGENT_OUTCOMES))
        item = manifest("under-1", type="write", env="dev", agent="under-agent")
        item["action"]["confidence"] = 0.65
        plan = ws.write("under.yaml", [item])
        ws.submit([manifest("s-1", type="write", env="staging")])
        assert ws.hitl("approve", "s-1", "--by", "alice").returncode == 0
        assert ws.status("s-1")["status"] == "approved"

        planted = ws.hitl("calibrate", "--profile", "default", "--outcomes", outcomes,
                          "--calibration", ws.root / ".hitl" / "calibration.json")  # in the working directory
        assert planted.returncode == 0, planted.stderr
        assert len(_low_confidence(ws, plan)) == 1
        assert ws.status("s-1")["status"] == "approved"  # the policy revision did not move either

        made = ws.hitl("calibrate", "--profile", "default", "--outcomes", outcomes)  # the store's own
        assert made.returncode == 0, made.stderr
        assert ws.shown_state in made.stdout
        with ws.connect() as connection:
            [(stored,)] = connection.execute("SELECT data FROM calibration").fetchall()
        assert json.loads(stored)["agents"]["under-agent"]["overall"]["samples"] == 2000
        assert _low_confidence(ws, plan) == []
        assert ws.status("s-1")["status"] == "stale"  # recalibrating makes earlier approvals stale

        again = ws.hitl("calibrate", "--profile", "default", "--outcomes", outcomes)  # replaces the one row
        assert again.returncode == 0, again.stderr
        with ws.connect() as connection:
            assert connection.execute("SELECT count(*) FROM calibration").fetchall() == [(1,)]
    finally:
        ws.close()
