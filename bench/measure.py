"""Running one command and measuring it: wall time, CPU time, and peak memory of the whole process tree.

Peak memory is taken two ways: the largest single process (the kernel's own maximum resident set, from
wait4, which covers every descendant the command waited for — hitl waits for its OPA), and the whole
tree at once (resident sets of the command and all its descendants, summed, sampled every 20 ms).
"""

import os
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path

SAMPLE_SECONDS = 0.02


@dataclass(frozen=True)
class Measurement:
    wall_seconds: float
    largest_process_mb: float
    tree_mb: float
    returncode: int
    cpu_seconds: float  # user + system, of the command and every descendant it waited for (hitl: its OPA too)


def _children(pid: int) -> list[int]:
    found = []
    try:
        for task in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{task}/children") as listing:
                found.extend(int(child) for child in listing.read().split())
    except OSError:
        pass
    return found


def _rss_kb(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def tree_rss_kb(root: int) -> int:
    total, pending = 0, [root]
    while pending:
        pid = pending.pop()
        total += _rss_kb(pid)
        pending.extend(_children(pid))
    return total


class _TreeSampler(threading.Thread):
    def __init__(self, pid: int):
        super().__init__(daemon=True)
        self.pid = pid
        self.peak_kb = 0
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.is_set():
            self.peak_kb = max(self.peak_kb, tree_rss_kb(self.pid))
            self.stop.wait(SAMPLE_SECONDS)


def run_measured(command: list[str], stdout: Path, env: dict | None = None, cwd: Path | None = None) -> Measurement:
    """Run the command with stdout to a file and stderr to a file beside it; never raises for its exit code."""
    with open(stdout, "wb") as out, open(stdout.with_suffix(stdout.suffix + ".stderr"), "wb") as err:
        started = time.perf_counter()
        process = subprocess.Popen(command, stdout=out, stderr=err, env=env, cwd=cwd, stdin=subprocess.DEVNULL)
        sampler = _TreeSampler(process.pid)
        sampler.start()
        _, status, usage = os.wait4(process.pid, 0)
        wall = time.perf_counter() - started
        sampler.stop.set()
        sampler.join()
    process.returncode = os.waitstatus_to_exitcode(status)
    cpu = usage.ru_utime + usage.ru_stime
    return Measurement(wall, usage.ru_maxrss / 1024, sampler.peak_kb / 1024, process.returncode, cpu)
