"""What the policy itself costs: `opa bench` of one decision (data.hitl.main.decision) for a sample of the bench's
manifests, and of the batch rule (data.hitl.main.decisions) over the same sample, per manifest.

    .venv/bin/python bench/policy_cost.py                      # this checkout's rego/
    .venv/bin/python bench/policy_cost.py --baseline main      # and another revision's rego/, interleaved

The sample spans the bench's mix (bench/generate.py): the first manifest of each (action type, environment,
tier) found in the generated set, evenly thinned to --sample. Each input is what hitl sends for a manifest of
`hitl check` without a state store (profile, track_record, now, manifest, statement_facts); the policy data is
what hitl writes (hitl_cli.engine.write_policy_data), through the same revision's Python when it is a baseline,
so data a revision derives from the profile is part of what it is measured with. Benchmarks of the two
revisions run interleaved (baseline, then this checkout, manifest by manifest). Reports the medians of
ns/op and allocs/op as Markdown on stdout and in bench/policy-cost.md.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import run  # noqa: E402
import shape_floor  # noqa: E402
import tools  # noqa: E402

from hitl_cli.engine.client import agent_record  # noqa: E402
from hitl_cli.policy_files import ignore_options  # noqa: E402

NOW = "2026-01-15T12:00:00Z"  # waivers are judged at a fixed moment, so every revision sees the same ones
REPORT = tools.ROOT / "bench" / "policy-cost.md"
SHAPE_FLOOR = shape_floor.NAME


def decisions_of(rego: Path, data: Path, batch_input: Path) -> list[dict]:
    command = [str(tools.OPA), "eval", *ignore_options(tests=True), "--data", str(rego), "--data", str(data),
               "--input", str(batch_input), "--format", "raw", "data.hitl.main.decisions"]
    return json.loads(subprocess.run(command, capture_output=True, text=True, check=True).stdout)


def sample(batch: dict, tiers: list[str], size: int) -> list[int]:
    """Indices of the first manifest of each (declared type, environment, tier), evenly thinned to size."""
    first: dict[tuple, int] = {}
    for i, (m, tier) in enumerate(zip(batch["manifests"], tiers)):
        first.setdefault((m["action"]["type"], m["target"]["environment"], tier), i)
    chosen = [first[key] for key in sorted(first)]
    if len(chosen) > size:
        chosen = [chosen[round(k * (len(chosen) - 1) / (size - 1))] for k in range(size)]
    return sorted(chosen)


def one_input(batch: dict, i: int) -> dict:
    """What hitl sends for one manifest: the agent's part of the track record only."""
    manifest = batch["manifests"][i]
    return {"profile": batch["profile"], "track_record": agent_record(batch["track_record"], manifest["agent"]["id"]),
            "now": NOW, "manifest": manifest, "statement_facts": batch["statement_facts"][i]}


def batch_input(batch: dict, indices: list[int]) -> dict:
    return {"profile": batch["profile"], "track_record": batch["track_record"], "now": NOW,
            "manifests": [batch["manifests"][i] for i in indices],
            "statement_facts": [batch["statement_facts"][i] for i in indices]}


def opa_bench(rego: Path, data: Path, input_file: Path, query: str) -> tuple[float, float]:
    """ns/op and allocs/op of one `opa bench` (Go's benchmark loop, about a second), with the store as hitl's OPA
    keeps it (hitl_cli.engine.server.opa_run_command)."""
    command = [str(tools.OPA), "bench", "--optimize-store-for-read-speed", *ignore_options(tests=True),
               "--data", str(rego), "--data", str(data),
               "--input", str(input_file), "--format", "json", query]
    result = json.loads(subprocess.run(command, capture_output=True, text=True, check=True).stdout)
    return result["T"] / result["N"], result["MemAllocs"] / result["N"]


def policy_data(tree: Path | None, profile: str, folder: Path) -> Path:
    """hitl's policy data for the profile, written by the Python of tree (this checkout's when None)."""
    folder.mkdir(parents=True, exist_ok=True)
    script = ("import sys; from pathlib import Path; from hitl_cli.engine import write_policy_data; "
              "from hitl_cli.inputs import load_profile, profile_path; "
              "write_policy_data([load_profile(profile_path(sys.argv[1]))], Path(sys.argv[2]), None)")
    env = {**os.environ, "PYTHONPATH": str(tree)} if tree is not None else None
    subprocess.run([str(tools.VENV_PYTHON), "-c", script, profile, str(folder)], env=env, cwd=tree or tools.ROOT, check=True)
    return folder / "data.json"


def measure(trees: dict[str, Path | None], size: int, sample_size: int, batch_runs: int, profile: str, out: Path) -> dict:
    generated, _, _ = run.prepared_set(size, profile)
    taken, load_before = run.now(), os.getloadavg()
    batch = json.loads(generated.batch_input.read_text())
    data = {name: policy_data(tree, profile, out / name) for name, tree in trees.items()}
    rego = {name: (tree or tools.ROOT) / "rego" for name, tree in trees.items()}
    full = out / "full-input.json"
    full.write_text(json.dumps({**batch, "now": NOW}))
    reference = {name: decisions_of(rego[name], data[name], full) for name in trees}
    if any(found != next(iter(reference.values())) for found in reference.values()):
        raise SystemExit("bench: the revisions decide the generated set differently")
    tiers = [d["tier"] for d in next(iter(reference.values()))]
    chosen = sample(batch, tiers, sample_size)
    rego[SHAPE_FLOOR] = shape_floor.write(out / "shape-floor")
    data[SHAPE_FLOOR] = data["current"]
    contenders = [*trees, SHAPE_FLOOR]
    single: dict[str, list[tuple[float, float]]] = {name: [] for name in contenders}
    for number, i in enumerate(chosen):
        one = out / "one.json"
        one.write_text(json.dumps(one_input(batch, i)))
        for name in contenders:
            run.say(f"policy cost: decision {number + 1}/{len(chosen)}: {name}")
            single[name].append(opa_bench(rego[name], data[name], one, "data.hitl.main.decision"))
    many = out / "batch.json"
    many.write_text(json.dumps(batch_input(batch, chosen)))
    batched: dict[str, list[tuple[float, float]]] = {name: [] for name in contenders}
    for number in range(batch_runs):
        for name in contenders:
            run.say(f"policy cost: batch {number + 1}/{batch_runs}: {name}")
            ns, allocs = opa_bench(rego[name], data[name], many, "data.hitl.main.decisions")
            batched[name].append((ns / len(chosen), allocs / len(chosen)))
    run.say("policy cost: done\n")
    return {
        "taken": taken, "load_before": load_before, "load_after": os.getloadavg(),
        "size": generated.manifests, "sample": len(chosen), "batch_runs": batch_runs, "profile": profile,
        "types": len({batch["manifests"][i]["action"]["type"] for i in chosen}),
        "environments": len({batch["manifests"][i]["target"]["environment"] for i in chosen}),
        "tiers": sorted({tiers[i] for i in chosen}),
        "single": {name: _medians(figures) for name, figures in single.items()},
        "batch": {name: _medians(figures) for name, figures in batched.items()},
    }


def _medians(figures: list[tuple[float, float]]) -> dict[str, float]:
    return {"ns": statistics.median(ns for ns, _ in figures), "allocs": statistics.median(a for _, a in figures)}


def _load(averages) -> str:
    return ", ".join(f"{x:.1f}" for x in averages)


def render(results: dict, labels: dict[str, str]) -> str:
    rows = []
    for name, label in labels.items():
        single, batch = results["single"][name], results["batch"][name]
        rows.append(f"| {label} | {single['ns'] / 1000:,.1f} µs | {single['allocs']:,.0f} | "
                    f"{batch['ns'] / 1000:,.1f} µs | {batch['allocs']:,.0f} |")
    table = "\n".join(rows)
    busiest = max(results["load_before"][0], results["load_after"][0])
    loaded = (f"\n\n**The machine was loaded** (load average up to {busiest:.1f} on {os.cpu_count()} cores): the timings "
              "moved with it, so compare the rows by their allocations." if busiest > (os.cpu_count() or 1) else "")
    return f"""## Policy cost

`bench/policy_cost.py` (issue 13; generated, do not edit): `opa bench` of the policy alone, no hitl process. A sample
of {results['sample']} manifests of the bench's {results['size']:,}-manifest set (profile {results['profile']}: \
{results['types']} action types, {results['environments']} environments, tiers {', '.join(results['tiers'])}), each
with the input hitl sends (profile, track record, now, manifest, statement facts; no state store). Single: median over
the sample of one `data.hitl.main.decision` per manifest. Batch: `data.hitl.main.decisions` over the whole sample,
per manifest (median of {results['batch_runs']} runs). Target: a single decision at most 60 µs, the batch no dearer per manifest. Timings
depend on the machine's load; allocations do not. Taken {results['taken']} (UTC), load average (1, 5, 15 min)
before {_load(results['load_before'])}, after {_load(results['load_after'])}.

| policy | single ns/op | single allocs/op | batch ns per manifest | batch allocs per manifest |
|---|---|---|---|---|
{table}{loaded}

{FINDINGS.strip()}
"""


FINDINGS = """
### Where a decision's cost goes, and what each change bought

Allocations per manifest, profile default, `opa bench` of one statement-bearing manifest (single) and of the batch
rule over 100 manifests of the set (batch), measured change by change (allocations do not depend on the load;
the timings of this machine, two cores shared with other work, moved by 2x between runs):

| change (issue 13) | single | batch |
|---|---:|---|
| before (cef575c) | 3,423 | 2,415 |
| rule settings complete: one set comparison per rule instead of `every` over each setting | -200 | 0 (checked once per batch) |
| `reason.needs` one lookup; waiver step skipped when no waiver matches | -34 | -42 |
| PII-table reason looks at no table when the profile classifies none; calibration fallback a rule, not a function | -11 | -61 |
| waiver step asks `matching != set()` before computing the cap | 0 | -27 |
| after | 3,063 | 2,283 |

Tried and dropped (under 2% each): the tier and level ranks as literal objects (-23), mocking config.profile and
tiers.rank with `with` in the batch (-45), the approval rate computed once per record, the confidence threshold
compared before calibration is looked up, the two matrix-cell checks merged, the rule settings read without the
rule_setting function (-41, and it is the documented accessor).

Why the target (60 µs, about a tenth) is not reached: the cost is spread over the whole evaluation, not in a few
hot spots. `opa eval --instrument` counts, per decision, about 104 rule evaluations, 40 function calls, 116
builtin calls and 1,160 term plugs; each rule evaluation costs OPA's evaluator some 17-25 allocations whatever it
computes. With every rule package removed and one constant reason left, a batch manifest still costs 1,150
allocations (the agent's level from the track record 245, the matrix-cell checks 106, the waiver step 74, sorting
42, delivery 34, undeclared codes 31); the rule packages add the other 1,100 (daily_budget 227,
unanalysable_statement 180, trust 162, confidence 135, pii_touch 112 before its change, the rest 20-50 each). OPA
pushes a fresh rule cache for each `with input as` (topdown evalWithPush), so in a batch every profile-derived
value (config.*, the rules' settings, the rank tables) is computed again for each manifest; mocking them with
`with` bought 2%. The destructive patterns (regex.match and regex.is_valid of each, per statement) allocate little
but take tens of µs of a decision's time on a loaded machine.

What remains, outside rego/: `opa run --optimize-store-for-read-speed` (hitl's engine and `hitl serve` have started
OPA with it since d1f0d5c) cut a single decision from 3,063 to 2,627 allocations and a batch manifest from 2,283 to
2,221. A tenth of the cost needs a decision that evaluates about a tenth of the rules, which rewriting rules one by
one does not reach, and neither does partial evaluation (below). Untried: Wasm.

### Partial evaluation per profile: tried, not taken

The same 60 manifests and batch with `opa bench`, each variant interleaved manifest by manifest (load average 2.4 to
4.2 on 2 cores; judge by allocations). Batch of one: `data.hitl.main.decisions` over one manifest, what a `hitl
serve` request asks (10 of the 60). Every variant decided each manifest it was given as the readable rego does.

| policy | single µs | single allocs | batch µs per manifest | batch allocs per manifest | batch of one allocs |
|---|---:|---:|---:|---:|---:|
| readable rego (this checkout) | 1,276 | 3,049 | 847 | 2,323 | 3,351 |
| profile bound, `opa build -O=1` | 971 | 2,377 | 958 | 2,281 | 2,564 |
| `opa eval --partial --shallow-inlining`, input.profile known | 1,205 | 2,781 | | | |
| profile bound, `opa build -O=2` (10 manifests) | 5,287 | 12,942 | 869 | 2,340 | |
| every config value a literal (the most folding the profile can buy) | 925 | 2,288 | 953 | 2,266 | 2,474 |

How the profile was made known. `decision := main.decision with input.profile as "<name>"` cannot be a rule head
(rego_parse_error); in a rule body, `opa build -O=1` keeps the `with` expression whole, as input is unknown, and
folds nothing. `opa build -O=1` of the readable rego with the profiles as data does not build: the type checker,
knowing the data, rejects config.rego's `calibration.fallback.penalty` (the default profile's fallback has only
`mode`). `opa eval --partial` with input.profile given and the other input keys unknown: with OPA's default inlining,
one decision becomes 225 alternative queries and costs 9,600 to 14,000 allocations (3 manifests); with
`--shallow-inlining` the config values fold, but every comprehension over the manifest is kept as written, still
reading the original rules (`data.hitl.main.reasons`, so every rule package, the effective type, the agent's level,
delivery) at run time. The
best variant binds the profile in a generated copy of config.rego (`profile := data.hitl.profiles["<name>"]`) and
builds it with `opa build -O=1`: one build per profile (0.1 s each), and the decision corpus of
tests/test_decisions_unchanged.py (2,319 decisions, three profiles, each with its own build) came out identical.

Why not taken: what partial evaluation folds is the profile completeness check (config.complete, 880 allocations on
its own) and the profile lookups. hitl asks data.hitl.main.decisions, which checks completeness once per request and
evaluates each manifest under `with input as`, which partial evaluation keeps whole: a 60-manifest batch gains 2%, a
`hitl serve` request (a batch of one) 23%, far from the 2x asked. The rest of a decision depends on the manifest, the
track record and the statement facts, which partial evaluation either leaves as they are or, inlined, multiplies.
The gain would cost a generated copy of config.rego per profile, and one residual per profile where one OPA serves
every profile today (`opa build` keeps the packages' paths).
"""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", help="a git revision whose rego/ (and policy data) is measured too, interleaved")
    parser.add_argument("--size", type=int, default=1000, help="manifests in the generated set sampled from")
    parser.add_argument("--sample", type=int, default=60, help="manifests benchmarked one by one")
    parser.add_argument("--batch-runs", type=int, default=5, help="runs of the batch benchmark (its median is reported)")
    parser.add_argument("--profile", default="default")
    parser.add_argument("--report", type=Path, default=REPORT, help="where the Markdown goes (besides stdout)")
    args = parser.parse_args()
    if not tools.OPA.exists():
        raise SystemExit(f"bench: {tools.OPA} is missing: run `make setup`")
    run.OUT.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="policy-cost-") as scratch:
        trees: dict[str, Path | None] = {}
        labels: dict[str, str] = {}
        if args.baseline:
            trees["baseline"] = tools.checkout(args.baseline, Path(scratch) / "baseline")
            labels["baseline"] = f"`{args.baseline}`"
        trees["current"] = None
        labels["current"] = "this checkout"
        labels[SHAPE_FLOOR] = f"shape floor: {len(shape_floor.rule_names())} rule packages that do nothing (bench/shape_floor.py)"
        results = measure(trees, args.size, args.sample, args.batch_runs, args.profile, Path(scratch) / "out")
    markdown = render(results, labels)
    args.report.write_text(markdown)
    (run.OUT / "policy-cost.json").write_text(json.dumps(results, indent=2))
    print(markdown)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
