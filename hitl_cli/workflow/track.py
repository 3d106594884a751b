"""The track record (docs/track-record.md) as the store measured it: what people decided about each
agent's actions, and the level a person last granted it.

An action counts as reviewed once people decided it: approved (it collected every approval it needed),
rejected, or - for an auto-approved action - marked ok or wrong in post-hoc review. Overrides are not a
verdict on the agent and do not count. An agent nobody granted a level to is at `suggestion`.
"""

import sqlite3
from dataclasses import dataclass
from datetime import datetime

from hitl_cli.models import AgentRecord, TrackRecord
from hitl_cli.models.workflow import Request, Review, Verdict
from hitl_cli.store import records


@dataclass(frozen=True)
class RequestOutcome:
    """What people decided about one request, and when the deciding verdict came."""

    request: Request
    approved: bool
    decided_at: datetime


def outcomes(requests: list[Request], verdicts: list[Verdict], reviews: list[Review]) -> list[RequestOutcome]:
    by_request: dict[str, list[Verdict]] = {}
    for verdict in verdicts:
        by_request.setdefault(verdict.request_id, []).append(verdict)
    reviewed = {review.request_id: review for review in reviews}
    found = []
    for request in requests:
        given = by_request.get(request.id, [])
        rejection = next((v for v in given if v.kind == "reject"), None)
        approvals = [v for v in given if v.kind == "approve"]
        required = request.decision.approvals_required
        if rejection is not None:
            found.append(RequestOutcome(request, False, rejection.at))
        elif required > 0 and len(approvals) >= required:
            found.append(RequestOutcome(request, True, approvals[required - 1].at))
        elif request.id in reviewed:
            review = reviewed[request.id]
            found.append(RequestOutcome(request, review.verdict == "ok", review.at))
    return found


def track_record(connection: sqlite3.Connection, requests: list[Request] | None = None) -> TrackRecord:
    """requests: every request of the store, when the caller has read them already (records.ParsedRequests)."""
    granted = {grant.agent: grant.level for grant in records.all_grants(connection)}
    decided: dict[str, list[bool]] = {}
    if requests is None:
        requests = records.all_requests(connection)
    verdicts, reviews = records.all_verdicts(connection), records.all_reviews(connection)
    for outcome in outcomes(requests, verdicts, reviews):
        decided.setdefault(outcome.request.agent, []).append(outcome.approved)
    agents = {
        agent: AgentRecord(
            level=granted.get(agent, "suggestion"),
            reviewed=len(results),
            approved=sum(results),
            rejected=len(results) - sum(results),
        )
        for agent, results in decided.items()
    }
    for agent, level in granted.items():
        agents.setdefault(agent, AgentRecord(level=level, reviewed=0, approved=0, rejected=0))
    return TrackRecord(agents=dict(sorted(agents.items())))
