"""Where a request stands now: its status, its approvals, and whether the action may run.

Recorded facts (verdicts, supersession) meet time and the current policy revision here:
- a request decided under another policy or profile revision than today's is `stale`;
- each approval and override counts for the profile's `approvals.lifetime_hours` after it was given;
  once one has lapsed the request is `expired` - it must be submitted again;
- only verdicts that count (hitl_cli.workflow.signatures: a listed person, in a role, signed) are counted;
  the others are listed as ignored, and a request's recorded status never stands in for them;
- a rejection is final, whatever happens later;
- what it needs comes from the profile in force and every tier its reasons reach (hitl_cli.workflow.requirements),
  never from the count its recorded decision carries.
"""

from datetime import datetime, timedelta

from hitl_cli.models.common import DeferredModel
from hitl_cli.models.workflow import INITIAL_STATUS, Request, RequestStatus, Verdict
from hitl_cli.workflow.policy_context import PolicyContext
from hitl_cli.workflow.requirements import Missing, Requirement, missing, requirement
from hitl_cli.workflow.signatures import judge

RUNNABLE: frozenset[RequestStatus] = frozenset({"approved", "overridden"})
WAITING: frozenset[RequestStatus] = frozenset({"pending", "escalated", "blocked"})
DEAD: frozenset[RequestStatus] = frozenset({"rejected", "stale", "expired"})


class Ignored(DeferredModel):
    verdict: Verdict
    why: str


class Standing(DeferredModel):
    status: RequestStatus
    may_run: bool
    approvals: list[Verdict]
    rejection: Verdict | None
    override: Verdict | None
    approvals_required: int
    approvals_missing: int
    reviewers_missing: int
    valid_until: datetime | None
    stale_reason: str | None
    ignored: list[Ignored] = []


def lifetime(context: PolicyContext) -> timedelta | None:
    return timedelta(hours=context.profile.approvals.lifetime_hours) if context.profile else None


def standing(request: Request, verdicts: list[Verdict], context: PolicyContext, now: datetime) -> Standing:
    judged = [(v, judge(request, v, context.profile, now)) for v in verdicts] if context.profile else []
    ignored = [Ignored(verdict=v, why=judgement.why_not) for v, judgement in judged if not judgement.counts]
    verdicts = [v for v, judgement in judged if judgement.counts]
    approvals = [v for v in verdicts if v.kind == "approve"]
    rejection = next((v for v in verdicts if v.kind == "reject"), None)
    override = next((v for v in verdicts if v.kind == "override"), None)
    needed = requirement(request.decision, context.profile) if context.profile else None
    lacking = missing(needed, approvals) if needed else Missing(people=0, reviewers=0)
    status, valid_until, stale_reason = _status(request, rejection, approvals, override, needed, lacking, context, now)
    return Standing(
        status=status,
        may_run=status in RUNNABLE,
        approvals=approvals,
        rejection=rejection,
        override=override,
        approvals_required=needed.people if needed else 0,
        approvals_missing=lacking.approvals,
        reviewers_missing=lacking.reviewers,
        valid_until=valid_until,
        stale_reason=stale_reason,
        ignored=ignored,
    )


def _status(
    request: Request,
    rejection: Verdict | None,
    approvals: list[Verdict],
    override: Verdict | None,
    needed: Requirement | None,
    lacking: Missing,
    context: PolicyContext,
    now: datetime,
) -> tuple[RequestStatus, datetime | None, str | None]:
    """(status, valid until, why stale). `needed` is None only when the profile cannot be read (then stale)."""
    if rejection is not None:
        return "rejected", None, None
    if request.status == "stale":
        return "stale", None, f"superseded by request {request.superseded_by}"
    if context.revision is None or needed is None:
        return "stale", None, context.problem
    if context.revision != request.policy_revision:
        return "stale", None, "the policies or the profile changed after it was decided"
    if request.decision.tier == "auto_approve" and needed.people == 0:
        return "approved", None, None
    ttl = lifetime(context)
    if override is not None:
        return ("overridden", override.at + ttl, None) if now < override.at + ttl else ("expired", None, None)
    if any(now >= approval.at + ttl for approval in approvals):
        return "expired", None, None
    if approvals and lacking.approvals == 0:
        return "approved", min(approval.at for approval in approvals) + ttl, None
    waiting = INITIAL_STATUS[request.decision.tier]  # never the recorded status: a forged row could set it
    return ("pending" if waiting == "approved" else waiting), None, None
