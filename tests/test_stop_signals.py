"""A stop signal that lands while hitl starts a child unwinds only once hitl holds the child, and the child is
stopped: nothing outlives the run (the end-to-end version, with a real `hitl` process, is in test_faults)."""

import os
import signal
import subprocess
import sys

import pytest

from hitl_cli import stop_signals
from hitl_cli.engine import binary

SLEEPER = [sys.executable, "-c", "import time; time.sleep(300)"]


@pytest.fixture
def stop_handlers():
    previous = {signum: signal.getsignal(signum) for signum in (signal.SIGINT, signal.SIGTERM)}
    signal.signal(signal.SIGINT, signal.default_int_handler)
    stop_signals.install()
    yield
    for signum, handler in previous.items():
        signal.signal(signum, handler)


class Starts:
    """The children run_child starts; with `signal_on_start`, that signal is sent to this process the moment a
    child has started, before run_child holds it (FAULT INJECTION)."""

    def __init__(self):
        self.children: list[subprocess.Popen] = []
        self.signal_on_start: int | None = None


@pytest.fixture
def starts(monkeypatch) -> Starts:
    recorded = Starts()
    real_start = binary.start_child

    def start(command, **options):
        child = real_start(command, **options)
        recorded.children.append(child)
        if recorded.signal_on_start is not None:
            os.kill(os.getpid(), recorded.signal_on_start)
        return child

    monkeypatch.setattr(binary, "start_child", start)
    return recorded


@pytest.mark.parametrize(
    ("signum", "unwinding"), [(signal.SIGTERM, SystemExit), (signal.SIGINT, KeyboardInterrupt)], ids=["TERM", "INT"]
)
def test_a_signal_while_a_child_starts_stops_the_child(stop_handlers, starts, signum, unwinding):
    starts.signal_on_start = signum
    with pytest.raises(unwinding) as stopped:
        binary.run_child(SLEEPER, timeout=60)
    if unwinding is SystemExit:
        assert stopped.value.code == 128 + signum
    assert len(starts.children) == 1
    assert starts.children[0].returncode is not None, "the child was left running"


def test_a_child_that_outlasts_its_timeout_is_killed(starts):
    with pytest.raises(subprocess.TimeoutExpired):
        binary.run_child(SLEEPER, timeout=0.5)
    assert starts.children[0].returncode == -signal.SIGKILL


def test_an_ignored_ctrl_c_stays_ignored(stop_handlers):
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    stop_signals.install()
    assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN
