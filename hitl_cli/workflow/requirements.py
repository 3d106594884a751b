"""Who a request needs before its action may run, derived from every tier its reasons reach.

Each tier the decision or one of its reasons reaches needs `approvals.required[tier]` of the profile in force,
from different people (different identities, hitl_cli.models.names); an `escalate` reason needs that many of
them to be escalation reviewers. The request needs all of it at once: an escalated action with a
double_approval reason needs an escalation reviewer and someone else. The count a recorded decision carries
(`approvals_required`) is never read: a store row or an engine answer cannot lower it.
"""

from dataclasses import dataclass

from hitl_cli.models import Decision, Profile, names
from hitl_cli.models.workflow import Verdict


@dataclass(frozen=True)
class Requirement:
    people: int  # different people in all
    reviewers: int  # how many of them must be escalation reviewers
    reviewer_names: tuple[str, ...]

    @property
    def others(self) -> int:
        """How many of the people may be anyone but the agent."""
        return max(self.people - self.reviewers, 0)

    def is_reviewer(self, person: str) -> bool:
        return any(names.same(person, reviewer) for reviewer in self.reviewer_names)


@dataclass(frozen=True)
class Missing:
    people: int
    reviewers: int

    @property
    def approvals(self) -> int:
        return max(self.people, self.reviewers)


def requirement(decision: Decision, profile: Profile) -> Requirement:
    required = profile.approvals.required
    tiers = {decision.tier} | {reason.tier for reason in decision.reasons}
    return Requirement(
        people=max(required[tier] for tier in tiers),
        reviewers=required["escalate"] if "escalate" in tiers else 0,
        reviewer_names=tuple(profile.approvals.holding("escalation_reviewer")),
    )


def missing(needed: Requirement, approvals: list[Verdict]) -> Missing:
    people = {names.key(approval.person): approval.person for approval in approvals}
    reviewers = sum(1 for person in people.values() if needed.is_reviewer(person))
    return Missing(people=max(needed.people - len(people), 0), reviewers=max(needed.reviewers - reviewers, 0))


def non_reviewer_room(needed: Requirement, approvals: list[Verdict]) -> bool:
    """Whether one more approval from someone who is not an escalation reviewer still counts."""
    others = {names.key(a.person) for a in approvals if not needed.is_reviewer(a.person)}
    return len(others) < needed.others
