"""`hitl profile lint`: what is wrong with a valid profile - above all, waivers that expired.

Lint never decides anything: the policy (rego/hitl/waivers.rego) applies waivers, and ignores an expired
one by itself. Lint tells the people who own the profile what to clean up, as `file: field.path: message`.
"""

from datetime import datetime

from hitl_cli.errors import Problem
from hitl_cli.models import Profile
from hitl_cli.models.common import TIERS


def lint(profile: Profile, source: str, now: datetime) -> list[Problem]:
    """Every finding, in profile order."""
    findings: list[Problem] = []
    strictest = TIERS[-1]
    for index, waiver in enumerate(profile.waivers):
        at = f"waivers[{index}]"
        if waiver.expired(now):
            findings.append(
                Problem(
                    source,
                    f"{at}.expires",
                    f"waiver {waiver.id} expired at {waiver.expires.isoformat()}: it is ignored in every decision; "
                    "remove it, or renew it with a new approval",
                )
            )
        if waiver.action_type not in profile.action_types:
            findings.append(
                Problem(
                    source,
                    f"{at}.action_type",
                    f"waiver {waiver.id} names {waiver.action_type!r}, which is not an action type of this profile "
                    "(such actions escalate as unknown; the waiver would lower that)",
                )
            )
        if waiver.environment is not None and waiver.environment not in profile.environments:
            findings.append(
                Problem(
                    source,
                    f"{at}.environment",
                    f"waiver {waiver.id} names {waiver.environment!r}, which is not an environment of this profile",
                )
            )
        if waiver.lower_to == strictest:
            findings.append(Problem(source, f"{at}.lower_to", f"waiver {waiver.id} lowers to {strictest}: it lowers nothing"))
    return findings
