"""What OPA decided for one manifest (spec/cli.md, JSON output)."""

from pydantic import ConfigDict

from hitl_cli.models.common import TIERS, AgentLevel, DeferredModel, Delivery, Risk, Tier


class Reason(DeferredModel):
    model_config = ConfigDict(extra="forbid")

    code: str
    tier: Tier
    message: str


class Decision(DeferredModel):
    """Validated on the way back from OPA: a malformed answer is a policy fault, never a decision."""

    model_config = ConfigDict(extra="forbid")

    id: str
    tier: Tier
    approvals_required: int
    post_hoc_review: bool
    delivery: Delivery
    agent_level: AgentLevel
    profile: str
    reasons: list[Reason]
    agent: str
    action_type: str
    declared_type: str
    environment: str
    risk: Risk

    @property
    def may_run(self) -> bool:
        return self.tier == "auto_approve"

    @property
    def severity(self) -> int:
        return TIERS.index(self.tier)
