"""Impact analysis (`hitl diff`): recorded manifests decided under the current profile and policies and
under a candidate, and every decision that changes.

Each side runs in its own local OPA (a candidate policy folder needs one anyway), both judged at the same
`now`, with the same track record. A decision *changes* when one of its outcome fields, or the set of its
reasons (code and tier; messages name the profile and are not compared), differs. Each changed field moves
towards more or less human oversight:

| field | looser when |
|---|---|
| tier | lower (auto_approve < single_approval < double_approval < escalate < block) |
| approvals_required | fewer, while the tier stays the same |
| delivery | less urgent (interrupt > digest > none) |
| post_hoc_review | turned off while the tier stays the same (a post-hoc review is lost) |
| agent_level | higher (more autonomy: suggestion < low < medium) |
| risk | lower (low < medium < high) |
| action_type, reasons | neither: listed, never counted as loosening |

When the tier changes, the approvals it needs and whether it has post-hoc review follow from the tier, which
says which way the decision went: double_approval (2 approvals) -> escalate (1 escalation reviewer) is
tightening, and a tier that drops *to* auto-approval with post-hoc review is loosening; post-hoc review turned
on at an unchanged auto_approve tier adds a review and is tightening. A change is `loosening` when some field
loosens and none tightens, `tightening` the other way round, `mixed` when both, `neutral` when neither.

The two profiles are also compared field by field (hitl_cli/profile_changes.py), history or not: a field that
moves the looser way makes the report loosen even when no recorded decision changes.
"""

import json
from collections import Counter
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Literal

from pydantic import Field

from hitl_cli.escaping import json_text
from hitl_cli import clock, paths, policy_set
from hitl_cli.engine import policy_engine
from hitl_cli.engine.client import RunInput
from hitl_cli.engine.pipeline import DecisionPipeline
from hitl_cli.errors import ExitCode, Problem
from hitl_cli.inputs import LoadedManifest
from hitl_cli.models import Decision, Profile, TrackRecord
from hitl_cli.models.common import TIERS, DeferredModel
from hitl_cli.profile_changes import ProfileChange, compare_profiles

Direction = Literal["loosening", "tightening", "mixed", "neutral"]
DIRECTIONS: tuple[Direction, ...] = ("loosening", "tightening", "mixed", "neutral")

# Vocabulary orders, least oversight first (spec/cli.md values; not profile data).
_LEAST_OVERSIGHT_FIRST: dict[str, tuple] = {
    "tier": TIERS,
    "delivery": ("none", "digest", "interrupt"),
    "agent_level": ("medium", "low", "suggestion"),
    "risk": ("low", "medium", "high"),
}
_FOLLOW_THE_TIER = ("approvals_required", "post_hoc_review")  # judged only when the tier stays the same
OUTCOME_FIELDS = ("tier", "approvals_required", "post_hoc_review", "delivery", "agent_level", "risk", "action_type")


class Side(DeferredModel):
    profile: str
    source: str
    rego: str
    policy: list[str]  # the organisation folders


class Transition(DeferredModel):
    from_tier: str = Field(serialization_alias="from")
    to_tier: str = Field(serialization_alias="to")
    count: int


class Change(DeferredModel):
    id: str
    source: str
    direction: Direction
    loosened: list[str]
    tightened: list[str]
    changed: list[str]
    reasons_added: list[str]
    reasons_removed: list[str]
    before: Decision
    after: Decision


class DiffReport(DeferredModel):
    """`hitl diff --format json`: stable; fields may be added, none removed or renamed (README)."""

    version: Literal[1] = 1
    now: str
    current: Side
    candidate: Side
    history: list[str]
    evaluated: int
    changed: int
    directions: dict[Direction, int]
    loosens: bool  # a decision or a profile field loosens
    transitions: list[Transition]
    changes: list[Change]
    problems: list[str]
    profile_changes: list[ProfileChange]

    def exit_code(self, allow_loosening: bool) -> ExitCode:
        codes = [ExitCode.OK]
        if self.loosens and not allow_loosening:
            codes.append(ExitCode.NEEDS_HUMAN)
        if self.problems:
            codes.append(ExitCode.INVALID_INPUT)
        return max(codes)

    def as_json(self) -> str:
        return json_text(json.dumps(self.model_dump(mode="json", by_alias=True), indent=2, ensure_ascii=False)) + "\n"


@dataclass(frozen=True)
class PolicySetup:
    """One side of the comparison: a profile and the policy folder it is decided with."""

    profile: Profile
    source: Path
    rego: Path | None = None  # the checkout's rego/ (or HITL_REGO_DIR)
    org: tuple[Path, ...] | None = None  # the organisation folders (hitl_cli.policy_set); the configured ones by default

    def side(self) -> Side:
        org = policy_set.org_folders() if self.org is None else self.org
        return Side(
            profile=self.profile.name, source=str(self.source), rego=str(self.rego or paths.rego_dir()),
            policy=[str(folder) for folder in org],
        )


def _reason_keys(decision: Decision) -> set[str]:
    return {f"{reason.code}:{reason.tier}" for reason in decision.reasons}


def _movement(field: str, before, after) -> int:
    """+1 when the field moved towards more oversight, -1 towards less, 0 when neither."""
    if field == "approvals_required":
        return (after > before) - (after < before)
    if field in _LEAST_OVERSIGHT_FIRST:
        order = _LEAST_OVERSIGHT_FIRST[field]
        return (order.index(after) > order.index(before)) - (order.index(after) < order.index(before))
    return 0


def compare(item: LoadedManifest, before: Decision, after: Decision) -> Change | None:
    changed = [name for name in OUTCOME_FIELDS if getattr(before, name) != getattr(after, name)]
    added = sorted(_reason_keys(after) - _reason_keys(before))
    removed = sorted(_reason_keys(before) - _reason_keys(after))
    if not changed and not added and not removed:
        return None
    loosened, tightened = [], []
    for name in changed:
        if name in _FOLLOW_THE_TIER and before.tier != after.tier:
            continue
        if name == "post_hoc_review":
            movement = 1 if after.post_hoc_review else -1
        else:
            movement = _movement(name, getattr(before, name), getattr(after, name))
        if movement > 0:
            tightened.append(name)
        elif movement < 0:
            loosened.append(name)
    direction: Direction = (
        "mixed" if loosened and tightened else "loosening" if loosened else "tightening" if tightened else "neutral"
    )
    return Change(
        id=before.id,
        source=item.source,
        direction=direction,
        loosened=loosened,
        tightened=tightened,
        changed=changed,
        reasons_added=added,
        reasons_removed=removed,
        before=before,
        after=after,
    )


def _decide_all(engine, run: RunInput, manifests: list[LoadedManifest]) -> list[Decision]:
    with DecisionPipeline(engine, run) as pipeline:
        pipeline.add(manifests)
        return pipeline.decisions()


def diff(
    current: PolicySetup,
    candidate: PolicySetup,
    manifests: list[LoadedManifest],
    record: TrackRecord,
    history: list[str],
    problems: list[Problem],
    calibration: Path | None = None,
) -> DiffReport:
    """Decide every manifest on both sides, with the same calibration file (nothing is reported if either side
    fails: EngineError)."""
    with ExitStack() as running:
        before_engine = running.enter_context(policy_engine([current.profile], None, current.rego, calibration, current.org))
        after_engine = running.enter_context(
            policy_engine([candidate.profile], None, candidate.rego, calibration, candidate.org)
        )
        moment = clock.now()  # one moment for both sides: a waiver expires for both or neither
        runs = [RunInput.of(side.profile.name, record.policy_input(), moment) for side in (current, candidate)]
        before = _decide_all(before_engine, runs[0], manifests) if manifests else []
        after = _decide_all(after_engine, runs[1], manifests) if manifests else []
        now = runs[0].now
    profile_changes = compare_profiles(current.profile, candidate.profile, datetime.fromisoformat(now))
    changes = [
        change
        for item, old, new in zip(manifests, before, after, strict=True)
        if (change := compare(item, old, new)) is not None
    ]
    directions = Counter(change.direction for change in changes)
    transitions = Counter((change.before.tier, change.after.tier) for change in changes)
    return DiffReport(
        now=now,
        current=current.side(),
        candidate=candidate.side(),
        history=history,
        evaluated=len(manifests),
        changed=len(changes),
        directions={direction: directions.get(direction, 0) for direction in DIRECTIONS},
        loosens=any(change.loosened for change in changes)
        or any(change.direction == "loosening" for change in profile_changes),
        transitions=[
            Transition(from_tier=old, to_tier=new, count=count)
            for (old, new), count in sorted(transitions.items(), key=lambda entry: (-entry[1], entry[0]))
        ],
        changes=changes,
        problems=[str(problem) for problem in problems],
        profile_changes=profile_changes,
    )
