"""What each reason code means, from the METADATA of the policy package that contributes it.

A package's `custom.code` names its codes: one, a list, or a pattern with `<placeholders>` (profile_tier's
`<environment>_<effective_type>`). Reports that describe rules (SARIF) look codes up here, so a report and
`hitl docs` say the same thing, both read from the policies themselves.
"""

import os
import re
from dataclasses import dataclass
from pathlib import Path

from hitl_cli.docs import policy_packages

_PLACEHOLDER = re.compile(r"<[^<>]+>")


@dataclass(frozen=True)
class ReasonRule:
    code: str  # as the METADATA writes it, placeholders included
    title: str
    description: str
    file: str  # relative to the policy folder

    def matches(self, code: str) -> bool:
        pattern = ".+".join(re.escape(part) for part in _PLACEHOLDER.split(self.code))
        return re.fullmatch(pattern, code) is not None


class ReasonRules:
    def __init__(self, rego: Path):
        self._rules = [
            ReasonRule(code, package.title, " ".join(package.description.split()), os.path.relpath(package.file, rego))
            for package in policy_packages(rego)
            for code in _codes(package.custom.get("code"))
        ]

    def find(self, code: str) -> ReasonRule | None:
        """The rule that contributes `code`: one that names it exactly, else one whose pattern matches it."""
        exact = [rule for rule in self._rules if rule.code == code]
        return (exact or [rule for rule in self._rules if _PLACEHOLDER.search(rule.code) and rule.matches(code)] or [None])[0]


def _codes(code) -> list[str]:
    if isinstance(code, str):
        return [code]
    return [each for each in code if isinstance(each, str)] if isinstance(code, list) else []
