"""An organisation's profile: every threshold, matrix and list the policies read.

Nothing here has a default: a profile states every value, so no threshold hides in code.
"""

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, AwareDatetime, Field, StringConstraints, ValidationError, field_validator

from hitl_cli.models import names
from hitl_cli.models.common import (
    TIERS, AgentLevel, Delivery, Identifier, Name, PromotableLevel, Risk, StrictModel, Tier,
)
from hitl_cli.models.names import HumanName as Person
from hitl_cli.models.notifications import Notifications
from hitl_cli.signing import keys
from hitl_cli.statements import ANALYSABLE_KINDS

Fraction = Annotated[float, Field(ge=0.0, le=1.0)]
Pattern = Annotated[str, StringConstraints(min_length=1, max_length=256, pattern=r"^[^\r\n]*$")]
NonNegative = Annotated[float, Field(ge=0.0)]


class ProfileMetadata(StrictModel):
    name: Name
    description: str


class ActionTypePolicy(StrictModel):
    read_only: bool
    post_hoc_review: bool
    tiers: dict[str, Tier]
    risk: dict[str, Risk]


class DestructiveStatementRule(StrictModel):
    """A second line of defence on the raw statement text. The pattern is RE2, compiled by OPA, which
    evaluates it: `hitl profile validate` asks OPA whether it compiles (hitl_cli/engine/patterns.py)."""

    pattern: Annotated[str, Field(min_length=1)]
    treated_as: str


StatementKind = Literal[ANALYSABLE_KINDS]


class StatementPolicy(StrictModel):
    """What a statement's operations count as (docs/statements.md): the action type of each statement kind,
    and the tier of a statement hitl cannot analyse. A kind not listed is unanalysable; dynamic SQL, text
    sqlglot cannot parse and look-alike characters always are (no profile can map them)."""

    unanalysable_tier: Tier
    kinds: dict[StatementKind, Name]


class PiiPolicy(StrictModel):
    """`tables`: globs (`.` separates segments, as in waivers) of the tables classified as PII. An action whose
    target.resource or statement touches one takes the touch floor, whatever its impact.pii says (docs/statements.md).
    Optional, so a profile written before it existed still loads; none classified then."""

    exposure_tier: Tier
    touch_floor: Tier | None
    tables: list[Pattern] = []  # pydantic copies it for each instance


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


Role = Literal["approver", "escalation_reviewer", "override_holder"]
# Which roles let a person give each verdict: an escalation reviewer approves and rejects too.
VERDICT_ROLES: dict[str, frozenset[str]] = {
    "approve": frozenset({"approver", "escalation_reviewer"}),
    "reject": frozenset({"approver", "escalation_reviewer"}),
    "override": frozenset({"override_holder"}),
}


def _ed25519_key(line: str) -> str:
    keys.public_key(line)
    return line


PublicKeyLine = Annotated[str, StringConstraints(max_length=1024, pattern=r"^[^\r\n]*$"), AfterValidator(_ed25519_key)]


class Decider(StrictModel):
    """A person who may decide requests: their roles, and the OpenSSH ed25519 keys their verdicts are signed with
    (the public-key part of a line of git's allowed_signers file)."""

    name: Person
    roles: Annotated[list[Role], Field(min_length=1)]
    keys: Annotated[list[PublicKeyLine], Field(min_length=1)]


def _or_a_people_file(schema: dict) -> None:
    """In a profile file, `people` may instead name the YAML file that lists them (hitl_cli.people)."""
    listed = dict(schema)
    schema.clear()
    schema["anyOf"] = [listed, {"type": "string", "minLength": 1, "description": "a people file, relative to the profile"}]


class ApprovalPolicy(StrictModel):
    """`people` may be written in the profile as the path of a YAML file (relative to the profile) holding
    `people: [...]`, so that a compliance team can own it; hitl_cli.inputs reads it in."""

    required: dict[Tier, Annotated[int, Field(ge=0)]]
    lifetime_hours: Annotated[float, Field(gt=0.0)]
    unsigned_verdicts_count: bool
    people: Annotated[list[Decider], Field(json_schema_extra=_or_a_people_file)]

    def holding(self, role: Role) -> list[str]:
        """The names of the people who hold a role."""
        return [person.name for person in self.people if role in person.roles]

    def person(self, name: str) -> Decider | None:
        return next((person for person in self.people if names.same(person.name, name)), None)

    @field_validator("required")
    @classmethod
    def _every_tier(cls, required: dict) -> dict:
        missing = set(TIERS) - required.keys()
        if missing:
            raise ValueError(f"missing approval counts for tier(s): {', '.join(sorted(missing))}")
        return required


class RubberStampingPolicy(StrictModel):
    """When `hitl stats` flags a reviewer as approving nearly everything within seconds."""

    min_decisions: Annotated[int, Field(ge=1)]
    min_approval_rate: Fraction
    max_median_seconds: NonNegative


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

    def expired(self, now: datetime) -> bool:
        """The policy ignores the waiver from its expiry on (rego/hitl/waivers.rego judges the same instant)."""
        return self.expires <= now


class WaiverPolicy(StrictModel):
    """Reason codes no waiver ever lowers, and how far ahead a waiver may expire (hitl_cli/floor.py holds
    every profile to a floor of both)."""

    unwaivable: list[Name]
    max_days: Annotated[int, Field(ge=1)]


class OverridePolicy(StrictModel):
    """Reason codes whose block no override holder may override (hitl_cli/workflow/duties.py)."""

    unoverridable: list[Name]


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


def _same_person_twice(path: str, people: list[str]) -> list[tuple[str, str]]:
    first: dict[str, int] = {}
    problems = []
    for index, person in enumerate(people):
        earlier = first.setdefault(names.key(person), index)
        if earlier != index:
            problems.append((f"{path}[{index}]", f"{ascii(person)} is {ascii(people[earlier])} ({path}[{earlier}]) again"))
    return problems


def _shared_keys(people: list) -> list[tuple[str, str]]:
    """A key identifies one person: the same key under two people is an error."""
    owners: dict[str, str] = {}
    problems = []
    for index, person in _mappings(people):
        for key_index, line in enumerate(person.get("keys") if isinstance(person.get("keys"), list) else []):
            blob = line.split()[1] if isinstance(line, str) and len(line.split()) > 1 else None
            if blob is None:
                continue
            if blob in owners and owners[blob] != str(person.get("name")):
                problems.append((f"approvals.people[{index}].keys[{key_index}]", f"is also the key of {ascii(owners[blob])}"))
            owners.setdefault(blob, str(person.get("name")))
    return problems


class Profile(StrictModel):
    apiVersion: Literal["hitl/v1"]
    kind: Literal["OrgProfile"]
    metadata: ProfileMetadata
    environments: Annotated[list[Name], Field(min_length=1)]
    action_types: Annotated[dict[Name, ActionTypePolicy], Field(min_length=1)]
    destructive_statements: list[DestructiveStatementRule]
    statements: StatementPolicy
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
    override_policy: OverridePolicy
    calibration: CalibrationPolicy
    history_novelty: HistoryNoveltyPolicy
    daily_budget: DailyBudgetPolicy
    templates: str | None = None
    # Delivery of interrupts and digests (hitl deliver): channels, routes, schedule, retries.
    notifications: Notifications
    # The settings of the organisation's own rules (hitl_cli/policy_set.py), by rule name: each entry is checked
    # against the JSON Schema beside its rule, and a loaded profile holds them with the rule's defaults filled in.
    rules: dict[Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,62}$")], dict[str, Any]] = {}

    @staticmethod
    def consistency_problems(data: dict) -> list[tuple[str, str]]:
        """(field path, message) for each cross-field rule the schema alone cannot express.

        It reads the raw profile, so that these problems are reported in the same run as the schema's: each
        rule is judged wherever the values it compares are there and of the right shape."""
        problems = []
        environments = _strings(data.get("environments"))
        action_types = data.get("action_types") if isinstance(data.get("action_types"), dict) else {}
        for name, policy in action_types.items():
            for matrix in ("tiers", "risk"):
                cells = policy.get(matrix) if isinstance(policy, dict) else None
                if environments is None or not isinstance(cells, dict):
                    continue
                for env in sorted(environments - cells.keys()):
                    problems.append((f"action_types.{name}.{matrix}", f"no cell for environment {env!r}"))
                for env in sorted(str(key) for key in cells.keys() - environments):
                    problems.append((f"action_types.{name}.{matrix}.{env}", "environment is not listed in environments"))
        for index, rule in _mappings(data.get("destructive_statements")):
            treated_as = rule.get("treated_as")
            if action_types and isinstance(treated_as, str) and treated_as not in action_types:
                problems.append((f"destructive_statements[{index}].treated_as", f"{treated_as!r} is not an action type"))
        statements = data.get("statements") if isinstance(data.get("statements"), dict) else {}
        kinds = statements.get("kinds") if isinstance(statements.get("kinds"), dict) else {}
        for kind, action_type in kinds.items():
            if action_types and isinstance(action_type, str) and action_type not in action_types:
                problems.append((f"statements.kinds.{kind}", f"{action_type!r} is not an action type"))
        approvals = data.get("approvals") if isinstance(data.get("approvals"), dict) else {}
        people = approvals.get("people") if isinstance(approvals.get("people"), list) else []
        listed = [person.get("name") if isinstance(person, dict) else None for person in people]
        if all(isinstance(name, str) for name in listed):
            problems += [
                (f"{path}.name", message) for path, message in _same_person_twice("approvals.people", listed)
            ]
        problems += _shared_keys(people)
        first_index: dict[str, int] = {}
        for index, waiver in _mappings(data.get("waivers")):
            waiver_id = waiver.get("id")
            if not isinstance(waiver_id, str):
                continue
            if waiver_id in first_index:
                first = first_index[waiver_id]
                problems.append((f"waivers[{index}].id", f"duplicate waiver id {waiver_id!r} (first at waivers[{first}])"))
            first_index.setdefault(waiver_id, index)
        try:
            problems += Notifications.model_validate(data.get("notifications")).consistency_problems()
        except ValidationError:  # the schema's own problems are reported already
            pass
        return problems

    @property
    def name(self) -> str:
        return self.metadata.name

    def policy_data(self) -> dict:
        """The profile as OPA holds it under data.hitl.profiles[name]. The people who decide are not policy: no
        rule reads them, and adding a colleague or a key must not make every waiting request stale (each verdict
        is judged against the people listed when it is counted)."""
        return self.model_dump(mode="json", exclude={"approvals": {"people"}})


def _strings(value) -> set[str] | None:
    """A list of strings as a set; None when the value is anything else."""
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        return set(value)
    return None


def _mappings(value) -> list[tuple[int, dict]]:
    """(index, item) for each mapping in a list; nothing when the value is not a list."""
    return [(index, item) for index, item in enumerate(value) if isinstance(item, dict)] if isinstance(value, list) else []
