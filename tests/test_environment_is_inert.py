"""Attack: the environment cannot move hitl's clock or pause it. HITL_NOW and HITL_FAULT_PAUSE were test hooks;
the installed `hitl` now ignores them: verdicts are dated by the system clock, an expired approval or waiver
stays expired, and a write commits without pausing. Real CLI (the installed entry point), real OPA, real SQLite.
"""

import pytest
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

from conftest import TRUSTED_RECORD, isolated_environment, make_manifest, shipped_profile, write_manifests, write_yaml
from workflow.support import at, keyed_person, make_workspace, tier_manifest

pytestmark = pytest.mark.attack  # each test tries a way past the gate (make bench counts them)

INSTALLED_HITL = Path(sys.executable).parent / "hitl"
HOOKS = {"HITL_NOW": "2099-01-01T00:00:00Z", "HITL_FAULT_PAUSE": "approve"}


def installed_hitl(ws, *args, timeout: float = 120) -> subprocess.CompletedProcess:
    environment = isolated_environment({**ws.env, **HOOKS})
    return subprocess.run([INSTALLED_HITL, *map(str, args)], capture_output=True, text=True, env=environment,
                          cwd=ws.root, timeout=timeout)


def moment(text: str) -> datetime:
    return datetime.fromisoformat(text)


def test_a_pinned_clock_and_a_pause_in_the_environment_change_nothing(tmp_path):
    ws = make_workspace(tmp_path)
    before = datetime.now(UTC)
    submitted = installed_hitl(ws, "submit", ws.write("plan.yaml", [tier_manifest("single_approval")]),
                               "--profile", "default", "--track-record", ws.trusted_record)
    assert submitted.returncode == 1, submitted.stderr
    approved = installed_hitl(ws, "approve", "m-single_approval", "--by", "alice", "--key", keyed_person("alice")[0],
                              timeout=60)  # no pause
    after = datetime.now(UTC)

    assert approved.returncode == 0 and "fault injection" not in approved.stderr, approved.stderr
    view = ws.status("m-single_approval")
    assert view["status"] == "approved"
    assert before <= moment(view["submitted_at"]) <= moment(view["approvals"][0]["at"]) <= after
    assert moment(view["valid_until"]).year == after.year  # not "until 2099"
    assert all(before <= moment(record["at"]) <= after for record in ws.audit_records())
    assert ws.verify().returncode == 0


def test_an_expired_approval_is_not_revived_by_the_environment(tmp_path):
    ws = make_workspace(tmp_path)
    ws.submit([tier_manifest("single_approval")], now=at(-1000))
    assert ws.hitl("approve", "m-single_approval", "--by", "alice", now=at(-999)).returncode == 0
    assert ws.status("m-single_approval")["status"] == "expired"

    assert ws.status("m-single_approval", env={"HITL_NOW": at(-998)})["status"] == "expired"
    assert installed_hitl(ws, "status", "m-single_approval").returncode == 3


def test_an_expired_waiver_is_not_revived_by_the_environment(opa_bin, tmp_path):
    profile = shipped_profile("bank")
    profile["waivers"] = [{
        "id": "WVR-2025-001", "agent": "trusted-*", "action_type": "write", "resource": "analytics.*",
        "environment": "production", "lower_to": "single_approval", "approved_by": "chief-risk-officer",
        "reason": "expired backfill", "expires": "2025-12-31T23:59:59Z",
    }]
    waived = write_yaml(tmp_path / "waived.yaml", profile)
    plan = write_manifests(tmp_path, [make_manifest(type="write", env="production", cost=1000)])
    record = write_yaml(tmp_path / "record.yaml", TRUSTED_RECORD)
    command = [INSTALLED_HITL, "check", plan, "--profile", waived, "--track-record", record,
               "--state", tmp_path / "none.db"]
    pinned = subprocess.run(command, capture_output=True, text=True, timeout=120, cwd=tmp_path,
                            env=isolated_environment({"HITL_NOW": "2025-06-01T00:00:00Z"}))
    assert pinned.returncode == 3, pinned.stdout + pinned.stderr  # over budget stays blocked: the waiver expired
