"""What the approval workflow records: requests, the verdicts people give, post-hoc reviews, trust grants,
and the audit records that hold every one of them."""

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import ConfigDict, StringConstraints

from hitl_cli.models.common import DeferredModel, Identifier, PromotableLevel
from hitl_cli.models.decision import Decision
from hitl_cli.models.manifest import ActionManifest

# A name as recorded: 1-128 characters, no control characters, no whitespace at either end. What a person
# types is also held to hitl_cli.models.names (HumanName) before it is recorded.
PersonName = Annotated[
    str,
    StringConstraints(
        min_length=1, max_length=128, pattern=r"^[^\s\x00-\x1f\x7f]([^\x00-\x1f\x7f]*[^\s\x00-\x1f\x7f])?$"
    ),
]
ReasonText = Annotated[str, StringConstraints(max_length=4000)]

# What is written in the store. `expired` is never recorded (it is a matter of time), and `stale` is
# recorded only when a newer submission supersedes a request; a changed policy or profile makes a
# request stale without any write.
RecordedStatus = Literal["approved", "pending", "escalated", "blocked", "rejected", "overridden", "stale"]
RequestStatus = Literal["approved", "pending", "escalated", "blocked", "rejected", "overridden", "stale", "expired"]


class VerdictAction(StrEnum):
    """What a person may do to a request: the one list (VerdictKind is its values, as a field type)."""

    APPROVE = "approve"
    REJECT = "reject"
    OVERRIDE = "override"


VerdictKind = Literal[tuple(action.value for action in VerdictAction)]
ReviewVerdict = Literal["ok", "wrong"]

INITIAL_STATUS: dict[str, RecordedStatus] = {
    "auto_approve": "approved",
    "single_approval": "pending",
    "double_approval": "pending",
    "escalate": "escalated",
    "block": "blocked",
}


class Recorded(DeferredModel):
    model_config = ConfigDict(extra="forbid")


class Request(Recorded):
    """One submitted action: the manifest, what the policy decided, and what binds approvals to both."""

    id: str
    manifest: ActionManifest
    decision: Decision
    manifest_sha256: str
    policy_revision: str
    profile_source: str
    submitted_at: datetime
    status: RecordedStatus
    superseded_by: str | None = None

    @property
    def manifest_id(self) -> str:
        return self.manifest.id

    @property
    def agent(self) -> str:
        return self.decision.agent


class Verdict(Recorded):
    """An approval, a rejection or an override, by one person; `signature` is their SSH signature of the verdict's
    statement (hitl_cli.signing.statement), None when it was given unsigned."""

    request_id: str
    kind: VerdictKind
    person: PersonName
    reason: ReasonText | None = None
    at: datetime
    signature: Annotated[str, StringConstraints(max_length=4096)] | None = None


class Review(Recorded):
    """A person's after-the-fact verdict on an auto-approved action."""

    request_id: str
    person: PersonName
    verdict: ReviewVerdict
    reason: ReasonText | None = None
    at: datetime


class TrustGrant(Recorded):
    """A person accepting a promotion the agent's measured record supports."""

    agent: Identifier
    level: PromotableLevel
    person: PersonName
    at: datetime


class AuditRecord(Recorded):
    """One link of the hash chain; `hash` covers every other field, `seq` included."""

    seq: int
    at: datetime
    kind: str
    subject: str
    actor: str
    payload: dict[str, Any]
    prev_hash: str
    hash: str
