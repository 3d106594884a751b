"""A request as people and scripts see it: everything `status --format json`, the queue and the
notify/digest templates show, including the exact commands that decide it."""

import functools
import shlex
import sqlite3
from datetime import datetime
from pathlib import Path

from hitl_cli import collector
from hitl_cli.models import ActionManifest, Decision, names
from hitl_cli.models.common import DeferredModel
from hitl_cli.models.workflow import Request, RequestStatus, Review, Verdict
from hitl_cli.signing import sshsig
from hitl_cli.store import outbox, records
from hitl_cli.store.connection import DEFAULT_STATE_PATH
from hitl_cli.workflow.policy_context import PolicyContext, PolicyContexts
from hitl_cli.workflow.status import Standing, lifetime, standing

ANYONE = "YOUR_NAME"
KEY = "YOUR_KEY_FILE"


class VerdictView(DeferredModel):
    kind: str
    person: str  # as typed
    identity: str  # what hitl compares (hitl_cli.models.names)
    reason: str | None
    at: datetime
    expires_at: datetime | None
    signed_with: str | None  # the fingerprint of the key that signed it; None: unsigned


class IgnoredView(VerdictView):
    """A recorded verdict that does not count, and why (hitl_cli.workflow.signatures)."""

    why: str


class Command(DeferredModel):
    action: str
    command: str


class Undelivered(DeferredModel):
    """A message about the request that `hitl deliver` could not deliver: failed for good, or still retrying."""

    channel: str
    delivery: str
    status: str
    attempts: int
    error: str | None


class RequestView(DeferredModel):
    id: str
    manifest_id: str
    status: RequestStatus
    may_run: bool
    approvals_required: int
    approvals_missing: int
    reviewers_missing: int
    approvals: list[VerdictView]
    rejection: VerdictView | None
    override: VerdictView | None
    ignored: list[IgnoredView] = []
    review: Review | None
    awaiting_review: bool
    waiting_for: str | None
    deciders: list[str]
    valid_until: datetime | None
    stale_reason: str | None
    superseded_by: str | None
    submitted_at: datetime
    profile: str
    manifest_sha256: str
    policy_revision: str
    decision: Decision
    manifest: ActionManifest
    commands: list[Command]
    undelivered: list[Undelivered] = []


def build(
    request: Request, verdicts: list[Verdict], review: Review | None, context: PolicyContext, now: datetime, state: Path,
    undelivered: list[Undelivered] | None = None,
) -> RequestView:
    now_standing = standing(request, verdicts, context, now)
    ttl = lifetime(context)

    def shown(verdict: Verdict | None) -> VerdictView | None:
        if verdict is None:
            return None
        expires = verdict.at + ttl if ttl is not None and verdict.kind != "reject" else None
        return VerdictView(
            kind=verdict.kind, person=verdict.person, identity=names.key(verdict.person), reason=verdict.reason,
            at=verdict.at, expires_at=expires, signed_with=sshsig.claimed_fingerprint(verdict.signature or ""),
        )

    awaiting_review = request.decision.post_hoc_review and review is None
    deciders = _deciders(now_standing.status, context)
    return RequestView(
        id=request.id,
        manifest_id=request.manifest_id,
        status=now_standing.status,
        may_run=now_standing.may_run,
        approvals_required=now_standing.approvals_required,
        approvals_missing=now_standing.approvals_missing,
        reviewers_missing=now_standing.reviewers_missing,
        approvals=[shown(a) for a in now_standing.approvals],
        rejection=shown(now_standing.rejection),
        override=shown(now_standing.override),
        ignored=[IgnoredView(**shown(item.verdict).model_dump(), why=item.why) for item in now_standing.ignored],
        review=review,
        awaiting_review=awaiting_review,
        waiting_for=_waiting_for(request, now_standing, deciders, awaiting_review),
        deciders=deciders,
        valid_until=now_standing.valid_until,
        stale_reason=now_standing.stale_reason,
        superseded_by=request.superseded_by,
        submitted_at=request.submitted_at,
        profile=request.decision.profile,
        manifest_sha256=request.manifest_sha256,
        policy_revision=request.policy_revision,
        decision=request.decision,
        manifest=request.manifest,
        commands=_commands(request.id, now_standing.status, deciders, awaiting_review, state),
        undelivered=undelivered or [],
    )


def load(
    connection: sqlite3.Connection, request: Request, contexts: PolicyContexts, now: datetime, state: Path
) -> RequestView:
    return build(
        request,
        records.verdicts_for(connection, request.id),
        records.review_for(connection, request.id),
        contexts.for_request(request),
        now,
        state,
        _undelivered(connection, request.id).get(request.id),
    )


def load_all(connection: sqlite3.Connection, contexts: PolicyContexts, now: datetime, state: Path) -> list[RequestView]:
    """Every request, oldest first, read in one pass over each table."""
    with collector.paused():
        verdicts: dict[str, list[Verdict]] = {}
        for verdict in records.all_verdicts(connection):
            verdicts.setdefault(verdict.request_id, []).append(verdict)
        reviews = {review.request_id: review for review in records.all_reviews(connection)}
        undelivered = _undelivered(connection)
        return [
            build(request, verdicts.get(request.id, []), reviews.get(request.id), contexts.for_request(request), now,
                  state, undelivered.get(request.id))
            for request in records.all_requests(connection)
        ]


def _undelivered(connection: sqlite3.Connection, request_id: str | None = None) -> dict[str, list[Undelivered]]:
    found: dict[str, list[Undelivered]] = {}
    for row in outbox.problems(connection, request_id=request_id):
        found.setdefault(row["request_id"], []).append(Undelivered(**row))
    return found


def _deciders(status: RequestStatus, context: PolicyContext) -> list[str]:
    """Who may decide it now when only some of the profile's people may (by role); an empty list means any
    approver but the agent."""
    if context.profile is None:
        return []
    if status == "escalated":
        return context.profile.approvals.holding("escalation_reviewer")
    if status == "blocked":
        return context.profile.approvals.holding("override_holder")
    return []


def _approvals(count: int, request: Request) -> str:
    return f"{count} more approval{'s' if count != 1 else ''} (anyone but {request.agent}, each person once)"


def _waiting_for(request: Request, now: Standing, deciders: list[str], awaiting_review: bool) -> str | None:
    status = now.status
    if status == "pending":
        return _approvals(now.approvals_missing, request)
    if status == "escalated":
        reviewers = f"an escalation reviewer: {', '.join(deciders) or 'none named in the profile'}"
        others = now.approvals_missing - now.reviewers_missing
        if not now.reviewers_missing:
            return _approvals(now.approvals_missing, request)
        return reviewers + (f"; and {_approvals(others, request)}" if others > 0 else "")
    if status == "blocked":
        return f"an override holder, to override with a reason: {', '.join(deciders) or 'none named in the profile'}"
    if status == "approved" and awaiting_review:
        return "a post-hoc review"
    return None


def _commands(
    request_id: str, status: RequestStatus, deciders: list[str], awaiting_review: bool, state: Path
) -> list[Command]:
    quoted_id = shlex.quote(request_id)
    return [
        Command(action=action, command=f"{before} {quoted_id} {after}")
        for action, before, after in _command_forms(status, tuple(deciders), awaiting_review, state)
    ]


@functools.lru_cache(maxsize=256)
def _command_forms(
    status: RequestStatus, deciders: tuple[str, ...], awaiting_review: bool, state: Path
) -> tuple[tuple[str, str, str], ...]:
    """(action, the quoted words before the request id, those after it): the same for every request that stands
    alike, so a queue of thousands quotes each form once."""
    state_option = [] if state == DEFAULT_STATE_PATH else ["--state", str(state)]

    def command(action: str, verb: list[str], *options: str) -> tuple[str, str, str]:
        return action, shlex.join(["hitl", *verb]), shlex.join([*options, *state_option])

    people = deciders or (ANYONE,)
    if status in ("pending", "escalated"):
        return tuple(command("approve", ["approve"], "--by", person, "--key", KEY) for person in people) + tuple(
            command("reject", ["reject"], "--by", person, "--reason", "WHY", "--key", KEY) for person in people
        )
    if status == "blocked":
        return tuple(
            command("override", ["override"], "--by", person, "--reason", "WHY", "--key", KEY) for person in people
        ) + (command("reject", ["reject"], "--by", ANYONE, "--reason", "WHY", "--key", KEY),)
    if status == "approved" and awaiting_review:
        return (
            command("review ok", ["review", "mark"], "--by", ANYONE, "--verdict", "ok"),
            command(
                "review wrong", ["review", "mark"], "--by", ANYONE, "--verdict", "wrong", "--reason", "WHAT_WAS_WRONG"
            ),
        )
    return ()
