"""`check --format sarif`: SARIF 2.1.0, one result per reason that needs a human, one per invalid manifest."""

import json

from hitl_cli import __version__
from hitl_cli.escaping import json_text
from hitl_cli.evaluation import RunResult
from hitl_cli.reporters.common import source_file

LEVELS = {"single_approval": "warning", "double_approval": "warning", "escalate": "warning", "block": "error"}
INVALID_RULE = "invalid_manifest"


def _location(source: str, line: int) -> dict:
    return {"physicalLocation": {"artifactLocation": {"uri": source_file(source)}, "region": {"startLine": line}}}


def render(result: RunResult) -> str:
    rules: dict[str, dict] = {}
    results = []

    def rule_index(code: str, description: str) -> int:
        if code not in rules:
            rules[code] = {"id": code, "shortDescription": {"text": description}}
        return list(rules).index(code)

    for item in result.evaluated:
        for reason in item.decision.reasons:
            if reason.tier not in LEVELS:
                continue
            results.append(
                {
                    "ruleId": reason.code,
                    "ruleIndex": rule_index(reason.code, f"hitl policy reason {reason.code}"),
                    "level": LEVELS[reason.tier],
                    "message": {"text": f"{item.decision.id}: {reason.message} ({reason.tier})"},
                    "locations": [_location(item.loaded.source, item.loaded.line)],
                    "properties": {"tier": reason.tier, "decisionTier": item.decision.tier},
                }
            )
    for source, problems in result.invalid_documents().items():
        for problem in problems:
            results.append(
                {
                    "ruleId": INVALID_RULE,
                    "ruleIndex": rule_index(INVALID_RULE, "The action manifest is invalid"),
                    "level": "error",
                    "message": {"text": f"{problem.path or '(document)'}: {problem.message}"},
                    "locations": [_location(source, 1)],
                }
            )
    log = {
        "version": "2.1.0",
        "runs": [
            {
                "tool": {"driver": {"name": "hitl", "version": __version__, "rules": list(rules.values())}},
                "results": results,
                "properties": {"profile": result.profile},
            }
        ],
    }
    return json_text(json.dumps(log, indent=2)) + "\n"
