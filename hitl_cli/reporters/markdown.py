"""`--format markdown`: a table for a pull-request comment, then every reason."""

from hitl_cli.evaluation import RunResult


def _cell(text: str) -> str:
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")


def render(result: RunResult) -> str:
    lines = [
        f"## hitl decisions — profile `{result.profile}`",
        "",
        "| id | tier | approvals | delivery | agent level | post-hoc review |",
        "|---|---|---|---|---|---|",
    ]
    for item in result.evaluated:
        d = item.decision
        lines.append(
            f"| `{_cell(d.id)}` | **{d.tier}** | {d.approvals_required} | {d.delivery} | {d.agent_level} | "
            f"{'yes' if d.post_hoc_review else 'no'} |"
        )
    for item in result.evaluated:
        lines += ["", f"### `{_cell(item.decision.id)}` — {_cell(item.loaded.manifest.action.summary)}", ""]
        lines += [f"- **{r.tier}** `{r.code}`: {_cell(r.message)}" for r in item.decision.reasons]
    return "\n".join(lines) + "\n"
