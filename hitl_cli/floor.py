"""The floor no profile goes below: what makes a profile quietly loosen the gate.

The floor is data shipped with hitl (gate_floor.yaml), not in org_profiles/, so one pull request cannot loosen a
profile and lower the floor together. `hitl profile lint` reports each finding; every command that decides
refuses a profile with any (load_profile, exit 4), so a waiver lint flags never takes effect silently.
"""

from datetime import datetime, timedelta
from functools import cache
from pathlib import Path
from typing import get_args

import yaml

from hitl_cli.errors import Problem
from hitl_cli.models.common import TIERS, Name, Risk, StrictModel
from hitl_cli.models.profile import Profile, Waiver

FLOOR_FILE = Path(__file__).resolve().parent / "gate_floor.yaml"
_GLOB_SYNTAX = frozenset("*?[]{}\\")
_HIGHEST_RISK = get_args(Risk)[-1]


class GateFloor(StrictModel):
    unwaivable: list[Name]
    unoverridable: list[Name]
    destructive_types: list[Name]
    destructive_kinds: list[Name]
    read_kinds: list[Name]
    protected_environments: list[Name]


@cache
def gate_floor() -> GateFloor:
    # hitl's own file, read by libyaml (the pure-Python loader took most of a profile's loading time)
    return GateFloor.model_validate(yaml.load(FLOOR_FILE.read_text(encoding="utf-8"), Loader=yaml.CSafeLoader))


def _literal_prefix(glob: str) -> str:
    for index, character in enumerate(glob):
        if character in _GLOB_SYNTAX:
            return glob[:index]
    return glob


def _glob_too_broad(glob: str, what: str, dotted: bool) -> str | None:
    """Why a waiver glob covers too much; None when it is anchored on a literal name."""
    if "**" in glob:
        return f"{glob!r} holds `**`, which crosses every segment: name the {what}s the waiver is for"
    prefix = _literal_prefix(glob)
    if not prefix:
        return f"{glob!r} starts with a wildcard, so it matches any {what}: begin it with a literal name"
    if dotted and "." in glob and "." not in prefix:
        return f"{glob!r} has a wildcard in its first segment, so it matches across schemas: name the first segment"
    return None


def _destructive_types(profile: Profile) -> set[str]:
    floor = gate_floor()
    by_statement = {profile.statements.kinds[kind] for kind in floor.destructive_kinds if kind in profile.statements.kinds}
    return set(floor.destructive_types) | by_statement | {rule.treated_as for rule in profile.destructive_statements}


def _protected_environments(profile: Profile, action_type: str) -> set[str]:
    blocked = TIERS[-1]
    policy = profile.action_types.get(action_type)
    outright = {env for env, tier in policy.tiers.items() if tier == blocked} if policy else set()
    return set(gate_floor().protected_environments) | outright


def _waiver_findings(profile: Profile, waiver: Waiver, now: datetime) -> list[tuple[str, str]]:
    findings = []
    for field, what, dotted in (("agent", "agent", False), ("resource", "resource", True)):
        too_broad = _glob_too_broad(getattr(waiver, field), what, dotted)
        if too_broad:
            findings.append((field, f"waiver {waiver.id}: {too_broad}"))
    if waiver.action_type in _destructive_types(profile):
        protected = _protected_environments(profile, waiver.action_type)
        covered = protected if waiver.environment is None else protected & {waiver.environment}
        if covered:
            findings.append((
                "action_type",
                f"waiver {waiver.id} covers {waiver.action_type!r}, a destructive type, in {', '.join(sorted(covered))}: "
                "no waiver lowers a destructive action there",
            ))
    policy = profile.action_types.get(waiver.action_type)
    if waiver.lower_to == TIERS[0] and policy is not None:
        risky = sorted(env for env, risk in policy.risk.items() if risk == _HIGHEST_RISK)
        risky = risky if waiver.environment is None else [env for env in risky if env == waiver.environment]
        if risky:
            findings.append((
                "lower_to",
                f"waiver {waiver.id} lowers {waiver.action_type!r} to {TIERS[0]}, and its risk is {_HIGHEST_RISK} in "
                f"{', '.join(risky)}: lower it to a tier a person approves",
            ))
    limit = profile.waiver_policy.max_days
    if waiver.expires - now > timedelta(days=limit):
        findings.append((
            "expires",
            f"waiver {waiver.id} expires {waiver.expires.isoformat()}, more than waiver_policy.max_days ({limit}) "
            "ahead: renew it closer to its end instead",
        ))
    return findings


def _dropped(kept: list[str], floor: list[str]) -> list[str]:
    return [code for code in floor if code not in kept]


def findings(profile: Profile, source: str, now: datetime) -> list[Problem]:
    """Every way the profile goes below the floor, in profile order, as `source: field.path: message`."""
    problems = []
    for label, kept, floor in (
        ("waiver_policy.unwaivable", profile.waiver_policy.unwaivable, gate_floor().unwaivable),
        ("override_policy.unoverridable", profile.override_policy.unoverridable, gate_floor().unoverridable),
    ):
        dropped = _dropped(kept, floor)
        if dropped:
            problems.append(
                Problem(source, label, f"drops {', '.join(dropped)}, which every profile keeps ({FLOOR_FILE.name})")
            )
    for kind, action_type in profile.statements.kinds.items():
        policy = profile.action_types.get(action_type)
        if policy is not None and policy.read_only and kind not in gate_floor().read_kinds:
            problems.append(Problem(
                source, f"statements.kinds.{kind}",
                f"counts {kind} statements as {action_type!r}, a read-only type: only "
                f"{', '.join(gate_floor().read_kinds)} may be ({FLOOR_FILE.name})",
            ))
    for index, waiver in enumerate(profile.waivers):
        problems.extend(
            Problem(source, f"waivers[{index}].{field}", message) for field, message in _waiver_findings(profile, waiver, now)
        )
    return problems
