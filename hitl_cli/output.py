"""Writing a report: to stdout, or to a file replaced atomically so no reader sees half of one."""

import os
import sys
import tempfile
from collections.abc import Iterable
from pathlib import Path

from hitl_cli.escaping import visible_lines


def emit(text: str | Iterable[str], destination: Path | None) -> None:
    """A report, whole or in pieces (written as they come, never held whole)."""
    pieces = [text] if isinstance(text, str) else text
    if destination is None:
        for piece in pieces:
            sys.stdout.write(piece)
        sys.stdout.flush()
        return
    folder = destination.parent if str(destination.parent) else Path(".")
    handle, temporary = tempfile.mkstemp(dir=folder, prefix=f".{destination.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            for piece in pieces:
                stream.write(piece)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temporary, destination)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def warn(text: str) -> None:
    """Lines for stderr (a CI log too): whatever text they quote cannot act on the terminal or the log."""
    print(visible_lines(text), file=sys.stderr)
