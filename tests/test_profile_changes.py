"""`hitl diff` compares the two profiles field by field (hitl_cli/profile_changes.py): every field has a direction,
a loosening profile change fails the run with no history at all, and the table covers every profile field."""

import json
import types
import typing
from datetime import UTC, datetime

import pytest
from pydantic import BaseModel

from conftest import hitl, shipped_profile, write_yaml
from hitl_cli.models import Profile
from hitl_cli.profile_changes import FIELD_KINDS, Keyed, Members, compare_profiles, kind_of

NOW = datetime(2026, 12, 15, 12, tzinfo=UTC)
WAIVER = {
    "id": "WVR-1", "agent": "etl-agent", "action_type": "write", "resource": "analytics.staging_*",
    "environment": "staging", "lower_to": "single_approval", "approved_by": "data-platform-lead",
    "reason": "Backfill, CHG-1", "expires": "2026-12-31T00:00:00Z",
}


def _model_fields(annotation, path: tuple[str, ...]):
    """Every field path of the profile model, `*` standing for a name, a key or a list element."""
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin is typing.Annotated:
        yield from _model_fields(args[0], path)
    elif origin in (typing.Union, types.UnionType):
        for member in args:
            yield from _model_fields(member, path)
    elif isinstance(annotation, type) and issubclass(annotation, BaseModel):
        if path:
            yield path
        for name, field in annotation.model_fields.items():
            yield from _model_fields(field.annotation, path + (name,))
    elif origin in (dict, list) and path:
        yield path
        yield from _model_fields(args[-1], path + ("*",))
    elif path:
        yield path


def _classified(path: tuple[str, ...]) -> bool:
    for length in range(len(path), 0, -1):
        kind = kind_of(path[:length])
        if kind is not None:
            return length == len(path) or not isinstance(kind, Keyed)
    return False


def test_every_profile_field_says_which_way_is_looser():
    """Add a profile field and this fails until FIELD_KINDS classifies it (or explicitly calls it neutral)."""
    paths = set(_model_fields(Profile, ()))
    leaves = {p for p in paths if not any(other[: len(p)] == p and other != p for other in paths)}
    unclassified = sorted(".".join(p) for p in leaves if not _classified(p))
    assert unclassified == []
    # ... and no entry of the table is stale
    stale = [pattern for pattern in FIELD_KINDS if not any(kind_of(path) is FIELD_KINDS[pattern] for path in paths)]
    assert stale == []


def profile(change=None) -> Profile:
    data = shipped_profile("bank")
    if change:
        change(data)
    return Profile.model_validate(data)


def directions(change, base=None) -> list[tuple[str, str]]:
    return [(c.field, c.direction) for c in compare_profiles(profile(base), profile(change), NOW)]


def _set(path: str, value):
    def change(data):
        *parents, last = path.split(".")
        for key in parents:
            data = data[int(key)] if isinstance(data, list) else data[key]
        data[last] = value

    return change


@pytest.mark.parametrize(
    ("field", "value", "direction"),
    [
        ("action_types.write.tiers.production", "single_approval", "loosening"),
        ("action_types.write.tiers.production", "block", "tightening"),
        ("action_types.write.risk.production", "medium", "loosening"),
        ("action_types.write.read_only", True, "loosening"),
        ("action_types.documentation.post_hoc_review", False, "loosening"),
        ("pii.exposure_tier", "auto_approve", "loosening"),
        ("pii.touch_floor", None, "loosening"),
        ("budget.per_action_usd", 1e9, "loosening"),
        ("budget.per_action_usd", 1, "tightening"),
        ("confidence.threshold", 0.1, "loosening"),
        ("novelty.tier", "single_approval", "loosening"),
        ("trust.minimums.low.min_reviewed", 1, "loosening"),
        ("trust.minimums.low.min_approval_rate", 0.5, "loosening"),
        ("trust.autonomous_risks.low", ["low", "medium"], "loosening"),
        ("trust.supervised_floor", "auto_approve", "loosening"),
        ("delivery.block", "none", "loosening"),
        ("approvals.required.double_approval", 1, "loosening"),
        ("approvals.lifetime_hours", 1000, "loosening"),
        ("approvals.unsigned_verdicts_count", True, "loosening"),
        ("approvals.people.0.roles", ["approver", "escalation_reviewer", "override_holder"], "loosening"),
        ("approvals.people.0.roles", ["approver"], "tightening"),
        ("rubber_stamping.min_decisions", 1000, "loosening"),
        ("waiver_policy.max_days", 365, "loosening"),
        ("history_novelty.enabled", True, "tightening"),  # off in bank
        ("history_novelty.fingerprint", ["agent"], "loosening"),
        ("daily_budget.per_agent_usd", None, "loosening"),
        ("daily_budget.organisation_usd", 10, "tightening"),
        ("calibration.enabled", False, "loosening"),
        ("calibration.min_samples_per_bin", 1, "loosening"),
        ("metadata.description", "other words", "neutral"),
    ],
)
def test_each_field_moves_one_way(field, value, direction):
    changes = directions(_set(field, value))
    assert changes and {d for _, d in changes} == {direction}, changes


def test_people_and_their_keys_compare_by_name():
    stranger = {"name": "intern", "roles": ["approver"], "keys": ["ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOX7djm5uy/eFOQ55PBOqTA1kbcFuU4Bp+isTs+dQiOy intern"]}
    assert directions(lambda p: p["approvals"]["people"].append(stranger)) == [("approvals.people.intern", "loosening")]
    assert directions(lambda p: p["approvals"]["people"].pop(0)) == [("approvals.people.model-risk-officer", "tightening")]
    second_key = lambda p: p["approvals"]["people"][0]["keys"].append(stranger["keys"][0])  # noqa: E731
    assert directions(second_key) == [("approvals.people.model-risk-officer.keys", "loosening")]


def test_turning_history_novelty_off_loosens():
    on = _set("history_novelty.enabled", True)
    assert directions(lambda p: None, base=on) == [("history_novelty.enabled", "loosening")]


def test_lists_compare_as_sets_and_collections_by_name():
    removed = directions(lambda p: p["destructive_statements"].pop(0))
    assert removed == [("destructive_statements", "loosening")]
    added = directions(lambda p: p["destructive_statements"].append({"pattern": "(?i)MERGE", "treated_as": "write"}))
    assert added == [("destructive_statements", "tightening")]
    reordered = directions(lambda p: p["destructive_statements"].reverse())
    assert reordered == []
    new_type = directions(lambda p: p["action_types"].update(bulk_load=p["action_types"]["write"]))
    assert new_type == [("action_types.bulk_load", "loosening")]
    new_environment = directions(lambda p: p["environments"].append("qa") or [
        t["tiers"].update(qa="block") or t["risk"].update(qa="high") for t in p["action_types"].values()
    ])
    # its cells are listed as neutral: the new environment itself is what loosens
    assert [change for change in new_environment if change[1] != "neutral"] == [("environments", "loosening")]


def test_a_new_or_widened_waiver_loosens_and_an_expired_one_is_nothing():
    with_waiver = _set("waivers", [WAIVER])
    assert directions(with_waiver) == [("waivers.WVR-1", "loosening")]
    assert directions(lambda p: None, base=with_waiver) == [("waivers.WVR-1", "tightening")]
    widened = _set("waivers", [{**WAIVER, "environment": None, "expires": "2027-01-10T00:00:00Z"}])
    assert directions(widened, base=with_waiver) == [
        ("waivers.WVR-1.environment", "loosening"), ("waivers.WVR-1.expires", "loosening"),
    ]
    assert directions(_set("waivers", [{**WAIVER, "reason": "reworded"}]), base=with_waiver) == [
        ("waivers.WVR-1.reason", "neutral")
    ]
    assert directions(_set("waivers", [{**WAIVER, "expires": "2026-12-01T00:00:00Z"}])) == []


def test_a_shorter_unwaivable_or_unoverridable_list_loosens():
    longer = lambda p: p["waiver_policy"]["unwaivable"].append("staging_write") or p["override_policy"][
        "unoverridable"].append("over_budget")
    assert directions(lambda p: None, base=longer) == [
        ("override_policy.unoverridable", "loosening"), ("waiver_policy.unwaivable", "loosening"),
    ]


def test_the_attack_candidate_loosens_with_no_history_at_all(opa_bin, tmp_path):
    """It removed every destructive pattern and set PII exposure to auto_approve, and passed with
    "0 decisions change"."""
    data = shipped_profile("bank")
    data["destructive_statements"] = []
    data["pii"]["exposure_tier"] = "auto_approve"
    candidate = write_yaml(tmp_path / "bank.yaml", data)
    diff = ("diff", "--profile", "bank", "--candidate", candidate, "--state", tmp_path / "no-store.db")
    result = hitl(*diff)
    assert result.returncode == 1, result.stderr
    assert "0 decisions change" in result.stdout
    assert result.stdout.count("LOOSENS  destructive_statements: removed") == 3
    assert 'LOOSENS  pii.exposure_tier: "block" -> "auto_approve"' in result.stdout
    report = json.loads(hitl(*diff, "--format", "json").stdout)
    assert report["loosens"] is True and report["evaluated"] == 0
    assert {(c["field"], c["direction"]) for c in report["profile_changes"]} == {
        ("destructive_statements", "loosening"), ("pii.exposure_tier", "loosening"),
    }
    assert hitl(*diff, "--allow-loosening").returncode == 0
    same = hitl("diff", "--profile", "bank", "--candidate", "bank", "--state", tmp_path / "no-store.db")
    assert same.returncode == 0 and "0 profile fields change" in same.stdout


def test_free_text_in_a_profile_change_cannot_start_a_line(opa_bin, tmp_path):
    data = shipped_profile("bank")
    data["waivers"] = [{**WAIVER, "reason": "ok\n::error::pwned"}]
    candidate = write_yaml(tmp_path / "bank.yaml", data)
    result = hitl("diff", "--profile", "bank", "--candidate", candidate, "--state", tmp_path / "none.db",
                  now="2026-12-15T12:00:00Z")
    assert result.returncode == 1, result.stderr
    assert not any(line.startswith("::") for line in result.stdout.splitlines())
