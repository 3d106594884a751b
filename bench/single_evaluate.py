"""One `hitl evaluate` of one manifest, the whole process: start-up, the profile, a local OPA, the decision and
its table. Targets: under 0.5 s (issue 8), under 0.45 s (issue 12), at most 0.3 s (issue 13).

    .venv/bin/python bench/single_evaluate.py --runs 10 [--before REV] [--no-bytecode]

The manifest is examples/manifests/add-column-production.yaml under the default profile, no track record and no
store. Prints the wall and CPU (user + system of hitl and its OPA) times and their medians as JSON: on a loaded
machine the CPU time says what the wall time cannot. hitl runs with its bytecode compiled, as a wheel install
does (a bytecode cache of the bench's own, filled by one untimed run), unless `--no-bytecode`. `--before REV`
also times that commit's `hitl evaluate`, its runs interleaved with these.
"""

import argparse
import json
import os
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import tools  # noqa: E402

TARGETS = {"issue 8": 0.5, "issue 12": 0.45, "issue 13": 0.3}
MANIFEST = tools.ROOT / "examples" / "manifests" / "add-column-production.yaml"


def main() -> int:
    parser = argparse.ArgumentParser(description="time one hitl evaluate of one manifest")
    tools.add_timing_options(parser, "hitl evaluate")
    args = parser.parse_args()
    results = {"load_before": os.getloadavg(), "targets_seconds": TARGETS, "bytecode": not args.no_bytecode}
    with tempfile.TemporaryDirectory(prefix="hitl-bench-evaluate-") as folder:
        root = Path(folder)
        trees = tools.timed_trees(args.before, root)
        if args.before:
            results["before_commit"] = args.before
        env = {name: value for name, value in os.environ.items() if name != "HITL_STATE"}
        env = tools.bytecode_environment(env, root, args.no_bytecode)
        env["HITL_OPA_BIN"] = str(tools.OPA)
        env["HITL_STATE"] = str(root / "no-store.db")  # never created: evaluate only reads a store that exists
        timings = tools.interleaved(
            trees, args.runs, env, lambda: ["evaluate", str(MANIFEST), "--profile", "default"])
    for name, t in timings.items():
        wall = statistics.median(t["wall"])
        results[name] = {
            "wall_seconds": t["wall"], "median_seconds": wall, "min_seconds": min(t["wall"]), "cpu_seconds": t["cpu"],
            "median_cpu_seconds": statistics.median(t["cpu"]),
            "met": {issue: wall < target if issue != "issue 13" else wall <= target for issue, target in TARGETS.items()},
        }
    results["load_after"] = os.getloadavg()
    print(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
