"""Writing a report: to stdout, or to a file replaced atomically so no reader sees half of one."""

import os
import sys
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

from hitl_cli.errors import UsageError
from hitl_cli.escaping import visible_lines


def emit(text: str | Iterable[str], destination: Path | None) -> None:
    """A report, whole or in pieces (written as they come, never held whole)."""
    pieces = [text] if isinstance(text, str) else text
    if destination is None:
        for piece in pieces:
            sys.stdout.write(piece)
        sys.stdout.flush()
        return
    with replaced_atomically(destination) as temporary, open(temporary, "w", encoding="utf-8") as stream:
        for piece in pieces:
            stream.write(piece)


@contextmanager
def replaced_atomically(destination: Path, mode: int | None = None) -> Iterator[Path]:
    """A temporary file beside `destination` for the caller (or a program it runs) to fill. When the block ends
    well, the file is synced to disk and replaces `destination` in one step, so a reader sees the old file or
    the new one, never half of one; when it fails, the temporary file is removed and `destination` is untouched.
    mode: the new file's permissions; by default those of any new file (0666 less the umask)."""
    folder = destination.parent if str(destination.parent) else Path(".")
    try:
        handle, name = tempfile.mkstemp(dir=folder, prefix=f".{destination.name}.", suffix=".tmp")
    except OSError as error:
        raise UsageError(f"cannot write {destination}: {error.strerror}") from None
    os.close(handle)
    temporary = Path(name)
    try:
        yield temporary
        os.chmod(temporary, _new_file_mode() if mode is None else mode)
        with open(temporary, "rb") as written:
            os.fsync(written.fileno())
        os.replace(temporary, destination)
    except OSError as error:
        temporary.unlink(missing_ok=True)
        raise UsageError(f"cannot write {destination}: {error.strerror}") from None
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    directory = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(directory)  # the rename itself survives a crash
    finally:
        os.close(directory)


def _new_file_mode() -> int:
    umask = os.umask(0o022)
    os.umask(umask)
    return 0o666 & ~umask


def silence_stdout() -> None:
    """Point stdout at /dev/null, so that the interpreter's last flush of a closed pipe raises nothing."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)


def warn(text: str) -> None:
    """Lines for stderr (a CI log too): whatever text they quote cannot act on the terminal or the log."""
    print(visible_lines(text), file=sys.stderr)
