"""Whether a recorded or carried verdict counts: who gave it, in which role, and whether their signature holds.

A verdict counts only when its person is listed in the profile with a role that may give it, is not the agent
that asked, and - unless the profile counts unsigned verdicts - it is signed (SSHSIG, hitl_cli.signing) over the
statement of exactly this request, manifest, policy revision and tier, with a key the profile lists for that
person. It is judged when it is counted, against the people listed then; the store row, its audit record and
the hash chain vouch for none of this, so a row appended with a correct chain still counts for nothing.
The rules a write also checks (hitl_cli.workflow.duties) that decide whether a verdict can count at all - no
approval lifts a block, no override lifts an unoverridable reason - are held here too, for verdicts that never
went through a write (forged rows, verdict files).
"""

from dataclasses import dataclass
from datetime import datetime

from hitl_cli.models import Profile, names
from hitl_cli.models.profile import VERDICT_ROLES
from hitl_cli.models.workflow import Request, Verdict
from hitl_cli.signing import keys, sshsig
from hitl_cli.signing.statement import VerdictStatement

UNSIGNED_REFUSED = "it is unsigned, and the profile counts only signed verdicts (approvals.unsigned_verdicts_count)"


@dataclass(frozen=True)
class Judgement:
    counts: bool
    signed_with: str | None  # the fingerprint of the key that signed it, when it is signed
    why_not: str | None = None


def judge(request: Request, verdict: Verdict, profile: Profile, now: datetime) -> Judgement:
    claimed = sshsig.claimed_fingerprint(verdict.signature) if verdict.signature else None
    problem = _not_allowed(request, verdict, profile, now)
    if problem is None and verdict.signature is None:
        problem = None if profile.approvals.unsigned_verdicts_count else UNSIGNED_REFUSED
    elif problem is None:
        problem = _bad_signature(request, verdict, profile)
    return Judgement(counts=problem is None, signed_with=claimed, why_not=problem)


def _not_allowed(request: Request, verdict: Verdict, profile: Profile, now: datetime) -> str | None:
    refused_name = names.problem(verdict.person)
    if refused_name:
        return f"its person {ascii(verdict.person)} {refused_name}"
    if names.same(verdict.person, request.agent):
        return f"{verdict.person} is the agent that asked"
    person = profile.approvals.person(verdict.person)
    if person is None:
        return f"{verdict.person} is not among the profile's people (approvals.people)"
    if not VERDICT_ROLES[verdict.kind] & set(person.roles):
        return f"{person.name} holds no role that may {verdict.kind} ({', '.join(sorted(VERDICT_ROLES[verdict.kind]))})"
    if verdict.kind == "approve" and request.decision.tier == "block":
        return "a blocked request is lifted only by an override"
    unoverridable = {r.code for r in request.decision.reasons} & set(profile.override_policy.unoverridable)
    if verdict.kind == "override" and unoverridable:
        return f"no override lifts {', '.join(sorted(unoverridable))} (override_policy.unoverridable)"
    if verdict.at > now:
        return f"it is dated {verdict.at.isoformat()}, after now"
    return None


def _bad_signature(request: Request, verdict: Verdict, profile: Profile) -> str | None:
    message = VerdictStatement.of(request, verdict).message()
    try:
        signer = sshsig.signer(message, verdict.signature)
    except sshsig.InvalidSignature:
        return "its signature does not verify for this request, manifest, policy revision and verdict"
    person = profile.approvals.person(verdict.person)
    if not any(keys.public_key(line) == signer for line in person.keys):
        return f"it is signed with {keys.fingerprint(signer)}, a key the profile does not list for {person.name}"
    return None
