"""Changing one value of a copied profile changes the decision: no Rego or Python is touched."""

import json

import pytest

from conftest import TRUSTED_AGENT, hitl, make_manifest, shipped_profile, write_manifests, write_yaml


# Trusted at medium with a 0.99 approval rate: enough for every shipped minimum, so one can be raised past it.
MEASURED_RECORD = {"agents": {TRUSTED_AGENT: {"level": "medium", "reviewed": 1000, "approved": 990, "rejected": 10}}}


def set_path(data: dict, path: str, value) -> None:
    *parents, last = path.split(".")
    for key in parents:
        data = data[key]
    data[last] = value


# (value changed in a copy of the default profile, manifest, tier under the shipped value, tier after the change)
CHANGES = [
    ("action_types.write.tiers.staging", "double_approval", {"type": "write", "env": "staging"}, "single_approval", "double_approval"),
    ("budget.per_action_usd", 10, {"type": "read", "cost": 20}, "auto_approve", "block"),
    ("confidence.threshold", 0.95, {"type": "documentation", "confidence": 0.9}, "auto_approve", "escalate"),
    ("trust.minimums.medium.min_approval_rate", 0.999, {"type": "write", "env": "dev"}, "auto_approve", "single_approval"),
    ("pii.touch_floor", "escalate", {"type": "read", "pii": True}, "single_approval", "escalate"),
    ("novelty.tier", "block", {"type": "read", "novel": True}, "escalate", "block"),
    ("statements.kinds.update", "drop", {"type": "write", "env": "staging", "statement": "UPDATE t SET a = 1 WHERE b"}, "single_approval", "double_approval"),
    ("statements.unanalysable_tier", "block", {"type": "read", "statement": "CALL admin.purge()"}, "escalate", "block"),
    ("pii.tables", ["analytics.customers"], {"type": "write", "statement": "UPDATE analytics.customers SET a = 1 WHERE b"}, "auto_approve", "single_approval"),
]


def decide(tmp_path, profile: dict, manifest: dict) -> dict:
    profile_file = write_yaml(tmp_path / "profile.yaml", profile)
    record = write_yaml(tmp_path / "record.yaml", MEASURED_RECORD)
    plan = write_manifests(tmp_path, [manifest])
    result = hitl("evaluate", plan, "--profile", profile_file, "--track-record", record, "--format", "json")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)[0]


@pytest.mark.parametrize(("path", "value", "overrides", "before", "after"), CHANGES, ids=[c[0] for c in CHANGES])
def test_one_profile_value_changes_the_decision(opa_bin, tmp_path, path, value, overrides, before, after):
    profile = shipped_profile("default")
    manifest = make_manifest(**overrides)
    assert decide(tmp_path, profile, manifest)["tier"] == before
    set_path(profile, path, value)
    assert decide(tmp_path, profile, manifest)["tier"] == after


def test_delivery_choice_is_data(opa_bin, tmp_path):
    profile = shipped_profile("default")
    manifest = make_manifest(type="write", env="staging")
    assert decide(tmp_path, profile, manifest)["delivery"] == "digest"
    set_path(profile, "delivery.single_approval", "interrupt")
    assert decide(tmp_path, profile, manifest)["delivery"] == "interrupt"


def test_approval_counts_are_data(opa_bin, tmp_path):
    profile = shipped_profile("default")
    manifest = make_manifest(type="write", env="production")
    assert decide(tmp_path, profile, manifest)["approvals_required"] == 2
    set_path(profile, "approvals.required.double_approval", 3)
    assert decide(tmp_path, profile, manifest)["approvals_required"] == 3


def test_a_new_environment_and_action_type_need_only_profile_data(opa_bin, tmp_path):
    profile = shipped_profile("default")
    manifest = make_manifest(type="reindex", env="sandbox")
    assert decide(tmp_path, profile, manifest)["tier"] == "escalate"
    profile["environments"].append("sandbox")
    for policy in profile["action_types"].values():
        policy["tiers"]["sandbox"] = policy["tiers"]["dev"]
        policy["risk"]["sandbox"] = policy["risk"]["dev"]
    profile["action_types"]["reindex"] = {
        "read_only": False,
        "post_hoc_review": False,
        "tiers": {env: "auto_approve" for env in profile["environments"]},
        "risk": {env: "medium" for env in profile["environments"]},
    }
    assert decide(tmp_path, profile, manifest)["tier"] == "auto_approve"


def test_destructive_patterns_are_data(opa_bin, tmp_path):
    profile = shipped_profile("default")
    manifest = make_manifest(type="write", env="dev", statement="MERGE INTO t USING s ON t.id = s.id WHEN MATCHED THEN DELETE")
    assert decide(tmp_path, profile, manifest)["action_type"] == "delete"
    profile["destructive_statements"].append({"pattern": "(?i)\\bREPLACE\\b", "treated_as": "drop"})
    manifest = make_manifest(type="write", env="dev", statement="CREATE OR REPLACE TABLE t AS SELECT 1")
    assert decide(tmp_path, profile, manifest)["action_type"] == "drop"
