"""Every change to the workflow's state, each written together with the audit record that describes it.

The functions here are the only writers of the workflow tables. Each one changes the tables and appends
one audit record inside the caller's transaction, so the change and its record land together or not at
all. `replay` rebuilds the tables from the audit records alone; `hitl audit verify` compares the two.
"""

import sqlite3
from dataclasses import dataclass, field
from datetime import datetime

from hitl_cli import audit
from hitl_cli.models.workflow import RecordedStatus, Request, Review, TrustGrant, Verdict
from hitl_cli.store import records

VERDICT_EVENTS = {"approve": "approval", "reject": "rejection", "override": "override"}


def submitted(connection: sqlite3.Connection, request: Request) -> None:
    records.insert_request(connection, request)
    payload = {"request": request.model_dump(mode="json")}
    audit.append(connection, "submitted", request.id, request.agent, payload, request.submitted_at)


def superseded(connection: sqlite3.Connection, request: Request, by: Request) -> None:
    records.set_status(connection, request.id, "stale", superseded_by=by.id)
    payload = {"request_id": request.id, "superseded_by": by.id, "status": "stale"}
    audit.append(connection, "superseded", request.id, by.agent, payload, by.submitted_at)


def verdict_given(connection: sqlite3.Connection, verdict: Verdict, status: RecordedStatus, at: datetime) -> None:
    """at: when it is recorded (a verdict signed elsewhere arrives after the moment it carries)."""
    records.insert_verdict(connection, verdict)
    records.set_status(connection, verdict.request_id, status)
    payload = {"verdict": verdict.model_dump(mode="json"), "status": status}
    audit.append(connection, VERDICT_EVENTS[verdict.kind], verdict.request_id, verdict.person, payload, at)


def reviewed(connection: sqlite3.Connection, review: Review) -> None:
    records.insert_review(connection, review)
    payload = {"review": review.model_dump(mode="json")}
    audit.append(connection, "review", review.request_id, review.person, payload, review.at)


def trust_granted(connection: sqlite3.Connection, grant: TrustGrant) -> None:
    records.insert_grant(connection, grant)
    payload = {"grant": grant.model_dump(mode="json")}
    audit.append(connection, "trust_grant", grant.agent, grant.person, payload, grant.at)


@dataclass
class Replayed:
    """The workflow tables as the audit trail says they must be."""

    requests: dict[str, Request] = field(default_factory=dict)
    verdicts: list[Verdict] = field(default_factory=list)
    reviews: dict[str, Review] = field(default_factory=dict)
    grants: list[TrustGrant] = field(default_factory=list)


class ReplayError(ValueError):
    def __init__(self, seq: int, message: str):
        super().__init__(f"record {seq}: {message}")
        self.seq = seq


def replay(audit_records: list[dict]) -> Replayed:
    state = Replayed()
    for record in audit_records:
        try:
            _apply(state, record["kind"], record["payload"])
        except (KeyError, TypeError, ValueError) as error:
            raise ReplayError(record["seq"], f"cannot be replayed ({type(error).__name__}: {error})") from None
    return state


def _apply(state: Replayed, kind: str, payload: dict) -> None:
    if kind == "submitted":
        request = Request.model_validate(payload["request"])
        state.requests[request.id] = request
    elif kind == "superseded":
        request = state.requests[payload["request_id"]]
        state.requests[request.id] = request.model_copy(
            update={"status": payload["status"], "superseded_by": payload["superseded_by"]}
        )
    elif kind in VERDICT_EVENTS.values():
        verdict = Verdict.model_validate(payload["verdict"])
        state.verdicts.append(verdict)
        request = state.requests[verdict.request_id]
        state.requests[request.id] = request.model_copy(update={"status": payload["status"]})
    elif kind == "review":
        review = Review.model_validate(payload["review"])
        state.reviews[review.request_id] = review
    elif kind == "trust_grant":
        state.grants.append(TrustGrant.model_validate(payload["grant"]))
    else:
        raise ValueError(f"unknown kind {kind!r}")
