"""Reporters by name: each turns a run's result into the text of one output format."""

from collections.abc import Callable, Iterable

from hitl_cli.evaluation import RunResult
from hitl_cli.reporters import github, json_report, junit, markdown, sarif, table, text

Reporter = Callable[[RunResult], str | Iterable[str]]

EVALUATE_FORMATS: dict[str, Reporter] = {
    "table": table.render,
    "json": json_report.render,
    "markdown": markdown.render,
}

CHECK_FORMATS: dict[str, Reporter] = {
    "text": text.render,
    "json": json_report.render,
    "junit": junit.render,
    "sarif": sarif.render,
    "github": github.render,
}
