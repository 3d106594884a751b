"""`check --format github`: GitHub Actions workflow commands that annotate the manifest files."""

from __future__ import annotations

from typing import TYPE_CHECKING

from hitl_cli.escaping import github_data, github_property
from hitl_cli.reporters.common import source_file, summary, verdict

if TYPE_CHECKING:
    from hitl_cli.evaluation import RunResult


def _command(level: str, file: str, line: int, title: str, message: str) -> str:
    return f"::{level} file={github_property(file)},line={line},title={github_property(title)}::{github_data(message)}"


def render(result: RunResult) -> str:
    lines = []
    for item in result.evaluated:
        d = item.decision
        if item.may_run:
            continue
        level = "error" if d.tier == "block" else "warning"
        message = "\n".join(f"[{r.tier}] {r.code}: {r.message}" for r in d.reasons)
        lines.append(
            _command(level, source_file(item.loaded.source), item.loaded.line, f"hitl: {d.id} {verdict(item)} ({d.tier})", message)
        )
    for source, problems in result.invalid_documents().items():
        message = "\n".join(f"{p.path or '(document)'}: {p.message}" for p in problems)
        lines.append(_command("error", source_file(source), 1, f"hitl: invalid manifest {source}", message))
    lines.append(f"::notice title=hitl::{github_data(summary(result))}")
    return "\n".join(lines) + "\n"
