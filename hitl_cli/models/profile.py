"""An organisation's profile: every threshold, matrix and list the policies read.

Nothing here has a default: a profile states every value, so no threshold hides in code.
"""

import re
from typing import Annotated, Literal

from pydantic import AwareDatetime, Field, StringConstraints, field_validator

from hitl_cli.models.common import AgentLevel, Delivery, Identifier, Name, PromotableLevel, Risk, StrictModel, Tier
from hitl_cli.models.notifications import Notifications

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


Pattern = Annotated[str, StringConstraints(min_length=1, max_length=256, pattern=r"^[^\r\n]*$")]


class Waiver(StrictModel):
    """A time-limited exception people approved: an action it matches has its waivable reasons capped at
    `lower_to` (rego/hitl/waivers.rego). Patterns are OPA globs with `.` as the separator: `*` within one
    segment, `**` across segments. An expired waiver is ignored and reported by `hitl profile lint`."""

    id: Identifier
    agent: Pattern
    action_type: Name
    resource: Pattern
    environment: Name | None = None  # None: every environment
    lower_to: Tier
    approved_by: Person
    reason: Annotated[str, Field(min_length=1)]
    expires: Annotated[AwareDatetime, Field(strict=False)]


class WaiverPolicy(StrictModel):
    """Reason codes no waiver ever lowers (pii_exposure in every shipped profile)."""

    unwaivable: list[Name]


FINGERPRINT_FIELDS = ("agent", "action_type", "environment", "system", "resource_type", "resource")
FingerprintField = Literal["agent", "action_type", "environment", "system", "resource_type", "resource"]


class AgentAccuracyFallback(StrictModel):
    """A thin bin's calibrated confidence is the agent's overall observed accuracy, never above the raw value."""

    mode: Literal["agent_accuracy"]


class PenaltyFallback(StrictModel):
    """A thin bin's calibrated confidence is the raw confidence minus a fixed penalty (not below 0)."""

    mode: Literal["penalty"]
    penalty: Fraction


class CalibrationPolicy(StrictModel):
    """How `hitl calibrate` bins outcomes, and how the confidence rule uses the calibration data
    (rego/hitl/calibrated.rego). Off: the raw confidence is compared with the threshold."""

    enabled: bool
    bin_edges: Annotated[list[Fraction], Field(min_length=2)]
    min_samples_per_bin: Annotated[int, Field(ge=1)]
    min_samples_per_action_type: Annotated[int, Field(ge=1)]
    fallback: Annotated[AgentAccuracyFallback | PenaltyFallback, Field(discriminator="mode")]

    @field_validator("bin_edges")
    @classmethod
    def _edges(cls, edges: list[float]) -> list[float]:
        if edges[0] != 0.0 or edges[-1] != 1.0:
            raise ValueError("bin edges must start at 0 and end at 1")
        if any(later <= earlier for earlier, later in zip(edges, edges[1:])):
            raise ValueError("bin edges must be strictly increasing")
        return edges


class HistoryNoveltyPolicy(StrictModel):
    """An action whose fingerprint (these fields) matches no approved action in the state store takes `tier`
    (rego/hitl/rules/history_novelty.rego). Without a store (evaluate, check) the rule has nothing to judge."""

    enabled: bool
    fingerprint: Annotated[list[FingerprintField], Field(min_length=1)]
    tier: Tier


class DailyBudgetPolicy(StrictModel):
    """Spend approved today (UTC) in the state store plus this action's cost, against a daily budget per agent
    (`agents` overrides `per_agent_usd` for one agent) and for the organisation; null: no such budget."""

    per_agent_usd: NonNegative | None
    agents: dict[Identifier, NonNegative]
    organisation_usd: NonNegative | None
    over_budget_tier: Tier


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
    waiver_policy: WaiverPolicy
    waivers: list[Waiver]
    calibration: CalibrationPolicy
    history_novelty: HistoryNoveltyPolicy
    daily_budget: DailyBudgetPolicy
    templates: str | None = None
    # Delivery of interrupts and digests (hitl deliver): channels, routes, schedule, retries.
    notifications: Notifications

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
        first_index: dict[str, int] = {}
        for index, waiver in enumerate(self.waivers):
            if waiver.id in first_index:
                first = first_index[waiver.id]
                problems.append((f"waivers[{index}].id", f"duplicate waiver id {waiver.id!r} (first at waivers[{first}])"))
            first_index.setdefault(waiver.id, index)
        problems += self.notifications.consistency_problems()
        return problems

    @property
    def name(self) -> str:
        return self.metadata.name

    def policy_data(self) -> dict:
        """The profile as OPA holds it under data.hitl.profiles[name]."""
        return self.model_dump(mode="json")
