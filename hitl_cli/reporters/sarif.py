"""`check --format sarif`: SARIF 2.1.0, one result per reason that needs a human, one per invalid manifest.

Rules are described from the METADATA of the policy that contributes each reason code (hitl_cli.reason_rules).
A result for an action the state store cleared (approved or overridden) carries an accepted suppression saying
by whom. Each result has a partial fingerprint (manifest id and reason code), so code scanning follows a finding
across runs. Paths under the working directory are relative to %SRCROOT%, which the run declares.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import quote

from hitl_cli import __version__, paths
from hitl_cli.escaping import json_text
from hitl_cli.reason_rules import ReasonRules
from hitl_cli.reporters.common import source_file

if TYPE_CHECKING:
    from hitl_cli.evaluation import Evaluated, RunResult

SCHEMA = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
LEVELS = {"single_approval": "warning", "double_approval": "warning", "escalate": "warning", "block": "error"}
INVALID_RULE = "invalid_manifest"
SOURCE_ROOT = "%SRCROOT%"


def _artifact(source: str, root: Path) -> dict:
    path = Path(os.path.abspath(source_file(source)))
    if path.is_relative_to(root):
        return {"uri": quote(path.relative_to(root).as_posix()), "uriBaseId": SOURCE_ROOT}
    return {"uri": path.as_uri()}


def _location(source: str, line: int, root: Path) -> dict:
    return {"physicalLocation": {"artifactLocation": _artifact(source, root), "region": {"startLine": line}}}


def _fingerprint(*parts: str) -> dict:
    return {"manifestReasonHash/v1": hashlib.sha256("\0".join(parts).encode()).hexdigest()}


class _Rules:
    """The run's rules, in order of first use, each described once."""

    def __init__(self, described: ReasonRules):
        self._described = described
        self.entries: dict[str, dict] = {}

    def index(self, code: str) -> int:
        if code not in self.entries:
            self.entries[code] = self._entry(code)
        return list(self.entries).index(code)

    def _entry(self, code: str) -> dict:
        if code == INVALID_RULE:
            title, description, where = "Invalid action manifest", "The action manifest does not validate: nothing was decided for it.", None
        else:
            rule = self._described.find(code)
            title = rule.title if rule else f"hitl policy reason {code}"
            description = rule.description if rule and rule.description else title
            where = rule.file if rule else None
        entry = {"id": code, "shortDescription": {"text": title}, "fullDescription": {"text": description},
                 "help": {"text": description}}
        if where:
            entry["properties"] = {"policy": where}
        return entry


def _suppressions(item: Evaluated) -> list[dict]:
    if item.cleared_by is None:
        return []
    return [{"kind": "external", "status": "accepted", "justification": item.cleared_by.describe()}]


def render(result: RunResult) -> str:
    rules = _Rules(ReasonRules(paths.rego_dir()))
    root = Path(os.getcwd())
    results = []
    for item in result.evaluated:
        for reason in item.decision.reasons:
            if reason.tier not in LEVELS:
                continue
            entry = {
                "ruleId": reason.code,
                "ruleIndex": rules.index(reason.code),
                "level": LEVELS[reason.tier],
                "message": {"text": f"{item.decision.id}: {reason.message} ({reason.tier})"},
                "locations": [_location(item.loaded.source, item.loaded.line, root)],
                "partialFingerprints": _fingerprint(item.decision.id, reason.code),
                "properties": {"tier": reason.tier, "decisionTier": item.decision.tier},
            }
            if suppressions := _suppressions(item):
                entry["suppressions"] = suppressions
            results.append(entry)
    for source, problems in result.invalid_documents().items():
        for problem in problems:
            results.append(
                {
                    "ruleId": INVALID_RULE,
                    "ruleIndex": rules.index(INVALID_RULE),
                    "level": "error",
                    "message": {"text": f"{problem.path or '(document)'}: {problem.message}"},
                    "locations": [_location(source, 1, root)],
                    "partialFingerprints": _fingerprint(source, problem.path, problem.message),
                }
            )
    log = {
        "$schema": SCHEMA,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {"driver": {"name": "hitl", "version": __version__, "rules": list(rules.entries.values())}},
                "originalUriBaseIds": {SOURCE_ROOT: {"uri": root.as_uri() + "/"}},
                "results": results,
                "properties": {"profile": result.profile},
            }
        ],
    }
    return json_text(json.dumps(log, indent=2)) + "\n"
