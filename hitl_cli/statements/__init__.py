"""Statement analysis: what action.statement does, parsed with sqlglot (docs/statements.md)."""

import importlib
import threading
from collections.abc import Iterable
from typing import TYPE_CHECKING

from hitl_cli.statements import forked
from hitl_cli.statements.kind_names import ANALYSABLE_KINDS, UNANALYSABLE_KINDS

if TYPE_CHECKING:
    from concurrent.futures import Future

__all__ = [
    "ANALYSABLE_KINDS", "UNANALYSABLE_KINDS", "analysis_json", "analysis_json_async", "load_parser_in_background", "prefetch",
]


def analysis_json(statement: str | None, system: str | None) -> bytes:
    """hitl_cli.statements.analysis.analyse() in JSON: input.statement_facts for one manifest (each distinct statement
    and dialect analysed once per process), from the forked analyser when the command started one
    (hitl_cli.statements.forked), from the analyst process when hitl serve started one
    (hitl_cli.statements.analyst_process), else here."""
    answered = forked.answer((statement, system))
    if answered is not None:
        return answered
    return _analysis_future(statement, system).result()


async def analysis_json_async(statement: str | None, system: str | None) -> bytes:
    """analysis_json for a caller on an asyncio event loop (hitl serve): a statement not analysed before is waited
    for without holding the loop, which goes on answering other requests meanwhile."""
    if forked.running():
        return analysis_json(statement, system)
    import asyncio

    future = _analysis_future(statement, system)
    return future.result() if future.done() else await asyncio.wrap_future(future)


def _analysis_future(statement: str | None, system: str | None) -> "Future":
    # Imported here: `hitl evaluate` forks its analyser as soon as it has imported this package, and sqlglot takes a
    # tenth of a second to load, which commands that decide nothing never need.
    from hitl_cli.statements import analyst_process

    if analyst_process.running():
        return analyst_process.analysis_future(statement, system)
    from hitl_cli.statements.analysis import analysis_future

    return analysis_future(statement, system)


def prefetch(requests: Iterable[tuple[str | None, str | None]]) -> None:
    """Let a forked analyser start on these (statement, system) pairs while the command does something else."""
    forked.prefetch(requests)


def load_parser_in_background() -> None:
    """Import sqlglot on another thread, while this one waits for something else (a local OPA starting), unless a
    forked analyser or an analyst process parses statements."""
    from hitl_cli.statements import analyst_process

    if not (forked.running() or analyst_process.running()):
        threading.Thread(target=importlib.import_module, args=("hitl_cli.statements.analysis",), daemon=True).start()
