"""Writing a report: to stdout, or to a file replaced atomically so no reader sees half of one."""

import os
import sys
import tempfile
from pathlib import Path


def emit(text: str, destination: Path | None) -> None:
    if destination is None:
        sys.stdout.write(text)
        sys.stdout.flush()
        return
    folder = destination.parent if str(destination.parent) else Path(".")
    handle, temporary = tempfile.mkstemp(dir=folder, prefix=f".{destination.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            stream.write(text)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temporary, destination)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def warn(line: str) -> None:
    print(line, file=sys.stderr)
