"""`check --format text`: one line per action, its reasons beneath, a summary last.

Rendered piece by piece (one action at a time), so a report on 100,000 actions is written out as it is
made instead of being held whole in memory.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from hitl_cli.escaping import visible
from hitl_cli.reporters.common import summary, verdict

if TYPE_CHECKING:
    from hitl_cli.evaluation import RunResult


def render(result: RunResult) -> Iterator[str]:
    for item in result.evaluated:
        d = item.decision
        lines = [f"{visible(item.loaded.source)}: {visible(d.id)}: {verdict(item).upper()} ({d.tier})"]
        lines += [f"    - [{r.tier}] {visible(r.code)}: {visible(r.message)}" for r in d.reasons]
        yield "\n".join(lines) + "\n"
    for source in result.invalid_documents():
        yield f"{visible(source)}: INVALID (see errors above)\n"
    yield summary(result) + "\n"
