"""The `hitl` command as a process: the console script and `python -m hitl_cli` start here.

Starting allocates about a million objects that live as long as the process (modules, classes, pydantic's
validators) and frees few of them: Python's garbage collector, run again and again over them while they are made,
costs a short command more than a tenth of its start (bench/RESULTS.md, "One evaluate"). It is held off until
the command itself starts (`resume_collection`, in the fault guard every command runs through, hitl_cli.cli_common),
and the objects made before then are frozen out of its way: a command's own work makes garbage in cycles (parsed
statements, caught exceptions), and one that runs long (deliver --watch, serve) would otherwise grow without
bound. When the command is done, the process ends once its output is flushed, without tearing every module down
one object at a time (another tenth). hitl used as a library keeps Python's defaults.
"""

import gc
import os
import signal
import sys
from typing import NoReturn

from hitl_cli.stop_signals import Terminated

CLOSED_PIPE = 128 + signal.SIGPIPE  # what a shell reports for a program that SIGPIPE ended
INTERRUPTED = 128 + signal.SIGINT  # Ctrl-C (docs/cli.md)
INTERRUPTED_LINE = "hitl: interrupted; nothing was decided"
TERMINATED_LINE = "hitl: stopped by SIGTERM; nothing was decided"
_collection_held = False


# Commands whose start-up waits for the statement parser: it is forked before anything else is imported
# (hitl_cli.statements.forked), a guess from the first argument that costs nothing when wrong.
FORKS_ANALYSER = ("evaluate",)


def main() -> NoReturn:
    global _collection_held
    gc.disable()
    _collection_held = True
    _standard_streams_open()
    if sys.argv[1:2] and sys.argv[1] in FORKS_ANALYSER:
        from hitl_cli.statements import forked

        forked.start()
    try:
        from hitl_cli.cli import main as run_command

        run_command()
        code = 0
    except Terminated as done:  # SIGTERM (hitl_cli.stop_signals), wherever the command was: no guard catches it
        from hitl_cli.output import warn

        warn(TERMINATED_LINE)
        code = done.code
    except SystemExit as done:
        code = done.code
    except KeyboardInterrupt:  # Ctrl-C while hitl starts, before a command's fault guard can answer it
        from hitl_cli.output import warn

        warn(INTERRUPTED_LINE)
        code = INTERRUPTED
    _end(code)


def _standard_streams_open() -> None:
    """A standard stream the command was started without (`hitl check >&-`) is /dev/null instead: its descriptor
    would otherwise be the next file or pipe hitl opens, which its output (or a child's) would then overwrite."""
    for descriptor in (0, 1, 2):
        try:
            os.fstat(descriptor)
        except OSError:
            os.open(os.devnull, os.O_RDWR)  # the lowest free descriptor: this one
    for name, descriptor in (("stdin", 0), ("stdout", 1), ("stderr", 2)):
        if getattr(sys, name) is None:
            setattr(sys, name, open(descriptor, "r" if descriptor == 0 else "w", encoding="utf-8", closefd=False))


def resume_collection() -> None:
    """Collect garbage from here on, if the command held it off; what start-up made is left out of it."""
    global _collection_held
    if _collection_held:
        _collection_held = False
        gc.freeze()
        gc.enable()


def _end(code: object) -> NoReturn:
    """Exit as sys.exit(code) would: None is 0, a number is itself, anything else is printed and is 1."""
    if code is None:
        status = 0
    elif isinstance(code, int):
        status = code
    else:
        from hitl_cli.output import warn

        warn(str(code))
        status = 1
    try:
        sys.stdout.flush()
    except BrokenPipeError:
        status = status or CLOSED_PIPE
    try:
        sys.stderr.flush()
    except OSError:
        pass
    os._exit(status)
