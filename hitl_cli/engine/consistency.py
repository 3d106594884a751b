"""Nothing an engine answers is believed before it is checked against what was asked and the profile asked for.

The checks never decide a tier: they only prove that an answer is one the policy could have given. A
decision takes the strictest of its reasons' tiers, names the profile asked for, requires the approvals and
uses the delivery that profile gives that tier (or its post-hoc delivery, for an auto-approved post-hoc
action), answers the manifest asked about at its place in the batch, and is no lower than what the policy's
unwaivable rules give that manifest (PII exposure, an unanalysable statement, the types its statement counts as).
Any other answer is an engine failure: a fake, stale or broken OPA cannot lower a decision by answering one that
does not add up, even one that replays the policy revision it is expected to publish.
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


def _floors(profile: Profile, manifest: dict, facts: dict) -> list[tuple[str, str]]:
    """(tier, why) for each reason the policy gives this manifest whatever else holds - none of them can be
    waived below the gate floor (hitl_cli/gate_floor.yaml): PII exposure, an unanalysable statement, and each
    type a statement's operations count as besides the declared one. A remote engine that replays the
    published revision still cannot answer below these."""
    found = []
    if manifest["impact"]["exposes_pii"]:
        found.append((profile.pii.exposure_tier, "it exposes PII"))
    kinds = profile.statements.kinds
    operations = facts["statements"]
    if facts["unanalysable"] or any(op["kind"] not in kinds for op in operations):
        found.append((profile.statements.unanalysable_tier, "its statement cannot be analysed"))
    environment, declared = manifest["target"]["environment"], manifest["action"]["type"]
    for action_type in {kinds[op["kind"]] for op in operations if op["kind"] in kinds} - {declared}:
        policy = profile.action_types.get(action_type)
        if policy is None:
            found.append((profile.novelty.tier, f"its statement counts as {action_type!r}, a type the profile lacks"))
        elif not policy.read_only and environment in policy.tiers:
            found.append((policy.tiers[environment], f"its statement counts as {action_type} in {environment}"))
    return found


def _below_floor(profile: Profile, manifest: dict, facts: dict, decision: Decision) -> str | None:
    for tier, why in _floors(profile, manifest, facts):
        if TIERS.index(tier) > decision.severity:
            return f"tier {decision.tier}, but {why}, which needs at least {tier}"
    return None


def require_consistent(
    profile: Profile, ids: list[str], decisions: list[Decision], manifests: list[dict], facts: list[dict]
) -> None:
    """Raise EngineError naming the first manifest whose decision does not add up (ids: the manifests asked about;
    manifests and facts: their policy input and statement facts, in the same order)."""
    for position, (decision, manifest_id) in enumerate(zip(decisions, ids, strict=True)):
        if decision.id != manifest_id:
            raise EngineError(
                f"policy returned decisions out of order: manifest {manifest_id!r} (number {position + 1} asked) "
                f"got the decision for {decision.id!r}"
            )
        problem = _inconsistency(profile, decision) or _below_floor(profile, manifests[position], facts[position], decision)
        if problem is not None:
            raise EngineError(f"policy returned an inconsistent decision for manifest {manifest_id!r}: {problem}")
