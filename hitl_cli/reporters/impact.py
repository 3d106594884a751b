"""`hitl diff` reports: text for a terminal or CI log, markdown for a pull-request comment, json for scripts."""

from collections.abc import Callable

from hitl_cli.escaping import markdown_code_span, markdown_inline, markdown_table_cell, visible
from hitl_cli.impact import Change, DiffReport

VERBS = {"loosening": "LOOSENS", "tightening": "TIGHTENS", "mixed": "MIXED", "neutral": "NEUTRAL"}


def _cell(text: str) -> str:
    return markdown_inline(text)


def _headline(report: DiffReport) -> list[str]:
    current, candidate = report.current, report.candidate
    counts = ", ".join(f"{count} {direction}" for direction, count in report.directions.items())
    return [
        f"current:   profile {current.profile} ({current.source}), policies {current.rego}",
        f"candidate: profile {candidate.profile} ({candidate.source}), policies {candidate.rego}",
        f"{report.evaluated} recorded manifests re-evaluated at {report.now}: "
        f"{report.changed} decisions change ({counts})",
    ]


def _field_changes(change: Change) -> list[str]:
    details = [
        f"{name}: {getattr(change.before, name)} -> {getattr(change.after, name)}"
        for name in change.changed
        if name != "tier"
    ]
    if change.reasons_added:
        details.append("reasons added: " + ", ".join(change.reasons_added))
    if change.reasons_removed:
        details.append("reasons removed: " + ", ".join(change.reasons_removed))
    return details


def text(report: DiffReport) -> str:
    lines = [visible(line) for line in _headline(report)]
    if report.transitions:
        lines += ["", "transitions:"]
        lines += [f"  {t.from_tier} -> {t.to_tier}: {t.count}" for t in report.transitions]
    if report.changes:
        lines += ["", "changes:"]
    for change in report.changes:
        lines.append(
            f"  {VERBS[change.direction]:<8} {visible(change.id)}: {change.before.tier} -> {change.after.tier}  ({visible(change.source)})"
        )
        lines += [f"           {visible(detail)}" for detail in _field_changes(change)]
    if report.loosens:
        lines += ["", "at least one decision loosens: review the change (--allow-loosening accepts it)"]
    return "\n".join(lines) + "\n"


def markdown(report: DiffReport) -> str:
    lines = ["## hitl diff", ""] + [f"- {_cell(line)}" for line in _headline(report)]
    if report.transitions:
        lines += ["", "| from | to | decisions |", "|---|---|---|"]
        lines += [f"| {t.from_tier} | {t.to_tier} | {t.count} |" for t in report.transitions]
    if report.changes:
        lines += ["", "| id | change | tier | details | source |", "|---|---|---|---|---|"]
        for change in report.changes:
            lines.append(
                f"| {markdown_table_cell(markdown_code_span(change.id))} | **{change.direction}** | {change.before.tier} → {change.after.tier} | "
                f"{_cell('; '.join(_field_changes(change)))} | {_cell(change.source)} |"
            )
    if report.loosens:
        lines += ["", "**At least one decision loosens.**"]
    return "\n".join(lines) + "\n"


DIFF_FORMATS: dict[str, Callable[[DiffReport], str]] = {
    "text": text,
    "json": DiffReport.as_json,
    "markdown": markdown,
}
