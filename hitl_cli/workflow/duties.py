"""Separation of duties: who may approve, reject, override or review a request, and when.

Every check raises Refused (exit 6) with the rule that was broken; none of them changes anything. People and
agents are compared by identity (hitl_cli.models.names), never by spelling.
"""

from hitl_cli.errors import Refused
from hitl_cli.models import Profile, names
from hitl_cli.models.profile import VERDICT_ROLES
from hitl_cli.models.workflow import Request, Review
from hitl_cli.workflow.requirements import non_reviewer_room, requirement
from hitl_cli.workflow.status import Standing

_DEAD_ENDS = {
    "rejected": "it was rejected{by}, and a rejection is final",
    "stale": "it is stale ({why}): submit the action again",
    "expired": "its approval lifetime has passed: submit the action again",
}


def _listed(person: str, people: list[str]) -> bool:
    return any(names.same(person, listed) for listed in people)


def _not_a_dead_end(request: Request, standing: Standing, verb: str) -> None:
    if standing.status in _DEAD_ENDS:
        by = f" by {standing.rejection.person}" if standing.rejection else ""
        why = _DEAD_ENDS[standing.status].format(by=by, why=standing.stale_reason)
        raise Refused(f"request {request.id} cannot be {verb}: {why}")


def _not_the_agent(request: Request, person: str) -> None:
    if names.same(person, request.agent):
        raise Refused(
            f"{person} is the agent that asked for request {request.id}; an agent never decides its own request"
        )


def _reason_given(reason: str | None, what: str) -> None:
    if reason is None or not reason.strip():
        raise Refused(f"{what} needs a reason: pass --reason with a non-empty text")


def _escalation_reviewer(request: Request, standing: Standing, person: str, profile: Profile, room: bool) -> None:
    """room: whether someone other than a reviewer still has an approval to give (an escalation that also
    needs double approval needs a reviewer and one other person)."""
    reviewers = profile.approvals.holding("escalation_reviewer")
    if standing.status == "escalated" and not _listed(person, reviewers) and not room:
        raise Refused(
            f"request {request.id} is escalated: only the profile's escalation reviewers "
            f"({', '.join(reviewers) or 'none named'}) decide it now, and {person} is not one"
        )


def _in_role(person: str, kind: str, profile: Profile) -> None:
    listed = profile.approvals.person(person)
    roles = VERDICT_ROLES[kind]
    if listed is None or not roles & set(listed.roles):
        holders = sorted({p.name for p in profile.approvals.people if roles & set(p.roles)})
        raise Refused(
            f"only the profile's people with the role {' or '.join(sorted(roles))} ({', '.join(holders) or 'none named'}) "
            f"may {kind}, and {person} is not one"
        )


def check_approval(request: Request, standing: Standing, person: str, profile: Profile) -> None:
    _not_the_agent(request, person)
    _not_a_dead_end(request, standing, "approved")
    if standing.status == "blocked":
        raise Refused(f"request {request.id} is blocked: it cannot be approved, only overridden by an override holder")
    if standing.status in ("approved", "overridden"):
        raise Refused(f"request {request.id} is already {standing.status}: it needs no more approvals")
    earlier = next((a for a in standing.approvals if names.same(a.person, person)), None)
    if earlier is not None:
        raise Refused(
            f"{person} already approved request {request.id} (as {earlier.person}); "
            "no person approves a request twice, the next approval must come from someone else"
        )
    room = non_reviewer_room(requirement(request.decision, profile), standing.approvals)
    _escalation_reviewer(request, standing, person, profile, room)
    _in_role(person, "approve", profile)


def check_rejection(request: Request, standing: Standing, person: str, reason: str | None, profile: Profile) -> None:
    _reason_given(reason, "a rejection")
    _not_the_agent(request, person)
    _not_a_dead_end(request, standing, "rejected")
    if request.decision.tier == "auto_approve":
        raise Refused(
            f"request {request.id} was auto-approved: review it after the fact with `hitl review mark` instead"
        )
    if standing.status == "overridden":
        raise Refused(f"request {request.id} was overridden by {standing.override.person}; it cannot be rejected now")
    _escalation_reviewer(request, standing, person, profile, room=False)
    _in_role(person, "reject", profile)


def check_override(request: Request, standing: Standing, person: str, reason: str | None, profile: Profile) -> None:
    _reason_given(reason, "an override")
    _not_the_agent(request, person)
    _not_a_dead_end(request, standing, "overridden")
    holders = profile.approvals.holding("override_holder")
    if not _listed(person, holders):
        raise Refused(
            f"only the profile's override holders ({', '.join(holders) or 'none named'}) may override, "
            f"and {person} is not one"
        )
    if standing.status not in ("blocked", "pending", "escalated"):
        raise Refused(f"request {request.id} is {standing.status}: only a blocked or waiting request can be overridden")
    unoverridable = sorted({r.code for r in request.decision.reasons} & set(profile.override_policy.unoverridable))
    if unoverridable:
        raise Refused(
            f"request {request.id} cannot be overridden: its reasons include {', '.join(unoverridable)}, "
            "which the profile's override_policy.unoverridable holds beyond any override"
        )


def check_review(request: Request, existing: Review | None, person: str, verdict: str, reason: str | None) -> None:
    if request.decision.tier != "auto_approve":
        raise Refused(
            f"request {request.id} was not auto-approved ({request.decision.tier}): people decide it before it runs, "
            "with approve or reject"
        )
    if existing is not None:
        raise Refused(f"request {request.id} was already reviewed by {existing.person} ({existing.verdict})")
    _not_the_agent(request, person)
    if verdict == "wrong":
        _reason_given(reason, "a `wrong` verdict")
