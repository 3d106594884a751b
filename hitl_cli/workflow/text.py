"""Plain-text output of the workflow commands, for a person at a terminal (`--format json` is for scripts)."""

from __future__ import annotations

import shlex
from datetime import datetime
from typing import TYPE_CHECKING

from hitl_cli.audit import AuditCheck
from hitl_cli.models.workflow import TrustGrant
from hitl_cli.rendering import when
from hitl_cli.workflow.trust import Offer
from hitl_cli.workflow.stats import Rates, Stats
from hitl_cli.workflow.views import RequestView, Undelivered, VerdictView

if TYPE_CHECKING:  # submitting decides: only `hitl submit` imports the core
    from hitl_cli.workflow.submission import SubmitResult


def _table(headers: tuple[str, ...], rows: list[tuple[str, ...]]) -> list[str]:
    widths = [max(len(cell) for cell in column) for column in zip(headers, *rows)]
    return ["  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip() for row in (headers, *rows)]


def _progress(view: RequestView) -> str:
    if view.may_run:
        return "may run now" + (f" until {when(view.valid_until)}" if view.valid_until else "")
    if view.waiting_for:
        return f"waiting for {view.waiting_for}"
    return view.stale_reason or "cannot run"


def submitted(result: SubmitResult) -> str:
    rows = []
    for item in result.submitted:
        note = item.outcome + (f", supersedes {', '.join(item.superseded)}" if item.superseded else "")
        rows.append((item.view.id, item.view.status, item.view.decision.tier, _progress(item.view), note))
    lines = [f"profile: {result.profile}", *_table(("REQUEST", "STATUS", "TIER", "NOW", "SUBMISSION"), rows)]
    return "\n".join(lines) + "\n"


def signer(verdict: VerdictView) -> str:
    """Who signed with which key, or that nobody did."""
    return f"signed with {verdict.signed_with}" if verdict.signed_with else "UNSIGNED"


def _signers(view: RequestView) -> str:
    given = [*view.approvals, *(v for v in (view.rejection, view.override) if v)]
    return "; ".join(f"{verdict.person} {signer(verdict)}" for verdict in given) or "-"


def status(view: RequestView) -> str:
    m, d = view.manifest, view.decision
    lines = [
        f"request {view.id}: {view.status} ({d.tier}) — {_progress(view)}",
        f"  {m.action.summary}",
        f"  agent {d.agent} at level {d.agent_level}; {d.action_type} in {d.environment}, risk {d.risk}",
        f"  approvals: {len(view.approvals)} of {view.approvals_required}",
    ]
    for approval in view.approvals:
        lines.append(f"    - {approval.person} at {when(approval.at)}, {signer(approval)} (counts until "
                     f"{when(approval.expires_at)})" + (f": {approval.reason}" if approval.reason else ""))
    for label, verdict in (("rejected", view.rejection), ("overridden", view.override)):
        if verdict:
            lines.append(f"  {label} by {verdict.person} at {when(verdict.at)}, {signer(verdict)}: {verdict.reason}")
    if view.ignored:
        lines.append(f"  not counted ({len(view.ignored)}):")
        lines += [f"    - {item.kind} by {item.person} at {when(item.at)}, {signer(item)}: {item.why}" for item in view.ignored]
    if view.review:
        lines.append(f"  reviewed by {view.review.person} at {when(view.review.at)}: {view.review.verdict}"
                     + (f" — {view.review.reason}" if view.review.reason else ""))
    lines.append("  reasons:")
    lines += [f"    - [{reason.tier}] {reason.code}: {reason.message}" for reason in d.reasons]
    lines.append(
        f"  submitted {when(view.submitted_at)} under profile {view.profile} "
        f"(revision {view.policy_revision[:12]}, manifest sha256 {view.manifest_sha256[:12]})"
    )
    if view.commands:
        lines.append("  to decide:" + (f" (only {', '.join(view.deciders)})" if view.deciders else ""))
        lines += [f"    {command.command}" for command in view.commands]
    return "\n".join(lines) + "\n"


def queue(views: list[RequestView], now: datetime, undelivered: list[RequestView] = ()) -> str:
    """The waiting requests; then every request with a message `hitl deliver` could not deliver."""
    if not views:
        lines = ["nothing waits for people"]
    else:
        rows = [
            (view.id, view.status, view.decision.tier, view.decision.delivery, _age(now - view.submitted_at),
             view.decision.agent, _progress(view), _signers(view), view.manifest.action.summary)
            for view in views
        ]
        lines = _table(("REQUEST", "STATUS", "TIER", "DELIVERY", "AGE", "AGENT", "NOW", "SIGNED", "SUMMARY"), rows)
    problems = [(view.id, item) for view in undelivered for item in view.undelivered]
    if problems:
        lines.append(f"undelivered messages ({len(problems)}):")
        lines += [_undelivered(request_id, item) for request_id, item in problems]
    return "\n".join(lines) + "\n"


def _undelivered(request_id: str, item: Undelivered) -> str:
    attempts = f"{item.attempts} attempt{'s' if item.attempts != 1 else ''}"
    return f"  {request_id} via {item.channel} ({item.delivery}): {item.status} after {attempts}: {item.error}"


def _age(delta) -> str:
    minutes = int(delta.total_seconds() // 60)
    if minutes < 60:
        return f"{max(minutes, 0)}m"
    if minutes < 48 * 60:
        return f"{minutes // 60}h"
    return f"{minutes // (24 * 60)}d"


def audit_check(check: AuditCheck, path: str) -> str:
    if check.ok:
        head = f"head record {check.head_seq} {check.head_hash}" if check.head_seq else "empty"
        return f"audit trail of {path} verifies: {check.records} records, {head}\n"
    return f"audit trail of {path} is broken: {check.problem}\n"


def offers(found: list[Offer], profile: str) -> str:
    """profile: the profile as the user named it, so the printed commands work as they are."""
    if not found:
        return f"no agent's measured record supports a higher level under profile {profile}\n"
    rows = [
        (
            offer.agent,
            offer.standing.granted,
            offer.level,
            f"{offer.approved}/{offer.reviewed}",
            shlex.join(["hitl", "trust", "promote", offer.agent, "--level", offer.level, "--by", "YOUR_NAME",
                        "--profile", profile]),
        )
        for offer in found
    ]
    return "\n".join(_table(("AGENT", "GRANTED", "OFFERED", "APPROVED", "TO ACCEPT"), rows)) + "\n"


def granted(grant: TrustGrant) -> str:
    return f"{grant.agent} promoted to {grant.level} by {grant.person} at {when(grant.at)}\n"


def _rate(rates: Rates) -> str:
    if not rates.decided:
        return "—"
    return f"{rates.approval_rate:.0%} approved, {rates.rejection_rate:.0%} rejected of {rates.decided}"


def stats(result: Stats) -> str:
    lines = [f"{result.requests} requests; decided by people: {_rate(result.overall)}", ""]
    for title, groups in (("by agent", result.by_agent), ("by action type", result.by_action_type)):
        lines.append(title + ":")
        lines += [f"  {name}: {_rate(rates)}" for name, rates in groups.items()] or ["  —"]
    lines.append("by reviewer:")
    for reviewer in result.by_reviewer:
        median = f"{reviewer.median_seconds:.0f}s" if reviewer.median_seconds is not None else "—"
        rate = f"{reviewer.approval_rate:.0%}" if reviewer.approval_rate is not None else "—"
        flag = "  RUBBER-STAMPING?" if reviewer.rubber_stamping else ""
        lines.append(f"  {reviewer.person}: {reviewer.decisions} decisions, {rate} approving, median {median} "
                     f"to decide, {reviewer.overrides} overrides{flag}")
    if not result.by_reviewer:
        lines.append("  —")
    ttd = result.time_to_decide
    if ttd.decided:
        lines.append(
            f"time to decide: median {ttd.median_seconds:.0f}s, mean {ttd.mean_seconds:.0f}s over {ttd.decided}"
        )
    lines.append("most common rejection reasons:")
    lines += [f"  {reason.count}× {reason.reason}" for reason in result.rejection_reasons] or ["  —"]
    if result.rubber_stamping:
        flagged = ", ".join(result.rubber_stamping)
        lines.append(f"possible rubber-stamping (profile {result.profile} thresholds): {flagged}")
    sent = result.deliveries
    lines.append(f"deliveries: {sent.sent} sent, {sent.pending} pending, {sent.failed} failed, "
                 f"{sent.withdrawn} withdrawn")
    lines += [_undelivered(item.request_id, item) for item in sent.failures]
    return "\n".join(lines) + "\n"
