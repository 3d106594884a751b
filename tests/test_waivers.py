"""Waivers end to end: a waiver in force lowers a decision and says so, an expired one is ignored by evaluate,
check and diff alike and reported by `hitl profile lint`. What no waiver may do: tests/test_gate_floor.py."""

import json

from conftest import TRUSTED_RECORD, hitl, make_manifest, shipped_profile, write_manifests, write_yaml
from waiver_fixtures import AFTER_EXPIRY, NOW, WAIVER, profile_with

def evaluate(tmp_path, profile, manifests: list[dict], now: str) -> list[dict]:
    plan = write_manifests(tmp_path, manifests)
    record = write_yaml(tmp_path / "record.yaml", TRUSTED_RECORD)
    result = hitl(
        "evaluate", plan, "--profile", profile, "--track-record", record, "--format", "json", now=now
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_a_waiver_in_force_lowers_the_decision_and_is_a_reason(opa_bin, tmp_path):
    manifest = make_manifest(type="write", env="production")
    assert evaluate(tmp_path, "bank", [manifest], NOW)[0]["tier"] == "double_approval"
    decision = evaluate(tmp_path, profile_with(tmp_path, [WAIVER]), [manifest], NOW)[0]
    assert decision["tier"] == "single_approval"
    assert decision["approvals_required"] == 1
    waiver = [reason for reason in decision["reasons"] if reason["code"] == "waiver"]
    assert len(waiver) == 1 and waiver[0]["tier"] == "single_approval"
    for part in ("WVR-2026-014", "chief-risk-officer", "2026-12-31T23:59:59Z", "Quarter-end backfill"):
        assert part in waiver[0]["message"]
    capped = next(reason for reason in decision["reasons"] if reason["code"] == "production_write")
    assert capped["tier"] == "single_approval" and "[waived from double_approval]" in capped["message"]


def test_a_waiver_only_covers_what_it_names(opa_bin, tmp_path):
    profile = profile_with(tmp_path, [WAIVER])
    other_agent = make_manifest(id="a", type="write", env="production", agent="etl-agent")
    other_env = make_manifest(id="b", type="write", env="staging")
    other_type = make_manifest(id="c", type="schema_migration", env="production")
    decisions = evaluate(tmp_path, profile, [other_agent, other_env, other_type], NOW)
    assert all("waiver" not in {r["code"] for r in d["reasons"]} for d in decisions)
    assert [d["tier"] for d in decisions] == ["double_approval", "single_approval", "double_approval"]


def test_an_expired_waiver_is_ignored_by_evaluate_check_and_diff(opa_bin, tmp_path):
    profile = profile_with(tmp_path, [WAIVER])
    manifest = make_manifest(type="write", env="production")
    assert evaluate(tmp_path, profile, [manifest], AFTER_EXPIRY)[0]["tier"] == "double_approval"

    staging = profile_with(tmp_path, [{**WAIVER, "environment": "staging", "lower_to": "auto_approve"}], file="staging.yaml")
    plan = write_manifests(tmp_path, [make_manifest(type="write", env="staging")])
    record = write_yaml(tmp_path / "record.yaml", TRUSTED_RECORD)
    # a staging write waits for one approval (1); an in-force waiver auto-approves it (0); expired: 1 again
    check = ("check", plan, "--profile", staging, "--track-record", record, "--state", tmp_path / "none.db")
    assert hitl(*check, now=NOW).returncode == 0
    assert hitl(*check, now=AFTER_EXPIRY).returncode == 1

    diff = ("diff", "--profile", "bank", "--candidate", staging, "--history", plan, "--track-record", record, "-f", "json")
    in_force = hitl(*diff, now=NOW)
    assert in_force.returncode == 1, in_force.stderr
    assert json.loads(in_force.stdout)["transitions"] == [{"from": "single_approval", "to": "auto_approve", "count": 1}]
    expired = hitl(*diff, now=AFTER_EXPIRY)
    assert expired.returncode == 0, expired.stderr
    assert json.loads(expired.stdout)["changed"] == 0


def test_profile_lint_reports_expired_and_unknown(tmp_path):
    waivers = [
        {**WAIVER, "expires": "2026-01-01T00:00:00Z"},
        {**WAIVER, "id": "WVR-2", "action_type": "reindex", "environment": "qa", "lower_to": "block"},
    ]
    profile = profile_with(tmp_path, waivers)
    result = hitl("profile", "lint", profile, now=NOW)
    assert result.returncode == 1, result.stderr
    lines = result.stdout.splitlines()
    assert [line.split(": ")[1] for line in lines] == [
        "waivers[0].expires", "waivers[1].action_type", "waivers[1].environment", "waivers[1].lower_to",
    ]
    assert all(line.startswith(f"{profile}: waivers[") for line in lines)
    assert "WVR-2026-014 expired at 2026-01-01T00:00:00+00:00" in lines[0]
    # the same profile before the first expiry: no longer expired, but the second is further ahead than bank's 30 days
    earlier = hitl("profile", "lint", profile, now="2025-12-20T00:00:00Z").stdout.splitlines()
    assert [line.split(": ")[1] for line in earlier] == [
        "waivers[1].expires", "waivers[1].action_type", "waivers[1].environment", "waivers[1].lower_to",
    ]


def test_profile_lint_passes_the_shipped_profiles_and_refuses_invalid_ones(tmp_path):
    clean = hitl("profile", "lint", "default", "startup", "bank")
    assert clean.returncode == 0, clean.stdout + clean.stderr
    assert clean.stdout.count(": ok") == 3
    naive = profile_with(tmp_path, [{**WAIVER, "expires": "2026-12-31T23:59:59"}], file="naive.yaml")
    duplicate = profile_with(tmp_path, [WAIVER, WAIVER], file="duplicate.yaml")
    result = hitl("profile", "lint", naive, duplicate)
    assert result.returncode == 4
    assert f"{naive}: waivers[0].expires: Input should have timezone info" in result.stderr
    assert f"{duplicate}: waivers[1].id: duplicate waiver id 'WVR-2026-014'" in result.stderr
    missing = shipped_profile("bank")
    del missing["waivers"]
    result = hitl("profile", "lint", write_yaml(tmp_path / "missing.yaml", missing))
    assert result.returncode == 4 and "waivers: required field is missing" in result.stderr
