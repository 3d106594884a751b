"""SIGINT and SIGTERM unwind hitl (KeyboardInterrupt, SystemExit 128+N), so that every local OPA it started is
stopped on the way out. While a child process starts they wait: one arriving between the fork and the moment hitl
holds the child would unwind without it, and leave the child to outlive the run."""

import signal
import sys
from collections.abc import Iterator
from contextlib import contextmanager

_held: list[int] | None = None


class Terminated(SystemExit):
    """SIGTERM, unwinding hitl: it exits 128 + SIGTERM, after one line saying so (hitl_cli.program)."""


def _unwind(signum: int) -> None:
    if signum == signal.SIGINT:
        raise KeyboardInterrupt
    raise Terminated(128 + signum)


def _on_stop_signal(signum, frame) -> None:
    if _held is not None:
        _held.append(signum)
        return
    _unwind(signum)


def install() -> None:
    """The handlers for the `hitl` command. A SIGINT that was ignored when hitl started (a background job) stays
    ignored."""
    signal.signal(signal.SIGTERM, _on_stop_signal)
    if signal.getsignal(signal.SIGINT) is signal.default_int_handler:
        signal.signal(signal.SIGINT, _on_stop_signal)


@contextmanager
def held() -> Iterator[None]:
    """Run the block with stop signals waiting, then unwind for the first that came. Assign the child inside the
    block, so that the unwinding finds it. Without install() (hitl used as a library) a signal acts as it would
    anyway."""
    global _held
    outer, _held = _held, ([] if _held is None else _held)
    try:
        yield
    finally:
        waiting, _held = _held, outer
        if outer is None and waiting:
            _unwind(waiting[0])


def on_parent_death(signum: int) -> None:
    """Linux: have this process (a child of hitl's) receive signum when hitl ends, however it ends."""
    if sys.platform.startswith("linux"):
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signum)  # PR_SET_PDEATHSIG
