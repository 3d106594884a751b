"""An organisation's profile: every threshold, matrix and list the policies read.

Nothing here has a default: a profile states every value, so no threshold hides in code.
"""

import re
from typing import Annotated, Literal

from pydantic import Field, field_validator

from hitl_cli.models.common import AgentLevel, Delivery, Name, PromotableLevel, Risk, StrictModel, Tier

Fraction = Annotated[float, Field(ge=0.0, le=1.0)]
NonNegative = Annotated[float, Field(ge=0.0)]
Person = Annotated[str, Field(min_length=1)]


class ProfileMetadata(StrictModel):
    name: Name
    description: str


class ActionTypePolicy(StrictModel):
    read_only: bool
    post_hoc_review: bool
    tiers: dict[str, Tier]
    risk: dict[str, Risk]


class DestructiveStatementRule(StrictModel):
    pattern: str
    treated_as: str

    @field_validator("pattern")
    @classmethod
    def _compiles(cls, pattern: str) -> str:
        try:
            re.compile(pattern)
        except re.error as error:
            raise ValueError(f"not a valid regular expression: {error}") from None
        return pattern


class PiiPolicy(StrictModel):
    exposure_tier: Tier
    touch_floor: Tier | None


class BudgetPolicy(StrictModel):
    per_action_usd: NonNegative
    over_budget_tier: Tier


class ConfidencePolicy(StrictModel):
    threshold: Fraction
    below_threshold_tier: Tier


class NoveltyPolicy(StrictModel):
    tier: Tier


class PostHocPolicy(StrictModel):
    irreversible_floor: Tier


class TrustMinimum(StrictModel):
    min_reviewed: Annotated[int, Field(ge=0)]
    min_approval_rate: Fraction


class TrustPolicy(StrictModel):
    minimums: dict[PromotableLevel, TrustMinimum]
    autonomous_risks: dict[AgentLevel, list[Risk]]
    supervised_floor: Tier

    @field_validator("minimums")
    @classmethod
    def _every_level(cls, minimums: dict) -> dict:
        missing = {"low", "medium"} - minimums.keys()
        if missing:
            raise ValueError(f"missing minimums for level(s): {', '.join(sorted(missing))}")
        return minimums

    @field_validator("autonomous_risks")
    @classmethod
    def _every_autonomy(cls, autonomy: dict) -> dict:
        missing = {"suggestion", "low", "medium"} - autonomy.keys()
        if missing:
            raise ValueError(f"missing autonomy for level(s): {', '.join(sorted(missing))}")
        return autonomy


class DeliveryPolicy(StrictModel):
    auto_approve: Delivery
    post_hoc_review: Delivery
    single_approval: Delivery
    double_approval: Delivery
    escalate: Delivery
    block: Delivery


class ApprovalPolicy(StrictModel):
    required: dict[Tier, Annotated[int, Field(ge=0)]]
    lifetime_hours: Annotated[float, Field(gt=0.0)]
    escalation_reviewers: list[Person]
    override_holders: list[Person]

    @field_validator("required")
    @classmethod
    def _every_tier(cls, required: dict) -> dict:
        missing = {"auto_approve", "single_approval", "double_approval", "escalate", "block"} - required.keys()
        if missing:
            raise ValueError(f"missing approval counts for tier(s): {', '.join(sorted(missing))}")
        return required


class RubberStampingPolicy(StrictModel):
    """When `hitl stats` flags a reviewer as approving nearly everything within seconds."""

    min_decisions: Annotated[int, Field(ge=1)]
    min_approval_rate: Fraction
    max_median_seconds: NonNegative


class Profile(StrictModel):
    apiVersion: Literal["hitl/v1"]
    kind: Literal["OrgProfile"]
    metadata: ProfileMetadata
    environments: Annotated[list[Name], Field(min_length=1)]
    action_types: Annotated[dict[Name, ActionTypePolicy], Field(min_length=1)]
    destructive_statements: list[DestructiveStatementRule]
    pii: PiiPolicy
    budget: BudgetPolicy
    confidence: ConfidencePolicy
    novelty: NoveltyPolicy
    post_hoc: PostHocPolicy
    trust: TrustPolicy
    delivery: DeliveryPolicy
    approvals: ApprovalPolicy
    rubber_stamping: RubberStampingPolicy
    templates: str | None = None

    def consistency_problems(self) -> list[tuple[str, str]]:
        """(field path, message) for each cross-field rule the schema alone cannot express."""
        problems = []
        environments = set(self.environments)
        for name, policy in self.action_types.items():
            for matrix in ("tiers", "risk"):
                cells = set(getattr(policy, matrix))
                for env in sorted(environments - cells):
                    problems.append((f"action_types.{name}.{matrix}", f"no cell for environment {env!r}"))
                for env in sorted(cells - environments):
                    problems.append((f"action_types.{name}.{matrix}.{env}", "environment is not listed in environments"))
        for index, rule in enumerate(self.destructive_statements):
            if rule.treated_as not in self.action_types:
                problems.append(
                    (f"destructive_statements[{index}].treated_as", f"{rule.treated_as!r} is not an action type")
                )
        return problems

    @property
    def name(self) -> str:
        return self.metadata.name

    def policy_data(self) -> dict:
        """The profile as OPA holds it under data.hitl.profiles[name]."""
        return self.model_dump(mode="json")
