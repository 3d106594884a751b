"""A profile's settings of hitl's own rules, given under `rules.<rule>` instead of at their documented fields.

Each setting of a shipped rule has a documented profile field (its schema's `x-profile-field`, hitl_cli.policy_set),
where the shipped profiles state it and the model validates it. A profile may give it under `rules.<rule>` instead;
before validation it is moved to its field, and a problem found there is reported where the author wrote it. A
setting given both ways is refused: neither silently wins.
"""

import copy
from dataclasses import dataclass

from hitl_cli.errors import Problem
from hitl_cli.policy_set import Rule


@dataclass(frozen=True)
class Folded:
    data: dict  # the profile with every moved setting at its documented field
    problems: list[tuple[str, str]]  # (field path, message)
    moved: dict[str, str]  # documented field -> where the profile gave it (rules.<rule>.<setting>)

    def located(self, problems: list[Problem]) -> list[Problem]:
        """Each problem of a moved setting named at the place the profile gave it."""
        return [Problem(p.source, self._written(p.path), p.message) for p in problems]

    def _written(self, path: str) -> str:
        for field, written in self.moved.items():
            if path == field or path.startswith((field + ".", field + "[")):
                return written + path.removeprefix(field)
        return path


def fold(data: dict, rules: dict[str, Rule]) -> Folded:
    """Move each `rules.<rule>.<setting>` of hitl's own rules to its documented field (settings without one stay)."""
    data = copy.deepcopy(data)
    entries = data.get("rules") if isinstance(data.get("rules"), dict) else {}
    problems, moved = [], {}
    for name, rule in rules.items():
        entry = entries.get(name)
        if not isinstance(entry, dict):
            continue
        for key, field in rule.fields.items():
            if key not in entry:
                continue
            written, documented = f"rules.{name}.{key}", ".".join(field)
            value = entry.pop(key)
            section = _section(data, field[:-1])
            if section is None:
                problems.append((written, f"its field {documented} cannot hold it: {'.'.join(field[:-1])} is not a mapping"))
                continue
            if field[-1] in section:
                problems.append((written, f"is also given at {documented}: give a setting once"))
                continue
            section[field[-1]] = value
            moved[documented] = written
        if not entry:
            del entries[name]
    return Folded(data, problems, moved)


def _section(data: dict, parents: tuple[str, ...]) -> dict | None:
    """The mapping at parents, made when absent; None when something else is there."""
    at = data
    for part in parents:
        at = at.setdefault(part, {})
        if not isinstance(at, dict):
            return None
    return at
