"""Every row of both tables in spec/profiles.md, for all three shipped profiles, against the real OPA."""

import pytest

from conftest import make_manifest

PROFILES = ("default", "startup", "bank")
ENVIRONMENTS = ("dev", "staging", "production")
POST_HOC_TYPES = ("catalog_update", "documentation", "test_generation")

# (action types, environments, (default, startup, bank)) for a fully trusted, confident, reversible action.
ACTION_TABLE = [
    (("read",), ENVIRONMENTS, ("auto_approve", "auto_approve", "auto_approve")),
    (POST_HOC_TYPES, ENVIRONMENTS, ("auto_approve", "auto_approve", "auto_approve")),
    (("test_execution",), ("staging",), ("single_approval", "auto_approve", "single_approval")),
    (("write",), ("dev",), ("auto_approve", "auto_approve", "single_approval")),
    (("write",), ("staging",), ("single_approval", "auto_approve", "single_approval")),
    (("write",), ("production",), ("double_approval", "single_approval", "double_approval")),
    (("schema_migration",), ("staging",), ("single_approval", "single_approval", "double_approval")),
    (("schema_migration",), ("production",), ("double_approval", "double_approval", "double_approval")),
    (("delete", "drop"), ("staging",), ("double_approval", "single_approval", "block")),
    (("delete", "drop"), ("production",), ("block", "block", "block")),
    (("grant_access",), ("production",), ("double_approval", "double_approval", "double_approval")),
]

ACTION_CASES = [
    pytest.param(profile, action_type, env, expected[index], id=f"{profile}-{action_type}-{env}")
    for types, environments, expected in ACTION_TABLE
    for action_type in types
    for env in environments
    for index, profile in enumerate(PROFILES)
]


@pytest.mark.parametrize(("profile", "action_type", "env", "expected"), ACTION_CASES)
def test_action_table(policy, profile, action_type, env, expected):
    decision = policy.decide(profile, make_manifest(type=action_type, env=env))
    assert decision.tier == expected, decision.reasons
    assert decision.agent_level == "medium"
    assert decision.profile == profile
    assert decision.post_hoc_review == (action_type in POST_HOC_TYPES)


@pytest.mark.parametrize("profile", PROFILES)
def test_exposing_pii_blocks(policy, profile):
    decision = policy.decide(profile, make_manifest(type="read", env="dev", pii=True, exposes_pii=True))
    assert decision.tier == "block"
    assert "pii_exposure" in {r.code for r in decision.reasons}


@pytest.mark.parametrize(
    ("profile", "expected"), [("default", "single_approval"), ("startup", "auto_approve"), ("bank", "double_approval")]
)
def test_touching_pii_floor(policy, profile, expected):
    assert policy.decide(profile, make_manifest(type="read", env="dev", pii=True)).tier == expected


@pytest.mark.parametrize(("profile", "budget"), [("default", 100), ("startup", 250), ("bank", 50)])
def test_per_action_budget(policy, profile, budget):
    at_budget = policy.decide(profile, make_manifest(type="read", cost=budget))
    over = policy.decide(profile, make_manifest(type="read", cost=budget + 0.01))
    assert at_budget.tier == "auto_approve"
    assert over.tier == "block"
    reason = next(r for r in over.reasons if r.code == "over_budget")
    assert str(budget) in reason.message


@pytest.mark.parametrize(("profile", "threshold"), [("default", 0.80), ("startup", 0.70), ("bank", 0.90)])
def test_confidence_threshold_for_non_read(policy, profile, threshold):
    # test_generation auto-approves in every profile, so only the confidence rule can move it.
    at = policy.decide(profile, make_manifest(type="test_generation", confidence=threshold))
    under = policy.decide(profile, make_manifest(type="test_generation", confidence=round(threshold - 0.01, 2)))
    missing = policy.decide(profile, make_manifest(type="test_generation", confidence=None))
    assert at.tier == "auto_approve"
    assert under.tier == "escalate"
    assert missing.tier == "escalate"
    assert "low_confidence" in {r.code for r in missing.reasons}


@pytest.mark.parametrize("profile", PROFILES)
def test_confidence_does_not_apply_to_reads(policy, profile):
    assert policy.decide(profile, make_manifest(type="read", confidence=0.05)).tier == "auto_approve"
    assert policy.decide(profile, make_manifest(type="read", confidence=None)).tier == "auto_approve"


@pytest.mark.parametrize("profile", PROFILES)
@pytest.mark.parametrize(
    ("overrides", "code"),
    [
        ({"type": "read", "novel": True}, "novel_action"),
        ({"type": "reindex"}, "unknown_action_type"),
        ({"type": "read", "env": "qa"}, "unknown_environment"),
    ],
    ids=["novel-flag", "unknown-type", "unknown-environment"],
)
def test_novelty_escalates(policy, profile, overrides, code):
    decision = policy.decide(profile, make_manifest(**overrides))
    assert decision.tier == "escalate"
    assert code in {r.code for r in decision.reasons}


@pytest.mark.parametrize("profile", PROFILES)
@pytest.mark.parametrize("action_type", POST_HOC_TYPES)
def test_irreversible_post_hoc_needs_approval(policy, profile, action_type):
    decision = policy.decide(profile, make_manifest(type=action_type, reversible=False))
    assert decision.tier == "single_approval"
    assert not decision.post_hoc_review
    assert "irreversible_post_hoc" in {r.code for r in decision.reasons}


@pytest.mark.parametrize("profile", PROFILES)
@pytest.mark.parametrize(
    ("overrides", "tier", "delivery"),
    [
        ({"type": "read"}, "auto_approve", "none"),
        ({"type": "documentation"}, "auto_approve", "digest"),
        ({"type": "schema_migration", "env": "production"}, "double_approval", "interrupt"),
        ({"type": "write", "confidence": 0.1}, "escalate", "interrupt"),
        ({"type": "drop", "env": "production"}, "block", "interrupt"),
    ],
)
def test_delivery(policy, profile, overrides, tier, delivery):
    decision = policy.decide(profile, make_manifest(**overrides))
    assert (decision.tier, decision.delivery) == (tier, delivery)


@pytest.mark.parametrize("profile", ["default", "bank"])
def test_single_approval_goes_to_the_digest(policy, profile):
    decision = policy.decide(profile, make_manifest(type="test_execution", env="staging"))
    assert (decision.tier, decision.delivery, decision.approvals_required) == ("single_approval", "digest", 1)


@pytest.mark.parametrize("profile", PROFILES)
def test_approvals_required_follow_the_tier(policy, profile):
    expected = {"auto_approve": 0, "single_approval": 1, "double_approval": 2, "escalate": 1, "block": 0}
    manifests = [
        make_manifest(id="auto", type="read"),
        make_manifest(id="double", type="schema_migration", env="production"),
        make_manifest(id="escalate", type="read", novel=True),
        make_manifest(id="block", type="drop", env="production"),
    ]
    for decision in policy.decide_many(profile, manifests):
        assert decision.approvals_required == expected[decision.tier]


@pytest.mark.parametrize(
    ("profile", "action_type", "env", "risk"),
    [
        ("default", "read", "production", "low"),
        ("default", "catalog_update", "production", "low"),
        ("default", "test_execution", "staging", "medium"),
        ("default", "write", "dev", "medium"),
        ("default", "write", "staging", "medium"),
        ("default", "write", "production", "high"),
        ("default", "schema_migration", "dev", "high"),
        ("default", "delete", "dev", "high"),
        ("default", "grant_access", "dev", "high"),
    ],
)
def test_risk_classes(policy, profile, action_type, env, risk):
    assert policy.decide(profile, make_manifest(type=action_type, env=env)).risk == risk


def test_reasons_are_ordered_strictest_first(policy):
    decision = policy.decide("default", make_manifest(type="write", env="production", exposes_pii=True, confidence=0.1))
    severities = [["auto_approve", "single_approval", "double_approval", "escalate", "block"].index(r.tier) for r in decision.reasons]
    assert severities == sorted(severities, reverse=True)
    assert decision.tier == decision.reasons[0].tier == "block"
