"""Approvals, rejections, overrides and post-hoc review verdicts: checked against the rules inside the write
transaction (so two processes cannot both pass a check the other one makes false), and recorded with their
audit record."""

from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from hitl_cli import clock
from hitl_cli.errors import Refused
from hitl_cli.delivery import enqueue
from hitl_cli.models.workflow import RecordedStatus, Request, Review, ReviewVerdict, Verdict, VerdictKind
from hitl_cli.store import records
from hitl_cli.signing import keys, sshsig
from hitl_cli.signing.statement import VerdictStatement
from hitl_cli.store.connection import Mode, open_store
from hitl_cli.workflow import duties, events, signatures, verdict_files, views
from hitl_cli.workflow.arguments import person_name, reason_text
from hitl_cli.workflow.policy_context import PolicyContexts
from hitl_cli.workflow.queries import existing
from hitl_cli.workflow.status import standing
from hitl_cli.workflow.verdict_files import VerdictFile
from hitl_cli.workflow.views import RequestView


def give_verdict(
    state: Path, request_id: str, kind: VerdictKind, person: str, reason: str | None, key: Path | None
) -> tuple[RequestView, VerdictFile | None]:
    """Approve, reject or override one request, if the rules allow this person to, now; signed with the private
    key at `key` when one is given. The verdict is recorded only if it counts (hitl_cli.workflow.signatures).
    Returns the request as it stands after, and the signed verdict as a file carries it."""
    person, reason = person_name(person), reason_text(reason)
    private_key = keys.private_key(key) if key is not None else None

    def signed(request: Request, verdict: Verdict) -> Verdict:
        if private_key is None:
            return verdict
        return verdict.model_copy(
            update={"signature": sshsig.sign(VerdictStatement.of(request, verdict).message(), private_key)}
        )

    hint = "" if private_key is not None else "; sign it with --key PATH"
    return _record(state, request_id, kind, person, reason, None, signed, hint)


def accept_signed_verdict(state: Path, carried: VerdictFile) -> RequestView:
    """A verdict a person signed elsewhere (a verdict file, as `hitl approvals export` writes it, sent to
    `hitl serve`), recorded under exactly the rules of give_verdict: it must count for this request as it
    stands now. It keeps the moment it was signed at; its audit record is dated when it arrives."""
    statement = carried.statement
    view, _ = _record(
        state, statement.request_id, statement.verdict, statement.person, statement.reason, statement.at,
        lambda request, verdict: verdict.model_copy(update={"signature": carried.signature}), "",
    )
    return view


def _record(
    state: Path,
    request_id: str,
    kind: VerdictKind,
    person: str,
    reason: str | None,
    signed_at: datetime | None,
    sign: Callable[[Request, Verdict], Verdict],
    hint: str,
) -> tuple[RequestView, VerdictFile | None]:
    """The verdict (dated signed_at, or now) checked against the rules, signed by `sign`, judged, and recorded
    with its audit record and outbox messages in one write transaction."""
    with open_store(state, Mode.WRITE) as store:
        contexts = PolicyContexts(state)
        context = contexts.for_request(existing(store, request_id))  # profile files are read before the lock
        with store.write(kind) as connection:
            now = clock.now()  # under the write lock: audit records are dated in the order they are written
            request = records.get_request(connection, request_id)
            current = standing(request, records.verdicts_for(connection, request_id), context, now)
            if kind == "approve":
                duties.check_approval(request, current, person, context.profile)
            elif kind == "reject":
                duties.check_rejection(request, current, person, reason, context.profile)
            else:
                duties.check_override(request, current, person, reason, context.profile)
            verdict = sign(request, Verdict(request_id=request_id, kind=kind, person=person, reason=reason,
                                            at=signed_at or now))
            judgement = signatures.judge(request, verdict, context.profile, now)
            if not judgement.counts:
                raise Refused(f"the {kind} of {person} would not count: {judgement.why_not}{hint}")
            after = standing(request, [*records.verdicts_for(connection, request_id), verdict], context, now)
            status = _status_after(request, after.approvals_missing, kind)
            events.verdict_given(connection, verdict, status, now)
            if context.profile is not None:
                enqueue.verdict_given(connection, context.profile, request, verdict, status)
            carried = verdict_files.of(request, verdict) if verdict.signature else None
            return views.load(connection, records.get_request(connection, request_id), contexts, now, state), carried


def _status_after(request: Request, approvals_missing: int, kind: VerdictKind) -> RecordedStatus:
    if kind == "reject":
        return "rejected"
    if kind == "override":
        return "overridden"
    return "approved" if approvals_missing == 0 else request.status


def mark_review(state: Path, request_id: str, person: str, verdict: ReviewVerdict, reason: str | None) -> RequestView:
    person, reason = person_name(person), reason_text(reason)
    with open_store(state, Mode.WRITE) as store:
        contexts = PolicyContexts(state)
        contexts.for_request(existing(store, request_id))  # profile files are read before the lock
        with store.write("review") as connection:
            now = clock.now()  # under the write lock: audit records are dated in the order they are written
            request = records.get_request(connection, request_id)
            duties.check_review(request, records.review_for(connection, request_id), person, verdict, reason)
            review = Review(request_id=request_id, person=person, verdict=verdict, reason=reason, at=now)
            events.reviewed(connection, review)
            enqueue.reviewed(connection, request_id, person)
            return views.load(connection, request, contexts, now, state)
