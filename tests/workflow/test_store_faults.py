"""Fail closed around the store: an engine or store fault records nothing, says what failed in one line,
and exits with its documented code; bad input is reported as file: field: message."""

import pytest

from .support import tier_manifest


def one_line_error(result, code: int, needle: str) -> None:
    assert result.returncode == code, (result.returncode, result.stdout, result.stderr)
    assert result.stderr.startswith("hitl: ") and len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert needle in result.stderr, result.stderr
    assert "Traceback" not in result.stderr


def test_no_engine_records_nothing(ws):
    plan = ws.write("plan.yaml", [tier_manifest("auto_approve")])
    result = ws.hitl("submit", plan, "--profile", "default", env={"HITL_OPA_BIN": str(ws.root / "no-opa")})
    one_line_error(result, 5, "OPA not found")
    assert not ws.store_exists()
    assert "approved" not in result.stdout


def test_a_corrupt_store_is_a_fault_everywhere(sqlite_ws):
    ws = sqlite_ws
    ws.state.write_bytes(b"this is not a database, whatever its name says" * 100)
    plan = ws.write("plan.yaml", [tier_manifest("single_approval")])
    one_line_error(ws.hitl("status", "m-single_approval"), 5, "is unusable")
    one_line_error(ws.hitl("approve", "m-single_approval", "--by", "alice"), 5, "state store")
    one_line_error(ws.hitl("submit", plan, "--profile", "default", "--track-record", ws.trusted_record), 5, "state store")
    one_line_error(ws.hitl("check", plan, "--profile", "default", "--track-record", ws.trusted_record), 5, "state store")
    one_line_error(ws.hitl("audit", "verify"), 5, "state store")


def test_a_store_locked_past_the_timeout_is_a_fault_and_loses_nothing(ws):
    ws.submit([tier_manifest("single_approval")])
    before = ws.audit_count()
    with ws.write_lock_held():
        result = ws.hitl("approve", "m-single_approval", "--by", "alice", env={"HITL_STATE_TIMEOUT": "0.5"})
    one_line_error(result, 5, "locked by another process")
    assert ws.audit_count() == before
    assert ws.status("m-single_approval")["approvals"] == []
    assert ws.hitl("approve", "m-single_approval", "--by", "alice").returncode == 0
    assert ws.verify().returncode == 0


def test_a_missing_store_is_never_created_by_reading(ws):
    one_line_error(ws.hitl("status", "anything"), 7, "no state store")
    one_line_error(ws.hitl("queue"), 7, "no state store")
    one_line_error(ws.hitl("audit", "verify"), 7, "no state store")
    one_line_error(ws.hitl("approve", "anything", "--by", "alice"), 7, "no state store")
    assert not ws.store_exists()


def test_a_store_from_a_newer_hitl_is_refused(ws):
    ws.submit([tier_manifest("single_approval")])
    ws.set_schema_version(99)
    one_line_error(ws.hitl("status", "m-single_approval"), 5, "newer than this hitl knows")
    one_line_error(ws.hitl("approve", "m-single_approval", "--by", "a"), 5, "newer than this hitl knows")


def test_invalid_manifests_are_reported_and_the_valid_ones_recorded(ws):
    broken = tier_manifest("single_approval", id="broken")
    broken["action"]["confidence"] = 7
    plan = ws.write("plan.yaml", [tier_manifest("single_approval", id="fine"), broken])
    result = ws.hitl("submit", plan, "--profile", "default", "--track-record", ws.trusted_record)
    assert result.returncode == 4
    assert f"{plan}#2: action.confidence: " in result.stderr and "Traceback" not in result.stderr
    assert ws.status("fine")["status"] == "pending"
    assert ws.hitl("status", "broken").returncode == 7


def test_bad_settings_are_usage_errors(ws):
    ws.submit([tier_manifest("single_approval")])
    one_line_error(ws.hitl("status", "m-single_approval", env={"HITL_STATE_TIMEOUT": "-1"}), 2, "HITL_STATE_TIMEOUT")


def test_an_empty_store_is_a_store_with_nothing_in_it(ws):
    if ws.backend == "sqlite":
        ws.state.touch()  # on PostgreSQL, the workspace's database starts empty
    plan = ws.write("plan.yaml", [tier_manifest("single_approval")])
    assert ws.hitl("check", plan, "--profile", "default", "--track-record", ws.trusted_record).returncode == 1
    one_line_error(ws.hitl("status", "m-single_approval"), 7, "is empty" if ws.backend == "sqlite" else "no state store")
    assert ws.submit([tier_manifest("single_approval")], trusted=False)["m-single_approval"]["status"] == "pending"
    assert ws.verify().returncode == 0


@pytest.mark.parametrize("backend", ["postgresql"])
def test_a_server_that_cannot_be_reached_or_refuses_is_a_fault_that_never_shows_the_password(ws):
    secret = ws.postgres.password
    plan = ws.write("plan.yaml", [tier_manifest("single_approval")])
    wrong_password = ws.state.replace(f":{secret}@", ":not-the-password@")
    no_server = f"postgresql://hitl_owner:{secret}@127.0.0.1:1/{ws.databases[0]}"
    for state, needle in ((wrong_password, "password authentication failed"), (no_server, "cannot open state store")):
        for command in (("status", "x"), ("approve", "x", "--by", "alice"), ("queue",), ("audit", "verify"),
                        ("submit", plan, "--profile", "default", "--track-record", ws.trusted_record),
                        ("check", plan, "--profile", "default", "--track-record", ws.trusted_record)):
            result = ws.hitl(*command, env={"HITL_STATE": state})
            one_line_error(result, 5, needle)
            assert secret not in result.stderr + result.stdout and "not-the-password" not in result.stderr
            assert f"postgresql://127.0.0.1:" in result.stderr


@pytest.mark.parametrize("backend", ["postgresql"])
def test_the_password_in_the_url_never_appears_in_what_hitl_prints(ws):
    secret = ws.postgres.password
    ws.submit([tier_manifest("single_approval"), tier_manifest("block")])
    printed = [ws.hitl(*command) for command in (
        ("status", "m-single_approval"), ("status", "m-block", "--format", "json"), ("queue",), ("queue", "--format", "json"),
        ("audit", "verify"), ("audit", "export"), ("approve", "m-single_approval", "--by", "alice"),
    )]
    assert all(result.returncode in (0, 1, 3) for result in printed), [result.stderr for result in printed]
    assert not [result.args for result in printed if secret in result.stdout + result.stderr]
    assert f"--state {ws.shown_state}" in "".join(result.stdout for result in printed)  # named, without secrets


def test_a_state_that_is_a_folder_or_a_malformed_url_is_a_usage_error(sqlite_ws):
    for state in (str(sqlite_ws.root), "postgresql://hitl:sekrit@db.example/hitl?no_such_parameter=1"):
        for command in (("queue",), ("approve", "x", "--by", "alice")):
            result = sqlite_ws.hitl(*command, env={"HITL_STATE": state})
            one_line_error(result, 2, "--state")
            assert "sekrit" not in result.stderr
