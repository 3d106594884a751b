"""What a request needs, from every tier its reasons reach and the profile in force: in-process, no OPA."""

from datetime import UTC, datetime

import pytest

from hitl_cli.inputs import load_profile, profile_path
from hitl_cli.models import Decision
from hitl_cli.models.workflow import Verdict
from hitl_cli.workflow.requirements import missing, non_reviewer_room, requirement

PROFILE = load_profile(profile_path("default"))  # escalate: 1 reviewer; double_approval: 2 people


def decision(tier: str, *reason_tiers: str, approvals_required: int = 0) -> Decision:
    return Decision(
        id="m", tier=tier, approvals_required=approvals_required, post_hoc_review=False, delivery="interrupt",
        agent_level="medium", profile="default", agent="etl-agent", action_type="write", declared_type="write",
        environment="production", risk="high",
        reasons=[{"code": f"r{i}", "tier": t, "message": "m"} for i, t in enumerate((tier, *reason_tiers))],
    )


def approvals(*people: str) -> list[Verdict]:
    at = datetime(2026, 11, 30, tzinfo=UTC)
    return [Verdict(request_id="m", kind="approve", person=person, at=at) for person in people]


@pytest.mark.parametrize(
    "tiers, people, reviewers",
    [
        (("single_approval",), 1, 0),
        (("double_approval", "single_approval"), 2, 0),
        (("escalate",), 1, 1),
        (("escalate", "double_approval"), 2, 1),
        (("escalate", "single_approval", "double_approval"), 2, 1),
    ],
)
def test_every_reason_tier_adds_its_need(tiers, people, reviewers):
    needed = requirement(decision(*tiers), PROFILE)
    assert (needed.people, needed.reviewers) == (people, reviewers)


def test_the_recorded_count_is_never_read():
    assert requirement(decision("double_approval", approvals_required=0), PROFILE).people == 2
    assert requirement(decision("auto_approve", "double_approval", approvals_required=0), PROFILE).people == 2


def test_the_profile_in_force_sets_the_counts():
    stricter = PROFILE.model_copy(deep=True)
    stricter.approvals.required["double_approval"] = 3
    stricter.approvals.required["escalate"] = 2
    needed = requirement(decision("escalate", "double_approval"), stricter)
    assert (needed.people, needed.reviewers) == (3, 2)


def test_an_escalation_with_double_approval_needs_a_reviewer_and_someone_else():
    needed = requirement(decision("escalate", "double_approval"), PROFILE)
    assert missing(needed, approvals("alice")).approvals == 1
    assert missing(needed, approvals("alice")).reviewers == 1
    assert missing(needed, approvals("security-oncall")).approvals == 1
    assert missing(needed, approvals("alice", "security-oncall")).approvals == 0
    assert non_reviewer_room(needed, approvals("security-oncall"))
    assert not non_reviewer_room(needed, approvals("alice"))


def test_one_person_under_two_spellings_counts_once():
    needed = requirement(decision("escalate", "double_approval"), PROFILE)
    assert missing(needed, approvals("Security\u2010Oncall", "ＳＥＣＵＲＩＴＹ-ONCALL")).approvals == 1
    assert missing(requirement(decision("double_approval"), PROFILE), approvals("alice", "ＡＬＩＣＥ")).people == 1
