"""`--format markdown`: a table for a pull-request comment, then every reason."""

from __future__ import annotations

from typing import TYPE_CHECKING

from hitl_cli.escaping import markdown_code_span, markdown_inline, markdown_table_cell

if TYPE_CHECKING:
    from hitl_cli.evaluation import RunResult


def render(result: RunResult) -> str:
    lines = [
        f"## hitl decisions — profile {markdown_code_span(result.profile)}",
        "",
        "| id | tier | approvals | delivery | agent level | post-hoc review |",
        "|---|---|---|---|---|---|",
    ]
    for item in result.evaluated:
        d = item.decision
        lines.append(
            f"| {markdown_table_cell(markdown_code_span(d.id))} | **{d.tier}** | {d.approvals_required} | {d.delivery} | {d.agent_level} | "
            f"{'yes' if d.post_hoc_review else 'no'} |"
        )
    for item in result.evaluated:
        lines += ["", f"### {markdown_code_span(item.decision.id)} — {markdown_inline(item.loaded.manifest.action.summary)}", ""]
        lines += [f"- **{r.tier}** {markdown_code_span(r.code)}: {markdown_inline(r.message)}" for r in item.decision.reasons]
    return "\n".join(lines) + "\n"
