"""What understanding statements costs: `hitl check` on the bench's manifests and one `hitl evaluate`, for a
source tree of hitl from before statement analysis (--baseline) and for this one, runs interleaved.

    git archive <commit-before> | tar -x -C /tmp/hitl-before
    .venv/bin/python bench/statement_cost.py --baseline /tmp/hitl-before --runs 3

Prints the medians as a Markdown section for bench/RESULTS.md. The baseline runs with this virtualenv and its
own rego/ and org_profiles/ (PYTHONPATH puts its hitl_cli first); it needs .tools/bin/opa, which is copied.
"""

import argparse
import os
import shutil
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import run  # noqa: E402
import tools  # noqa: E402
from measure import run_measured  # noqa: E402


def hitl_in(tree: Path | None) -> tuple[list[str], dict | None]:
    if tree is None:
        return [str(tools.HITL)], None
    return [str(tools.VENV_PYTHON), "-m", "hitl_cli"], {**os.environ, "PYTHONPATH": str(tree)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", type=Path, required=True, help="a source tree of hitl before the change")
    parser.add_argument("--size", type=int, default=10000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--single-runs", type=int, default=5)
    args = parser.parse_args()
    baseline = args.baseline.resolve()
    (baseline / ".tools" / "bin").mkdir(parents=True, exist_ok=True)
    shutil.copy2(tools.OPA, baseline / ".tools" / "bin" / "opa")
    generated, _, _ = run.prepared_set(args.size, "default")
    single = tools.ROOT / "examples" / "manifests" / "add-column-production.yaml"
    out = run.OUT / "statement-cost"
    out.mkdir(parents=True, exist_ok=True)
    figures: dict[str, list] = {"check before": [], "check after": [], "evaluate before": [], "evaluate after": []}
    trees = {"before": baseline, "after": None}
    for number in range(args.runs):
        for label, tree in trees.items():
            run.say(f"hitl check {label}: run {number + 1}/{args.runs}")
            command, env = hitl_in(tree)
            check = [*command, "check", str(generated.folder), "--profile", "default",
                     "--track-record", str(generated.track_record)]  # fmt: skip
            figures[f"check {label}"].append(run_measured(check, out / f"check-{label}.out", env=env, cwd=tree))
    for number in range(args.single_runs):
        for label, tree in trees.items():
            command, env = hitl_in(tree)
            evaluate = [*command, "evaluate", str(single), "--profile", "default"]
            figures[f"evaluate {label}"].append(run_measured(evaluate, out / f"evaluate-{label}.out", env=env, cwd=tree))
    median = {name: statistics.median(m.wall_seconds for m in runs) for name, runs in figures.items()}
    cpu = {name: statistics.median(m.cpu_seconds for m in runs) for name, runs in figures.items()}
    ratio = median["check after"] / median["check before"]
    cpu_ratio = cpu["check after"] / cpu["check before"]
    load = " ".join(f"{value:.2f}" for value in os.getloadavg())
    print(f"""## Statement analysis cost

`bench/statement_cost.py --runs {args.runs}`: `hitl check` on the bench's {generated.manifests:,} manifests
({generated.files:,} files, profile default) and one `hitl evaluate`, before statement analysis and after,
runs interleaved in one session; medians of wall time, and of CPU time (user + system, hitl and its OPA together).

| | before | after | ratio |
|---|---|---|---|
| `hitl check`, {generated.manifests:,} manifests, wall | {median['check before']:.2f} s | {median['check after']:.2f} s | {ratio:.2f}x |
| `hitl check`, {generated.manifests:,} manifests, CPU | {cpu['check before']:.2f} s | {cpu['check after']:.2f} s | {cpu_ratio:.2f}x |
| `hitl evaluate`, one manifest, wall | {median['evaluate before']:.2f} s | {median['evaluate after']:.2f} s | |

Load average at the end: {load}.
""")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
