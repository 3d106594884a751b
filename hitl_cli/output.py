"""Writing a report: to stdout, or to a file replaced atomically so no reader sees half of one."""

import os
import sys
import tempfile
from collections.abc import Iterable
from pathlib import Path


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


def silence_stdout() -> None:
    """Point stdout at /dev/null, so that the interpreter's last flush of a closed pipe raises nothing."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)


def warn(line: str) -> None:
    print(line, file=sys.stderr)
