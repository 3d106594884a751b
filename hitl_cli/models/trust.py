"""Where an agent stands on the trust ladder, as the policy (hitl.trust_levels) computes it."""

from pydantic import ConfigDict

from hitl_cli.models.common import AgentLevel, DeferredModel, PromotableLevel


class TrustStanding(DeferredModel):
    """granted: what a person granted; supported: the highest level the record supports; effective: what the
    agent runs at; promotable: the levels above the granted one a person may promote it to now."""

    model_config = ConfigDict(extra="forbid")

    granted: AgentLevel
    supported: AgentLevel
    effective: AgentLevel
    promotable: list[PromotableLevel]
