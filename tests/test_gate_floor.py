"""A profile cannot quietly loosen the gate (hitl_cli/floor.py, hitl_cli/gate_floor.yaml): the blanket-waiver
attack end to end, each `profile lint` finding, and the same findings refused by the commands that decide."""

import json

import pytest
import yaml

from conftest import TRUSTED_RECORD, hitl, make_manifest, shipped_profile, write_manifests, write_yaml
from hitl_cli.floor import FLOOR_FILE

pytestmark = pytest.mark.attack  # each test tries a way past the gate (make bench counts them)

NOW = "2026-12-15T12:00:00Z"
PROFILES = ["default", "startup", "bank"]
FLOOR = yaml.safe_load(FLOOR_FILE.read_text())
# The attack that worked: a waiver for every agent and every resource lowered a production DROP with PII
# exposure, a 1M USD cost and 0.1 confidence to auto-approve, and `profile lint` said ok.
BLANKET = {
    "id": "WVR-ALL", "agent": "**", "action_type": "drop", "resource": "**", "environment": "production",
    "lower_to": "auto_approve", "approved_by": "someone", "reason": "unblock the agent", "expires": "2099-01-01T00:00:00Z",
}
NARROW = {
    "id": "WVR-OK", "agent": "trusted-agent", "action_type": "write", "resource": "analytics.orders",
    "environment": "staging", "lower_to": "auto_approve", "approved_by": "data-platform-lead",
    "reason": "Backfill, CHG-1", "expires": "2026-12-31T00:00:00Z",
}


def profile_file(tmp_path, name: str = "bank", waivers: list[dict] = (), **sections) -> str:
    profile = shipped_profile(name)
    profile["waivers"] = list(waivers)
    for dotted, value in sections.items():
        section, field = dotted.split("__")
        profile[section][field] = value
    return write_yaml(tmp_path / f"{name}-changed.yaml", profile)


def lint(profile) -> tuple[int, list[str]]:
    result = hitl("profile", "lint", profile, now=NOW)
    assert result.stderr == ""
    return result.returncode, [line.split(": ", 2)[1] for line in result.stdout.splitlines()]


def dangerous_drop(id: str = "attack") -> dict:
    return make_manifest(id=id, type="drop", env="production", statement="DROP TABLE analytics.customers",
                         pii=True, exposes_pii=True, cost=1_000_000, confidence=0.1)


@pytest.mark.parametrize("name", PROFILES)
def test_the_blanket_waiver_attack_is_refused_everywhere(opa_bin, tmp_path, name):
    profile = profile_file(tmp_path, name, [BLANKET])
    code, fields = lint(profile)
    assert code == 1
    assert fields == ["waivers[0].agent", "waivers[0].resource", "waivers[0].action_type", "waivers[0].lower_to",
                      "waivers[0].expires"]
    plan = write_manifests(tmp_path, [dangerous_drop()])
    record = write_yaml(tmp_path / "record.yaml", TRUSTED_RECORD)
    for command in ("evaluate", "check", "submit"):
        result = hitl(command, plan, "--profile", profile, "--track-record", record, "--state", tmp_path / "s.db",
                      now=NOW)
        assert result.returncode == 4, (command, result.stdout, result.stderr)
        assert "auto_approve" not in result.stdout and "MAY RUN" not in result.stdout
        assert f"{profile}: waivers[0].agent: waiver WVR-ALL: '**' holds `**`" in result.stderr


@pytest.mark.parametrize("name", PROFILES)
def test_a_clean_waiver_lowers_its_matrix_cell_but_no_unwaivable_reason(opa_bin, tmp_path, name):
    """Past the floor, a waiver still lowers what it exists for, and nothing the floor holds unwaivable."""
    profile = profile_file(tmp_path, name, [NARROW])
    assert lint(profile)[0] == 0
    dangerous = make_manifest(id="d", type="write", env="staging", pii=True, exposes_pii=True, cost=1_000_000,
                              confidence=0.1, novel=True)
    touching = make_manifest(id="t", type="write", env="staging", pii=True)
    plain = make_manifest(id="p", type="write", env="staging")
    plan = write_manifests(tmp_path, [dangerous, touching, plain])
    record = write_yaml(tmp_path / "record.yaml", TRUSTED_RECORD)
    result = hitl("evaluate", plan, "--profile", profile, "--track-record", record, "-f", "json", now=NOW)
    assert result.returncode == 0, result.stderr
    by_id = {d["id"]: d for d in json.loads(result.stdout)}
    reasons = {r["code"]: r for r in by_id["d"]["reasons"]}
    assert by_id["d"]["tier"] == "block"
    for code in ("pii_exposure", "over_budget", "low_confidence", "novel_action"):
        assert "[waived from" not in reasons[code]["message"], code
    assert reasons["staging_write"]["tier"] == "auto_approve"  # the matrix cell is waivable
    touch_floor = shipped_profile(name)["pii"]["touch_floor"]  # startup has none
    assert by_id["t"]["tier"] == (touch_floor or "auto_approve")
    assert by_id["p"]["tier"] == "auto_approve"


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("agent", "*"), ("agent", "?*"), ("agent", "[a-z]*"), ("agent", "{a,b}*"), ("agent", "**"),
        ("agent", "trusted-**"), ("agent", "\\trusted-agent"),
        ("resource", "**"), ("resource", "**.orders"), ("resource", "analytics.**"), ("resource", "*.orders"),
        ("resource", "a*.orders"), ("resource", "*"), ("resource", "[a]nalytics.orders"),
    ],
)
def test_lint_flags_every_glob_that_reaches_too_far(tmp_path, field, value):
    profile = profile_file(tmp_path, "default", [{**NARROW, field: value}])
    assert lint(profile) == (1, [f"waivers[0].{field}"])


@pytest.mark.parametrize("glob", ["trusted-*", "trusted-agent", "etl-agent-?"])
def test_lint_accepts_an_anchored_agent_glob(tmp_path, glob):
    assert lint(profile_file(tmp_path, "default", [{**NARROW, "agent": glob}]))[0] == 0


def test_lint_flags_destructive_types_where_they_are_protected(tmp_path):
    waivers = [
        {**NARROW, "id": "W0", "action_type": "drop", "environment": "production", "lower_to": "escalate"},
        {**NARROW, "id": "W1", "action_type": "delete", "environment": None, "lower_to": "escalate"},
        {**NARROW, "id": "W2", "action_type": "delete", "environment": "dev", "lower_to": "single_approval"},
    ]
    code, fields = lint(profile_file(tmp_path, "default", waivers))
    assert (code, fields) == (1, ["waivers[0].action_type", "waivers[1].action_type"])
    # which types are destructive is the profile's data: a statement mapped to write makes write destructive
    profile = shipped_profile("default")
    profile["destructive_statements"].append({"pattern": "(?i)MERGE", "treated_as": "write"})
    profile["waivers"] = [{**NARROW, "environment": "production", "lower_to": "single_approval"}]
    assert lint(write_yaml(tmp_path / "merge.yaml", profile)) == (1, ["waivers[0].action_type"])


def test_lint_flags_auto_approval_of_a_high_risk_type(tmp_path):
    waivers = [
        {**NARROW, "id": "W0", "environment": "production"},  # write is high risk in production
        {**NARROW, "id": "W1", "environment": None},  # ... and so in "every environment"
        {**NARROW, "id": "W2", "environment": "production", "lower_to": "single_approval"},
    ]
    assert lint(profile_file(tmp_path, "default", waivers)) == (1, ["waivers[0].lower_to", "waivers[1].lower_to"])


def test_lint_flags_an_expiry_beyond_max_days_and_the_limit_is_data(tmp_path):
    far = {**NARROW, "expires": "2027-02-01T00:00:00Z"}  # 48 days after NOW
    assert lint(profile_file(tmp_path, "bank", [far])) == (1, ["waivers[0].expires"])  # bank: 30 days
    assert lint(profile_file(tmp_path, "default", [far]))[0] == 0  # default: 90 days
    assert lint(profile_file(tmp_path, "default", [far], waiver_policy__max_days=40)) == (1, ["waivers[0].expires"])


@pytest.mark.parametrize("name", PROFILES)
def test_a_shorter_unwaivable_or_unoverridable_list_is_refused(opa_bin, tmp_path, name):
    shorter = [code for code in shipped_profile(name)["waiver_policy"]["unwaivable"] if code != "over_budget"]
    profile = profile_file(tmp_path, name, waiver_policy__unwaivable=shorter, override_policy__unoverridable=[])
    assert lint(profile) == (1, ["waiver_policy.unwaivable", "override_policy.unoverridable"])
    result = hitl("evaluate", write_manifests(tmp_path, [make_manifest()]), "--profile", profile)
    assert result.returncode == 4
    assert f"{profile}: waiver_policy.unwaivable: drops over_budget" in result.stderr
    # a longer list than the floor is the profile's own business
    longer = shipped_profile(name)["waiver_policy"]["unwaivable"] + ["staging_write"]
    assert lint(profile_file(tmp_path, name, waiver_policy__unwaivable=longer))[0] == 0


@pytest.mark.parametrize("name", PROFILES)
def test_shipped_profiles_hold_the_floor_and_lint_clean(name):
    profile = shipped_profile(name)
    assert set(FLOOR["unwaivable"]) <= set(profile["waiver_policy"]["unwaivable"])
    assert "pii_exposure" in profile["override_policy"]["unoverridable"]
    assert hitl("profile", "lint", name).returncode == 0


@pytest.mark.parametrize("kind", ["update", "delete", "drop", "grant", "copy_program", "function_call"])
def test_a_statement_kind_that_changes_anything_cannot_count_as_a_read(opa_bin, tmp_path, kind):
    """A new profile (nothing for `hitl diff` to compare with) that counted UPDATE or DROP as `read` let it pass
    wherever a read does."""
    profile = shipped_profile("default")
    profile["statements"]["kinds"][kind] = "read"
    profile["destructive_statements"] = []
    changed = write_yaml(tmp_path / "reads.yaml", profile)
    assert lint(changed) == (1, [f"statements.kinds.{kind}"])
    manifest = make_manifest(type="read", env="production", statement="UPDATE analytics.customers SET email = NULL")
    result = hitl("evaluate", write_manifests(tmp_path, [manifest]), "--profile", changed)
    assert result.returncode == 4
    assert f"statements.kinds.{kind}: counts {kind} statements as 'read', a read-only type" in result.stderr
