"""`hitl diff` reports: text for a terminal or CI log, markdown for a pull-request comment, json for scripts."""

import json
from collections.abc import Callable
from typing import TYPE_CHECKING

from hitl_cli.formats import OutputFormat
from hitl_cli.escaping import markdown_code_span, markdown_inline, markdown_table_cell, visible

if TYPE_CHECKING:  # the formats are named at start-up by every command; the impact analysis is `hitl diff`'s
    from hitl_cli.impact import Change, DiffReport
    from hitl_cli.profile_changes import ProfileChange

VERBS = {"loosening": "LOOSENS", "tightening": "TIGHTENS", "mixed": "MIXED", "neutral": "NEUTRAL"}


def _cell(text: str) -> str:
    return markdown_inline(text)


def _headline(report: "DiffReport") -> list[str]:
    current, candidate = report.current, report.candidate
    counts = ", ".join(f"{count} {direction}" for direction, count in report.directions.items())
    loosening = sum(change.direction == "loosening" for change in report.profile_changes)
    return [
        f"current:   profile {current.profile} ({current.source}), policies {current.rego}",
        f"candidate: profile {candidate.profile} ({candidate.source}), policies {candidate.rego}",
        f"{report.evaluated} recorded manifests re-evaluated at {report.now}: "
        f"{report.changed} decisions change ({counts})",
        f"{len(report.profile_changes)} profile fields change ({loosening} loosening)",
    ]


def _profile_change(change: "ProfileChange") -> str:
    """Values as JSON: a profile's free text (a waiver's reason) cannot start a line of its own."""
    before, after = (json.dumps(value, ensure_ascii=False) for value in (change.before, change.after))
    if change.before is None:
        return f"{change.field}: added {after}"
    if change.after is None:
        return f"{change.field}: removed {before}"
    return f"{change.field}: {before} -> {after}"


def _field_changes(change: "Change") -> list[str]:
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


def text(report: "DiffReport") -> str:
    lines = [visible(line) for line in _headline(report)]
    if report.profile_changes:
        lines += ["", "profile changes:"]
        lines += [visible(f"  {VERBS[change.direction]:<8} {_profile_change(change)}") for change in report.profile_changes]
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
        lines += ["", "the change loosens the gate: review it (--allow-loosening accepts it)"]
    return "\n".join(lines) + "\n"


def markdown(report: "DiffReport") -> str:
    lines = ["## hitl diff", ""] + [f"- {_cell(line)}" for line in _headline(report)]
    if report.profile_changes:
        lines += ["", "| direction | profile field |", "|---|---|"]
        lines += [
            f"| **{change.direction}** | {_cell(_profile_change(change))} |" for change in report.profile_changes
        ]
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
        lines += ["", "**The change loosens the gate.**"]
    return "\n".join(lines) + "\n"


def as_json(report: "DiffReport") -> str:
    return report.as_json()


DIFF_FORMATS: dict[OutputFormat, Callable[["DiffReport"], str]] = {
    OutputFormat.TEXT: text,
    OutputFormat.JSON: as_json,
    OutputFormat.MARKDOWN: markdown,
}
