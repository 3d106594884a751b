"""`--format json`: the documented array, one object per decided manifest, in input order.

Written one decision at a time (the same text `json.dumps(..., indent=2)` gives for the whole array), so a
report on 100,000 decisions is never held whole in memory.
"""

import json
from collections.abc import Iterator

from hitl_cli.escaping import json_text
from hitl_cli.evaluation import RunResult


def render(result: RunResult) -> Iterator[str]:
    if not result.evaluated:
        yield "[]\n"
        return
    for index, item in enumerate(result.evaluated):
        element = json_text(json.dumps(item.decision.model_dump(mode="json"), indent=2)).replace("\n", "\n  ")
        yield ("[\n  " if index == 0 else ",\n  ") + element
    yield "\n]\n"
