"""What one analysis of a short statement not seen before costs through hitl serve's analyst process
(hitl_cli.statements.analyst_process), against the analyst thread every other caller uses, batches interleaved.

    .venv/bin/python bench/analyst_round_trip.py --statements 300 --rounds 7

Each batch asks for its statements one after another, each awaited before the next (a round trip each). CPU is
user+system time: this process's (getrusage) and, for the process, the analyst's (/proc/PID/stat, 10 ms ticks, so a
batch is a few hundred statements). Prints the medians per statement.
"""

import argparse
import resource
import statistics
import sys
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from conftest import cpu_seconds  # noqa: E402

from hitl_cli.statements import analysis, analyst_process  # noqa: E402


def own_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def fresh(count: int) -> list[str]:
    return [f"UPDATE analytics.t_{uuid.uuid4().hex} SET a = 1 WHERE b = 2" for _ in range(count)]


def batch(ask, statements: list[str], analyst_pid: int | None) -> tuple[float, float, float]:
    """(wall, this process's CPU, the analyst process's CPU), in seconds."""
    theirs = cpu_seconds(analyst_pid) if analyst_pid else 0.0
    mine, started = own_cpu(), time.perf_counter()
    for statement in statements:
        ask(statement, "snowflake").result()
    wall, mine = time.perf_counter() - started, own_cpu() - mine
    return wall, mine, (cpu_seconds(analyst_pid) - theirs) if analyst_pid else 0.0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--statements", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    process = analyst_process.AnalystProcess(timeout=60)
    try:
        process.analysis_future("SELECT 1", "snowflake").result()  # both analysts started, parsers loaded
        analysis.analysis_future("SELECT 1", "snowflake").result()
        pid = process._analyst.process.pid  # noqa: SLF001 - the bench reads the analyst's CPU time
        figures: dict[str, list[tuple[float, float, float]]] = {"thread": [], "process": []}
        for _ in range(args.rounds):
            figures["thread"].append(batch(analysis.analysis_future, fresh(args.statements), None))
            figures["process"].append(batch(process.analysis_future, fresh(args.statements), pid))
        assert process._analyst.process.pid == pid, "the analyst was started again: the figures mix two"  # noqa: SLF001
    finally:
        process.close()
    per = 1e6 / args.statements
    print(f"{args.statements} short new statements a batch, {args.rounds} batches each, interleaved; medians per statement:")
    print("| analyst | wall µs | server CPU µs | analyst process CPU µs | total CPU µs |")
    print("|---|---|---|---|---|")
    for name, runs in figures.items():
        wall, mine, theirs = (statistics.median(run[i] for run in runs) * per for i in range(3))
        total = statistics.median((run[1] + run[2]) for run in runs) * per
        print(f"| {name} | {wall:.0f} | {mine:.0f} | {theirs:.0f} | {total:.0f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
