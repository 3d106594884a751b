"""`--format table`: aligned columns for a person at a terminal, each reason beneath its action."""

from __future__ import annotations

from typing import TYPE_CHECKING

from hitl_cli.escaping import visible

if TYPE_CHECKING:
    from hitl_cli.evaluation import RunResult

COLUMNS = ("ID", "TIER", "APPROVALS", "DELIVERY", "AGENT LEVEL", "POST-HOC")


def render(result: RunResult) -> str:
    rows = [
        (
            visible(d.id),
            d.tier,
            str(d.approvals_required),
            d.delivery,
            d.agent_level,
            "yes" if d.post_hoc_review else "no",
        )
        for d in (item.decision for item in result.evaluated)
    ]
    widths = [max(len(cell) for cell in column) for column in zip(COLUMNS, *rows)]
    lines = [f"profile: {visible(result.profile)}", "  ".join(h.ljust(w) for h, w in zip(COLUMNS, widths)).rstrip()]
    for row, item in zip(rows, result.evaluated):
        lines.append("  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip())
        for reason in item.decision.reasons:
            lines.append(f"    - [{reason.tier}] {visible(reason.code)}: {visible(reason.message)}")
    return "\n".join(lines) + "\n"
