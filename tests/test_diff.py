"""`hitl diff`: every decision a profile or policy change would change, counts per transition, and the exit
codes CI relies on (1 when anything loosens unless --allow-loosening)."""

import json
import shutil

import yaml

import pytest

from conftest import ROOT, TRUSTED_RECORD, hitl, make_manifest, shipped_profile, write_manifests, write_yaml
from hitl_cli.impact import compare
from hitl_cli.inputs import LoadedManifest
from hitl_cli.models import ActionManifest, Decision

NOW = "2026-06-01T12:00:00Z"
# bank, trusted agent: write dev/staging single, production double; schema_migration staging double.
HISTORY = [
    make_manifest(id="w-dev-1", type="write", env="dev"),
    make_manifest(id="w-dev-2", type="write", env="dev"),
    make_manifest(id="w-dev-3", type="write", env="dev"),
    make_manifest(id="w-stg", type="write", env="staging"),
    make_manifest(id="w-prd", type="write", env="production"),
    make_manifest(id="m-stg", type="schema_migration", env="staging"),
    make_manifest(id="r-prd", type="read", env="production"),
]


@pytest.fixture
def history(tmp_path):
    return write_manifests(tmp_path, HISTORY)


@pytest.fixture
def record(tmp_path):
    return write_yaml(tmp_path / "record.yaml", TRUSTED_RECORD)


def candidate(tmp_path, change) -> str:
    profile = shipped_profile("bank")
    change(profile)
    return str(write_yaml(tmp_path / "bank-proposed.yaml", profile))


def run_diff(*args, now=NOW):
    return hitl("diff", "--profile", "bank", *args, now=now)


def test_a_loosening_change_lists_every_decision_and_exits_1(opa_bin, tmp_path, history, record):
    def loosen(profile):
        profile["action_types"]["write"]["tiers"]["dev"] = "auto_approve"
        profile["action_types"]["schema_migration"]["tiers"]["staging"] = "single_approval"

    proposed = candidate(tmp_path, loosen)
    result = run_diff("--candidate", proposed, "--history", history, "--track-record", record)
    assert result.returncode == 1, result.stderr
    assert "7 recorded manifests re-evaluated" in result.stdout
    assert "single_approval -> auto_approve: 3" in result.stdout
    assert "double_approval -> single_approval: 1" in result.stdout
    assert result.stdout.count("LOOSENS") == 6  # 4 decisions and the 2 profile fields behind them
    assert 'LOOSENS  action_types.write.tiers.dev: "single_approval" -> "auto_approve"' in result.stdout
    for unchanged in ("w-stg", "w-prd", "r-prd"):
        assert unchanged not in result.stdout
    accepted = run_diff("--candidate", proposed, "--history", history, "--track-record", record, "--allow-loosening")
    assert accepted.returncode == 0
    assert accepted.stdout == result.stdout


def test_tightening_only_exits_0_and_the_json_is_stable(opa_bin, tmp_path, history, record):
    def tighten(profile):
        profile["action_types"]["write"]["tiers"]["production"] = "escalate"
        profile["delivery"]["single_approval"] = "interrupt"

    proposed = candidate(tmp_path, tighten)
    result = run_diff("--candidate", proposed, "--history", history, "--track-record", record, "--format", "json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert set(report) == {
        "version", "now", "current", "candidate", "history", "evaluated", "changed", "directions", "loosens",
        "transitions", "changes", "problems", "profile_changes",
    }
    assert report["version"] == 1 and report["now"] == "2026-06-01T12:00:00Z"
    assert report["candidate"]["source"] == proposed
    assert report["evaluated"] == 7 and report["changed"] == 5 and not report["loosens"]
    assert report["directions"] == {"loosening": 0, "tightening": 5, "mixed": 0, "neutral": 0}
    assert report["transitions"] == [
        {"from": "single_approval", "to": "single_approval", "count": 4},
        {"from": "double_approval", "to": "escalate", "count": 1},
    ]
    escalated = next(change for change in report["changes"] if change["id"] == "w-prd")
    # escalate needs 1 approval (an escalation reviewer's) where double_approval needed 2: the tier decides
    assert escalated["tightened"] == ["tier"] and escalated["loosened"] == []
    assert escalated["changed"] == ["tier", "approvals_required"]
    assert escalated["before"]["tier"] == "double_approval" and escalated["after"]["tier"] == "escalate"
    assert [(c["field"], c["direction"]) for c in report["profile_changes"]] == [
        ("action_types.write.tiers.production", "tightening"), ("delivery.single_approval", "tightening"),
    ]
    assert "production_write:escalate" in escalated["reasons_added"]
    delivered = next(change for change in report["changes"] if change["id"] == "w-dev-1")
    assert delivered["changed"] == ["delivery"] and delivered["tightened"] == ["delivery"]


def test_an_identical_candidate_changes_nothing_in_markdown(opa_bin, tmp_path, history, record):
    result = run_diff(
        "--candidate", ROOT / "org_profiles" / "bank.yaml", "--history", history, "--track-record", record,
        "--format", "markdown",
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("## hitl diff\n")
    assert "0 decisions change" in result.stdout and "| from |" not in result.stdout


def test_candidate_policies_run_in_their_own_opa(opa_bin, tmp_path, record):
    rego = tmp_path / "rego"
    shutil.copytree(ROOT / "rego", rego)
    (rego / "hitl" / "rules" / "pii_touch.rego").unlink()
    (rego / "hitl" / "rules" / "pii_touch_test.rego").unlink()
    (rego / "hitl" / "rules" / "pii_touch.schema.json").unlink()
    plan = write_manifests(tmp_path, [make_manifest(id="p", type="read", pii=True), make_manifest(id="q", type="read")])
    result = run_diff("--candidate-rego", rego, "--history", plan, "--track-record", record, "-f", "json")
    assert result.returncode == 1, result.stderr
    report = json.loads(result.stdout)
    assert report["candidate"]["rego"] == str(rego)
    assert [(c["id"], c["before"]["tier"], c["after"]["tier"]) for c in report["changes"]] == [
        ("p", "double_approval", "auto_approve")
    ]
    (rego / "hitl" / "rules" / "budget.rego").write_text("package hitl.rules.budget\n\nreasons contains x if {")
    broken = run_diff("--candidate-rego", rego, "--history", plan, "--track-record", record)
    assert broken.returncode == 5
    assert broken.stdout == ""
    assert "OPA" in broken.stderr


def test_history_from_the_state_store(opa_bin, tmp_path, history):
    state = tmp_path / "state.db"
    submitted = hitl("submit", history, "--profile", "bank", "--state", state, now=NOW)
    assert submitted.returncode in (0, 1), submitted.stderr
    # the store measured nothing yet: every agent is new (suggestion mode), so dev writes stay single_approval
    proposed = candidate(tmp_path, lambda p: p["action_types"]["read"]["tiers"].update(production="single_approval"))
    result = run_diff("--candidate", proposed, "--history", state, "-f", "json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["history"] == [str(state)] and report["evaluated"] == len(HISTORY)
    assert [(c["id"], c["source"]) for c in report["changes"]] == [("r-prd", f"{state}#r-prd")]
    # --state names the default history
    assert run_diff("--candidate", proposed, "--state", state, "-f", "json").stdout.count('"r-prd"') >= 1


def test_invalid_history_is_reported_and_the_rest_compared(opa_bin, tmp_path, history, record):
    bad = tmp_path / "more" / "bad.yaml"
    bad.parent.mkdir()
    bad.write_text("apiVersion: hitl/v1\nkind: ActionManifest\nmetadata: {id: broken}\n")
    proposed = candidate(tmp_path, lambda p: p["action_types"]["write"]["tiers"].update(dev="auto_approve"))
    result = run_diff("--candidate", proposed, "--history", history, "--history", bad.parent, "--track-record", record)
    assert result.returncode == 4
    assert f"{bad}: agent: required field is missing" in result.stderr
    assert "single_approval -> auto_approve: 3" in result.stdout


def test_usage_errors(tmp_path, history):
    assert run_diff("--history", history).returncode == 2
    # no history and only candidate policies: nothing to compare
    no_store = run_diff("--candidate-rego", ROOT / "rego", "--state", tmp_path / "missing.db")
    assert no_store.returncode == 2 and "--history" in no_store.stderr
    assert run_diff("--candidate", "no-such-profile", "--history", history).returncode == 2


def _decision(**fields) -> Decision:
    base = {
        "id": "a", "tier": "auto_approve", "approvals_required": 0, "post_hoc_review": False, "delivery": "none",
        "agent_level": "medium", "profile": "p", "reasons": [], "agent": "x", "action_type": "write",
        "declared_type": "write", "environment": "dev", "risk": "medium",
    }
    return Decision.model_validate({**base, **fields})


ITEM = LoadedManifest.of("plan.yaml", 1, ActionManifest.model_validate(make_manifest(id="a")))


@pytest.mark.parametrize(
    ("before", "after", "direction", "loosened", "tightened"),
    [
        ({}, {"post_hoc_review": True, "delivery": "digest"}, "tightening", [], ["post_hoc_review", "delivery"]),
        ({"post_hoc_review": True, "delivery": "digest"}, {}, "loosening", ["post_hoc_review", "delivery"], []),
        (
            {"tier": "single_approval", "approvals_required": 1, "delivery": "digest"},
            {"post_hoc_review": True, "delivery": "digest"},
            "loosening", ["tier"], [],
        ),
        ({"agent_level": "low"}, {"agent_level": "medium"}, "loosening", ["agent_level"], []),
        ({"risk": "high"}, {"risk": "low", "tier": "escalate", "approvals_required": 1}, "mixed", ["risk"], ["tier"]),
        ({"tier": "double_approval", "approvals_required": 2}, {"tier": "double_approval", "approvals_required": 1},
         "loosening", ["approvals_required"], []),
        ({"action_type": "delete"}, {}, "neutral", [], []),
    ],
)
def test_each_field_moves_one_way(before, after, direction, loosened, tightened):
    change = compare(ITEM, _decision(**before), _decision(**after))
    assert (change.direction, change.loosened, change.tightened) == (direction, loosened, tightened)


def test_reason_changes_alone_are_neutral_and_nothing_is_no_change():
    reason = {"code": "waiver", "tier": "auto_approve", "message": "m"}
    assert compare(ITEM, _decision(), _decision()) is None
    change = compare(ITEM, _decision(), _decision(reasons=[reason]))
    assert change.direction == "neutral" and change.reasons_added == ["waiver:auto_approve"]
    renamed = compare(ITEM, _decision(reasons=[reason]), _decision(reasons=[{**reason, "message": "other"}]))
    assert renamed is None


def test_a_change_request_is_submitted_and_needs_two_approvals(opa_bin, tmp_path, history, record):
    def loosen(profile):
        profile["action_types"]["write"]["tiers"]["dev"] = "auto_approve"

    proposed = candidate(tmp_path, loosen)
    request = tmp_path / "change.yaml"
    result = run_diff(
        "--candidate", proposed, "--history", history, "--track-record", record,
        "--change-request", request, "--proposed-by", "compliance-lead", "--why", "dev writes are routine",
    )
    assert result.returncode == 1, result.stderr
    manifest = ActionManifest.model_validate(yaml.safe_load(request.read_text()))
    assert manifest.action.type == "profile_change"
    assert "single_approval -> auto_approve: 3" in manifest.context.risks
    state = tmp_path / "state.db"
    submitted = hitl("submit", request, "--profile", "bank", "--state", state, "--format", "json", now=NOW)
    assert submitted.returncode == 1, submitted.stderr
    status = hitl("status", manifest.id, "--state", state, "--format", "json", now=NOW)
    assert '"double_approval"' in status.stdout and '"pending"' in status.stdout


def test_change_request_needs_a_valid_proposer(opa_bin, tmp_path, history, record):
    proposed = candidate(tmp_path, lambda profile: None)
    result = run_diff(
        "--candidate", proposed, "--history", history, "--track-record", record,
        "--change-request", tmp_path / "change.yaml", "--proposed-by", "not a valid id",
    )
    assert result.returncode == 2
    assert "--proposed-by 'not a valid id'" in result.stderr
    assert not (tmp_path / "change.yaml").exists()
    assert result.stdout == ""
