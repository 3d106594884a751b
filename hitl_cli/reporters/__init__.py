"""Reporters by name: each turns a run's result into the text of one output format."""

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

from hitl_cli.formats import OutputFormat
from hitl_cli.reporters import github, json_report, junit, markdown, sarif, table, text

if TYPE_CHECKING:  # reporters are named at start-up by every command; the core is imported by those that decide
    from hitl_cli.evaluation import RunResult

Reporter = Callable[["RunResult"], str | Iterable[str]]

EVALUATE_FORMATS: dict[OutputFormat, Reporter] = {
    OutputFormat.TABLE: table.render,
    OutputFormat.JSON: json_report.render,
    OutputFormat.MARKDOWN: markdown.render,
}

CHECK_FORMATS: dict[OutputFormat, Reporter] = {
    OutputFormat.TEXT: text.render,
    OutputFormat.JSON: json_report.render,
    OutputFormat.JUNIT: junit.render,
    OutputFormat.SARIF: sarif.render,
    OutputFormat.GITHUB: github.render,
}
