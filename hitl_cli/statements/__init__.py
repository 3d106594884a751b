"""Statement analysis: what action.statement does, parsed with sqlglot (docs/statements.md)."""

import importlib
import threading

from hitl_cli.statements.kind_names import ANALYSABLE_KINDS, UNANALYSABLE_KINDS

__all__ = ["ANALYSABLE_KINDS", "UNANALYSABLE_KINDS", "analysis_json", "load_parser_in_background"]


def analysis_json(statement: str | None, system: str | None) -> bytes:
    """hitl_cli.statements.analysis.analyse() in JSON: input.statement_facts for one manifest (each distinct statement
    and dialect analysed once per process)."""
    # Imported here: sqlglot takes a tenth of a second to load, which commands that decide nothing never need.
    from hitl_cli.statements.analysis import analysis_json as analysed

    return analysed(statement, system)


def load_parser_in_background() -> None:
    """Import sqlglot on another thread, while this one waits for something else (a local OPA starting)."""
    threading.Thread(target=importlib.import_module, args=("hitl_cli.statements.analysis",), daemon=True).start()
