"""`--format json`: the documented array, one object per decided manifest, in input order."""

import json

from hitl_cli.evaluation import RunResult


def render(result: RunResult) -> str:
    return json.dumps([item.decision.model_dump(mode="json") for item in result.evaluated], indent=2) + "\n"
