"""What a person signs when they decide a request: exactly what is decided, and nothing a store row or a file
could change without breaking the signature.

The signed message is the statement's canonical JSON (hitl_cli.canonical: sorted keys, no spaces, UTF-8), so
`ssh-keygen -Y verify -n hitl-verdict` checks it as well as hitl does.
"""

from datetime import datetime
from typing import Literal

from pydantic import ConfigDict

from hitl_cli.canonical import canonical_json
from hitl_cli.models.common import DeferredModel, Tier
from hitl_cli.models.workflow import PersonName, ReasonText, Request, Verdict, VerdictKind

STATEMENT_TYPE = "hitl-verdict/v1"


class VerdictStatement(DeferredModel):
    model_config = ConfigDict(extra="forbid")

    type: Literal["hitl-verdict/v1"]
    request_id: str
    manifest_sha256: str
    policy_revision: str
    tier: Tier
    verdict: VerdictKind
    person: PersonName
    reason: ReasonText | None
    at: datetime

    @classmethod
    def of(cls, request: Request, verdict: Verdict) -> "VerdictStatement":
        return cls(
            type=STATEMENT_TYPE,
            request_id=request.id,
            manifest_sha256=request.manifest_sha256,
            policy_revision=request.policy_revision,
            tier=request.decision.tier,
            verdict=verdict.kind,
            person=verdict.person,
            reason=verdict.reason,
            at=verdict.at,
        )

    def message(self) -> bytes:
        return canonical_json(self.model_dump(mode="json")).encode("utf-8")
