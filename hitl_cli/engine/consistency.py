"""Nothing an engine answers is believed before it is checked against what was asked and the profile asked for.

The checks never decide a tier: they only prove that an answer is one the policy could have given. A
decision takes the strictest of its reasons' tiers, names the profile asked for, requires the approvals and
uses the delivery that profile gives that tier (or its post-hoc delivery, for an auto-approved post-hoc
action), and answers the manifest asked about at its place in the batch. Any other answer is an engine
failure: a fake, stale or broken OPA cannot lower a decision by answering one that does not add up.
"""

from hitl_cli.errors import EngineError
from hitl_cli.models import Decision, Profile
from hitl_cli.models.common import TIERS

LOWEST_TIER = TIERS[0]


def require_count(result: object, asked: int) -> list:
    if not isinstance(result, list) or len(result) != asked:
        given = len(result) if isinstance(result, list) else "no list of"
        raise EngineError(f"policy returned {given} decisions for {asked} manifests")
    return result


def _inconsistency(profile: Profile, decision: Decision) -> str | None:
    if decision.profile != profile.name:
        return f"it is for profile {decision.profile!r}, not {profile.name!r}"
    if not decision.reasons:
        return f"tier {decision.tier} has no reason"
    strictest = max(decision.reasons, key=lambda reason: TIERS.index(reason.tier))
    if decision.tier != strictest.tier:
        return f"tier {decision.tier}, but its strictest reason ({strictest.code!r}) is {strictest.tier}"
    required = profile.approvals.required[decision.tier]
    if decision.approvals_required != required:
        return f"{decision.approvals_required} approvals required, but profile {profile.name} requires {required} for {decision.tier}"
    if decision.post_hoc_review and decision.tier != LOWEST_TIER:
        return f"post-hoc review of a {decision.tier} action (only {LOWEST_TIER} actions are reviewed after the fact)"
    delivery = profile.delivery.post_hoc_review if decision.post_hoc_review else getattr(profile.delivery, decision.tier)
    if decision.delivery != delivery:
        return f"delivery {decision.delivery}, but profile {profile.name} delivers {decision.tier} by {delivery}"
    return None


def require_consistent(profile: Profile, ids: list[str], decisions: list[Decision]) -> None:
    """Raise EngineError naming the first manifest whose decision does not add up (ids: the manifests asked about)."""
    for position, (decision, manifest_id) in enumerate(zip(decisions, ids, strict=True)):
        if decision.id != manifest_id:
            raise EngineError(
                f"policy returned decisions out of order: manifest {manifest_id!r} (number {position + 1} asked) "
                f"got the decision for {decision.id!r}"
            )
        problem = _inconsistency(profile, decision)
        if problem is not None:
            raise EngineError(f"policy returned an inconsistent decision for manifest {manifest_id!r}: {problem}")
