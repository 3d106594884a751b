"""Reporters by name: each turns a run's result into the text of one output format."""

import importlib
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

from hitl_cli.formats import OutputFormat

if TYPE_CHECKING:  # reporters are named at start-up by every command; the core is imported by those that decide
    from hitl_cli.evaluation import RunResult

Reporter = Callable[["RunResult"], str | Iterable[str]]


def _rendered_by(module: str) -> Reporter:
    """The render function of hitl_cli.reporters.<module>, imported when it reports: a run imports only the
    reporters it writes with (the SARIF one reads the policies' documentation, the JUnit one an XML library)."""

    def render(result: "RunResult") -> str | Iterable[str]:
        return importlib.import_module(f"{__name__}.{module}").render(result)

    return render


EVALUATE_FORMATS: dict[OutputFormat, Reporter] = {
    OutputFormat.TABLE: _rendered_by("table"),
    OutputFormat.JSON: _rendered_by("json_report"),
    OutputFormat.MARKDOWN: _rendered_by("markdown"),
}

CHECK_FORMATS: dict[OutputFormat, Reporter] = {
    OutputFormat.TEXT: _rendered_by("text"),
    OutputFormat.JSON: _rendered_by("json_report"),
    OutputFormat.JUNIT: _rendered_by("junit"),
    OutputFormat.SARIF: _rendered_by("sarif"),
    OutputFormat.GITHUB: _rendered_by("github"),
}
