"""Which way a profile change moves the gate: `hitl diff` compares the two profiles field by field.

Every profile field has a kind in FIELD_KINDS, which says which direction is looser: a vocabulary ordered from
least to most oversight (tiers, risk classes, delivery), a number (higher or lower is looser; null is no limit),
a flag, a list compared as a set (an added or a removed member is looser), a collection keyed by name or id
(what an added or removed entry means, then each entry's fields), a field any change of which may loosen, or a
neutral one. A field without a kind is reported as loosening (tests/test_profile_changes.py fails when a
profile field has none). Waivers already expired at the comparison's moment are left out: they apply to
nothing.
"""

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, get_args

from hitl_cli.models import Profile
from hitl_cli.models.common import TIERS, DeferredModel, Delivery, Risk

Movement = Literal["loosening", "tightening", "neutral"]
LOOSER: Movement = "loosening"
TIGHTER: Movement = "tightening"
NEUTRAL_MOVE: Movement = "neutral"


class ProfileChange(DeferredModel):
    """One field that differs (`hitl diff --format json`: profile_changes; fields may be added, never renamed)."""

    field: str
    direction: Movement
    before: Any
    after: Any


def _sign(tighter: bool, looser: bool) -> Movement:
    return TIGHTER if tighter else LOOSER if looser else NEUTRAL_MOVE


@dataclass(frozen=True)
class Ordered:
    """A vocabulary, least oversight first; null (no floor) ranks below all of it."""

    order: tuple

    def move(self, before, after) -> Movement:
        rank = {value: index for index, value in enumerate(self.order)}
        old, new = rank.get(before, -1), rank.get(after, -1)
        return _sign(new > old, new < old)


@dataclass(frozen=True)
class Number:
    """Looser when the value goes `looser_when`; null means no limit (the highest value)."""

    looser_when: Literal["higher", "lower"]

    def move(self, before, after) -> Movement:
        old, new = (float("inf") if value is None else value for value in (before, after))
        if new == old:
            return NEUTRAL_MOVE
        return LOOSER if (new > old) == (self.looser_when == "higher") else TIGHTER


@dataclass(frozen=True)
class Moment:
    """An RFC 3339 time: later is looser (a waiver that lasts longer)."""

    def move(self, before, after) -> Movement:
        old, new = (datetime.fromisoformat(value) for value in (before, after))
        return _sign(new < old, new > old)


@dataclass(frozen=True)
class Flag:
    looser_when: bool

    def move(self, before, after) -> Movement:
        return LOOSER if after == self.looser_when else TIGHTER


@dataclass(frozen=True)
class AnyChange:
    """A change that can loosen whichever way it goes (a waiver's glob, calibration switched on or off)."""

    def move(self, before, after) -> Movement:
        return LOOSER


@dataclass(frozen=True)
class Neutral:
    """Says nothing about oversight (names, descriptions, templates)."""

    def move(self, before, after) -> Movement:
        return NEUTRAL_MOVE


@dataclass(frozen=True)
class Members:
    """A list compared as a set: each added or removed member is one change."""

    looser_when: Literal["added", "removed"]


@dataclass(frozen=True)
class Keyed:
    """A collection of named entries (a mapping, or a list of mappings keyed by `key`): an added or removed entry
    moves as given; the fields of an entry on both sides are compared by their own kinds (`NAME.*.field`)."""

    added: Movement
    removed: Movement
    key: str | None = None


Kind = Ordered | Number | Moment | Flag | AnyChange | Neutral | Members | Keyed
TIER = Ordered(TIERS)
NEUTRAL = Neutral()
ANY_CHANGE = AnyChange()

FIELD_KINDS: dict[str, Kind] = {
    "apiVersion": NEUTRAL,
    "kind": NEUTRAL,
    "metadata": NEUTRAL,
    "templates": NEUTRAL,
    "environments": Members("added"),  # a new environment has tiers; an unknown one escalates
    "action_types": Keyed(added=LOOSER, removed=TIGHTER),  # an unknown type escalates as novel
    "action_types.*.read_only": Flag(True),  # read-only types skip the confidence and trust checks
    "action_types.*.post_hoc_review": Flag(False),  # a post-hoc class is reviewed after the fact
    "action_types.*.tiers": Keyed(added=NEUTRAL_MOVE, removed=NEUTRAL_MOVE),  # cells follow `environments`
    "action_types.*.tiers.*": TIER,
    "action_types.*.risk": Keyed(added=NEUTRAL_MOVE, removed=NEUTRAL_MOVE),
    "action_types.*.risk.*": Ordered(get_args(Risk)),
    "destructive_statements": Members("removed"),
    "pii.exposure_tier": TIER,
    "pii.touch_floor": TIER,
    "pii.tables": Members("removed"),  # a table no longer classified PII is touched without the floor
    "budget.per_action_usd": Number("higher"),
    "budget.over_budget_tier": TIER,
    "confidence.threshold": Number("lower"),
    "confidence.below_threshold_tier": TIER,
    "novelty.tier": TIER,
    "post_hoc.irreversible_floor": TIER,
    "trust.minimums.*.min_reviewed": Number("lower"),
    "trust.minimums.*.min_approval_rate": Number("lower"),
    "trust.autonomous_risks.*": Members("added"),
    "trust.supervised_floor": TIER,
    "delivery.*": Ordered(get_args(Delivery)),
    "approvals.required.*": Number("lower"),
    "approvals.lifetime_hours": Number("higher"),
    # more people, roles or keys that may decide is looser; fewer is stricter (the gate may stall, but nothing
    # passes that did not); counting unsigned verdicts lets anyone who can type a listed name decide
    "approvals.unsigned_verdicts_count": Flag(True),
    "approvals.people": Keyed(added=LOOSER, removed=TIGHTER, key="name"),
    "approvals.people.*.name": NEUTRAL,
    "approvals.people.*.roles": Members("added"),
    "approvals.people.*.keys": Members("added"),
    # a reviewer is flagged as rubber-stamping less often when these move the looser way
    "rubber_stamping.min_decisions": Number("higher"),
    "rubber_stamping.min_approval_rate": Number("higher"),
    "rubber_stamping.max_median_seconds": Number("lower"),
    "waiver_policy.unwaivable": Members("removed"),
    "waiver_policy.max_days": Number("higher"),
    "waivers": Keyed(added=LOOSER, removed=TIGHTER, key="id"),
    "waivers.*.id": NEUTRAL,
    "waivers.*.agent": ANY_CHANGE,  # another glob may match more
    "waivers.*.action_type": ANY_CHANGE,
    "waivers.*.resource": ANY_CHANGE,
    "waivers.*.environment": ANY_CHANGE,
    "waivers.*.lower_to": TIER,
    "waivers.*.approved_by": NEUTRAL,
    "waivers.*.reason": NEUTRAL,
    "waivers.*.expires": Moment(),
    "override_policy.unoverridable": Members("removed"),
    # calibrated confidence can rise above the stated one (an accurate bin), so switching it on or off, moving
    # the bins or changing the fallback's mode can each loosen a decision
    "calibration.enabled": ANY_CHANGE,
    "calibration.bin_edges": ANY_CHANGE,
    "calibration.min_samples_per_bin": Number("lower"),
    "calibration.min_samples_per_action_type": Number("lower"),
    "calibration.fallback.mode": ANY_CHANGE,
    "calibration.fallback.penalty": Number("lower"),
    "history_novelty.enabled": Flag(False),
    "history_novelty.fingerprint": Members("removed"),  # fewer fields: more actions have a precedent
    "history_novelty.tier": TIER,
    "daily_budget.per_agent_usd": Number("higher"),
    # an agent's own budget may be above or below per_agent_usd: adding or removing one can loosen
    "daily_budget.agents": Keyed(added=LOOSER, removed=LOOSER),
    "daily_budget.agents.*": Number("higher"),
    "daily_budget.organisation_usd": Number("higher"),
    "daily_budget.over_budget_tier": TIER,
    "statements.unanalysable_tier": TIER,
    # a kind given a type no longer escalates as unanalysable; one taken away does
    "statements.kinds": Keyed(added=LOOSER, removed=TIGHTER),
    "statements.kinds.*": ANY_CHANGE,
    # who is told, where and when: no decision, tier or approval depends on it
    "notifications": NEUTRAL,
    # an organisation rule's settings: a rule's settings come and go with the rule, which only adds reasons;
    # which way a changed setting moves the gate is the rule's own business, so any change may loosen
    "rules": Keyed(added=NEUTRAL_MOVE, removed=LOOSER),
    "rules.*": ANY_CHANGE,
}


def kind_of(path: tuple[str, ...]) -> Kind | None:
    """The kind of the field at path (dynamic keys given as themselves); None when it has none."""
    for pattern, kind in FIELD_KINDS.items():
        parts = pattern.split(".")
        if len(parts) == len(path) and all(part in ("*", name) for part, name in zip(parts, path)):
            return kind
    return None


def _label(path: tuple[str, ...]) -> str:
    return ".".join(path)


def _members(path, kind: Members, before: list, after: list) -> list[ProfileChange]:
    old, new = ({json.dumps(v, sort_keys=True): v for v in values} for values in (before, after))
    added = _sign(kind.looser_when == "removed", kind.looser_when == "added")
    removed = _sign(kind.looser_when == "added", kind.looser_when == "removed")
    return [ProfileChange(field=_label(path), direction=removed, before=old[k], after=None) for k in old if k not in new] + [
        ProfileChange(field=_label(path), direction=added, before=None, after=new[k]) for k in new if k not in old
    ]


def _entries(value, key: str | None) -> dict:
    if key is None:
        return value or {}
    return {entry[key]: entry for entry in value}


def _keyed(path, kind: Keyed, before, after) -> list[ProfileChange]:
    old, new = _entries(before, kind.key), _entries(after, kind.key)
    changes = []
    for name in old.keys() | new.keys():
        if name not in new:
            changes.append(ProfileChange(field=_label(path + (name,)), direction=kind.removed, before=old[name], after=None))
        elif name not in old:
            changes.append(ProfileChange(field=_label(path + (name,)), direction=kind.added, before=None, after=new[name]))
        else:
            changes.extend(_compare(path + (name,), old[name], new[name]))
    return sorted(changes, key=lambda change: change.field)


def _compare(path: tuple[str, ...], before, after) -> list[ProfileChange]:
    if before == after:
        return []
    kind = kind_of(path)
    if isinstance(kind, Members):
        return _members(path, kind, before, after)
    if isinstance(kind, Keyed):
        return _keyed(path, kind, before, after)
    if kind is None and isinstance(before, dict) and isinstance(after, dict):
        return [change for name in sorted(before.keys() | after.keys())
                for change in _compare(path + (name,), before.get(name), after.get(name))]
    one_sided = (before is None or after is None) and not isinstance(kind, (Number, Ordered))  # they rank null
    direction = LOOSER if kind is None or one_sided else kind.move(before, after)  # unknown: assume the worst
    return [ProfileChange(field=_label(path), direction=direction, before=before, after=after)]


def _comparable(profile: Profile, now: datetime) -> dict:
    data = profile.model_dump(mode="json")
    data["waivers"] = [entry for entry, waiver in zip(data["waivers"], profile.waivers) if waiver.expires > now]
    return data


def compare_profiles(current: Profile, candidate: Profile, now: datetime) -> list[ProfileChange]:
    """Every field that differs, with which way it moves the gate, in field order."""
    return _compare((), _comparable(current, now), _comparable(candidate, now))
