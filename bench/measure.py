"""Running one command and measuring it: wall time, CPU time, and peak memory of the whole process tree.

Peak memory is taken two ways, sampled every 20 ms over the command and all its descendants: the largest single
process (the kernel's peak resident set of each process's program, VmHWM), and the whole tree at once (their
resident sets, summed). Not wait4's maximum resident set: a process forked from the bench carries the bench's own
peak into it, and the bench has held a 100,000-manifest input in memory by then.
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


def _resident_kb(pid: int) -> tuple[int, int]:
    """(VmRSS, VmHWM) of a process: its resident set now, and the largest it has been."""
    found = {"VmRSS:": 0, "VmHWM:": 0}
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                fields = line.split()
                if fields and fields[0] in found:
                    found[fields[0]] = int(fields[1])
    except OSError:
        pass
    return found["VmRSS:"], found["VmHWM:"]


def tree_resident_kb(root: int) -> tuple[int, int]:
    """The resident sets of root and every descendant, summed, and the largest peak of any one of them."""
    total, largest, pending = 0, 0, [root]
    while pending:
        pid = pending.pop()
        now, peak = _resident_kb(pid)
        total, largest = total + now, max(largest, peak)
        pending.extend(_children(pid))
    return total, largest


class _TreeSampler(threading.Thread):
    def __init__(self, pid: int):
        super().__init__(daemon=True)
        self.pid = pid
        self.peak_kb = 0
        self.largest_kb = 0
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.is_set():
            tree, largest = tree_resident_kb(self.pid)
            self.peak_kb, self.largest_kb = max(self.peak_kb, tree), max(self.largest_kb, largest)
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
    return Measurement(wall, sampler.largest_kb / 1024, sampler.peak_kb / 1024, process.returncode, cpu)
