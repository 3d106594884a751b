"""`hitl stats`: how people decide - approval and rejection rates by agent, action type and reviewer,
the most common rejection reasons, time to decide, and reviewers who look like rubber stamps.

A reviewer is flagged as rubber-stamping under the profile's `rubber_stamping` thresholds: at least
min_decisions decisions, an approval share of at least min_approval_rate, and a median of at most
max_median_seconds from the request's submission to their verdict.
"""

import sqlite3
from collections import Counter
from dataclasses import dataclass, field
from datetime import timedelta
from statistics import mean, median

from hitl_cli.models import Profile, names
from hitl_cli.models.common import DeferredModel
from hitl_cli.store import outbox, records
from hitl_cli.workflow.track import RequestOutcome, outcomes
from hitl_cli.workflow.views import Undelivered


class Rates(DeferredModel):
    decided: int
    approved: int
    rejected: int
    approval_rate: float | None
    rejection_rate: float | None


class TimeToDecide(DeferredModel):
    decided: int
    median_seconds: float | None
    mean_seconds: float | None


class Reviewer(DeferredModel):
    person: str
    approvals: int
    rejections: int
    overrides: int
    decisions: int
    approval_rate: float | None
    median_seconds: float | None
    rubber_stamping: bool


class ReasonCount(DeferredModel):
    reason: str
    count: int


class DeliveryFailure(Undelivered):
    request_id: str


class Deliveries(DeferredModel):
    """The profile's outbox: messages by state, and every one that failed (for good, or so far)."""

    pending: int
    sent: int
    failed: int
    withdrawn: int
    failures: list[DeliveryFailure]


class Stats(DeferredModel):
    profile: str
    requests: int
    overall: Rates
    by_agent: dict[str, Rates]
    by_action_type: dict[str, Rates]
    by_reviewer: list[Reviewer]
    rejection_reasons: list[ReasonCount]
    time_to_decide: TimeToDecide
    rubber_stamping: list[str]
    deliveries: Deliveries


def _rates(decided: list[bool]) -> Rates:
    approved = sum(decided)
    total = len(decided)
    return Rates(
        decided=total,
        approved=approved,
        rejected=total - approved,
        approval_rate=approved / total if total else None,
        rejection_rate=(total - approved) / total if total else None,
    )


def _grouped(found: list[RequestOutcome], key) -> dict[str, Rates]:
    groups: dict[str, list[bool]] = {}
    for outcome in found:
        groups.setdefault(key(outcome), []).append(outcome.approved)
    return {name: _rates(results) for name, results in sorted(groups.items())}


def compute(connection: sqlite3.Connection, profile: Profile, top_reasons: int) -> Stats:
    requests = records.all_requests(connection)
    verdicts = records.all_verdicts(connection)
    reviews = records.all_reviews(connection)
    found = outcomes(requests, verdicts, reviews)
    submitted = {request.id: request.submitted_at for request in requests}
    seconds = [(outcome.decided_at - outcome.request.submitted_at).total_seconds() for outcome in found]

    tallies: dict[str, _Tally] = {}

    def tally(person: str) -> _Tally:
        return tallies.setdefault(names.key(person), _Tally(person))

    for verdict in verdicts:
        if verdict.kind == "override":
            tally(verdict.person).overrides += 1
        else:
            tally(verdict.person).add(verdict.kind == "approve", verdict.at - submitted[verdict.request_id])
    for review in reviews:
        tally(review.person).add(review.verdict == "ok", review.at - submitted[review.request_id])
    reviewers = [_reviewer(entry, profile) for _, entry in sorted(tallies.items())]

    reasons = [v.reason for v in verdicts if v.kind == "reject" and v.reason] + [
        r.reason for r in reviews if r.verdict == "wrong" and r.reason
    ]
    return Stats(
        profile=profile.name,
        requests=len(requests),
        overall=_rates([outcome.approved for outcome in found]),
        by_agent=_grouped(found, lambda outcome: outcome.request.agent),
        by_action_type=_grouped(found, lambda outcome: outcome.request.decision.action_type),
        by_reviewer=reviewers,
        rejection_reasons=_most_common(reasons, top_reasons),
        time_to_decide=TimeToDecide(
            decided=len(seconds),
            median_seconds=median(seconds) if seconds else None,
            mean_seconds=mean(seconds) if seconds else None,
        ),
        rubber_stamping=[reviewer.person for reviewer in reviewers if reviewer.rubber_stamping],
        deliveries=Deliveries(
            **outbox.counts(connection, profile.name),
            failures=[DeliveryFailure(**row) for row in outbox.problems(connection, profile=profile.name)],
        ),
    )


def _most_common(reasons: list[str], top: int) -> list[ReasonCount]:
    """Reasons that differ only in case or spacing count as one, shown as first written."""
    spelled: dict[str, str] = {}
    for reason in (" ".join(reason.split()) for reason in reasons):
        spelled.setdefault(reason.casefold(), reason)
    counts = Counter(" ".join(reason.split()).casefold() for reason in reasons)
    return [ReasonCount(reason=spelled[key], count=count) for key, count in counts.most_common(top)]


@dataclass
class _Tally:
    """One person's decisions (approve or ok: True; reject or wrong: False) and how long each took."""

    person: str
    approved: list[bool] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)
    overrides: int = 0

    def add(self, approved: bool, took: timedelta) -> None:
        self.approved.append(approved)
        self.seconds.append(took.total_seconds())


def _reviewer(entry: _Tally, profile: Profile) -> Reviewer:
    approved, seconds = entry.approved, entry.seconds
    rate = sum(approved) / len(approved) if approved else None
    typical = median(seconds) if seconds else None
    limits = profile.rubber_stamping
    stamping = (
        len(approved) >= limits.min_decisions
        and rate is not None
        and rate >= limits.min_approval_rate
        and typical <= limits.max_median_seconds
    )
    return Reviewer(
        person=entry.person,
        approvals=sum(approved),
        rejections=len(approved) - sum(approved),
        overrides=entry.overrides,
        decisions=len(approved),
        approval_rate=rate,
        median_seconds=typical,
        rubber_stamping=stamping,
    )
