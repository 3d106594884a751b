"""`--format json`: the documented array, one object per decided manifest, in input order.

Each object is the decision, plus `may_run` (the action may run now) and `cleared_by` (null, or the request in
the state store that lets a waiting action run: `{"request", "status", "people"}`, status approved or overridden).

Written one decision at a time (the same text `json.dumps(..., indent=2)` gives for the whole array), so a
report on 100,000 decisions is never held whole in memory.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import TYPE_CHECKING

from hitl_cli.escaping import json_text

if TYPE_CHECKING:
    from hitl_cli.evaluation import Evaluated, RunResult


def _object(item: Evaluated) -> dict:
    cleared = item.cleared_by
    return {
        **item.decision.model_dump(mode="json"),
        "may_run": item.may_run,
        "cleared_by": None if cleared is None else
        {"request": cleared.request_id, "status": cleared.status, "people": list(cleared.people)},
    }


def render(result: RunResult) -> Iterator[str]:
    if not result.evaluated:
        yield "[]\n"
        return
    for index, item in enumerate(result.evaluated):
        element = json_text(json.dumps(_object(item), indent=2)).replace("\n", "\n  ")
        yield ("[\n  " if index == 0 else ",\n  ") + element
    yield "\n]\n"
