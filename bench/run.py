"""The benchmark: hitl against conftest and the raw-OPA floor, single decisions, and `hitl serve` under load.

    make bench                                   # 10,000 manifests (5 runs) and 100,000 (3 runs)
    .venv/bin/python bench/run.py --sizes 1000,10000,100000 --runs 5

Writes bench/RESULTS.md (and the raw figures as bench/out/results.json). Everything it generates lives in
bench/out/. Progress goes to stderr (one line, redrawn, when stderr is a terminal).
"""

import argparse
import json
import os
import platform
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import generate  # noqa: E402
import report  # noqa: E402
import tools  # noqa: E402
from measure import run_measured  # noqa: E402

from hitl_cli.engine import write_policy_data  # noqa: E402
from hitl_cli.engine.server import free_loopback_port  # noqa: E402
from hitl_cli.inputs import load_profile, profile_path  # noqa: E402
from hitl_cli.statements import analysis_json  # noqa: E402

OUT = tools.ROOT / "bench" / "out"
CONTENDERS = ("hitl", "conftest", "floor")
# hitl runs with its bytecode compiled once, as a wheel install has it, whatever PYTHONDONTWRITEBYTECODE says.
HITL_ENVIRONMENT = tools.bytecode_environment(dict(os.environ), OUT, no_bytecode=False)
# What any Python process that uses the packages hitl was asked to be built on spends before doing anything.
STARTUP_FLOOR = "python importing typer, pydantic, PyYAML, requests"


def say(message: str) -> None:
    end = "" if sys.stderr.isatty() else "\n"
    prefix = "\r\x1b[K" if sys.stderr.isatty() else ""
    sys.stderr.write(f"{prefix}bench: {message}{end}")
    sys.stderr.flush()


def prepared_set(size: int, profile: str) -> tuple[generate.GeneratedSet, Path, Path]:
    """The generated set for a size (made once, reused while its recipe is unchanged), with the data files."""
    folder = OUT / f"set-{size}"
    stamp = folder / "recipe.json"
    recipe = {"size": size, "profile": profile, "generator": (tools.ROOT / "bench" / "generate.py").read_text()}
    if not stamp.exists() or json.loads(stamp.read_text()) != recipe:
        say(f"generating {size} manifests")
        subprocess.run(["rm", "-rf", str(folder)], check=True)
        generated = generate.generate(folder, size, profile)
        stamp.write_text(json.dumps(recipe))
    else:
        generated = generate.existing(folder)
    policy_data = write_policy_data([load_profile(profile_path(profile))], folder, None)
    conftest_data = folder / "conftest-data.json"
    data = json.loads(policy_data.read_text())
    batch = json.loads(generated.batch_input.read_text())
    facts = {m["metadata"]["id"]: f for m, f in zip(batch["manifests"], batch["statement_facts"])}
    data["bench"] = {"profile": profile, "track_record": batch["track_record"], "statement_facts": facts}
    conftest_data.write_text(json.dumps(data))
    return generated, policy_data, conftest_data


def commands(generated, policy_data: Path, conftest_data: Path, profile: str) -> dict[str, list[str]]:
    return {
        "hitl": tools.hitl_check(generated.folder, profile, generated.track_record),
        "conftest": tools.conftest(generated.folder, conftest_data),
        "floor": tools.opa_eval(policy_data, generated.batch_input),
    }


def bench_size(size: int, runs: int, profile: str) -> dict:
    generated, policy_data, conftest_data = prepared_set(size, profile)
    taken, load_before = now(), os.getloadavg()
    to_run = commands(generated, policy_data, conftest_data, profile)
    figures: dict[str, list] = {name: [] for name in CONTENDERS}
    for run in range(runs):
        order = CONTENDERS[run % 3 :] + CONTENDERS[: run % 3]  # rotate, so no contender always goes first
        for name in order:
            say(f"{size} manifests: run {run + 1}/{runs}: {name}")
            stdout = OUT / f"set-{size}" / f"{name}.out"
            figures[name].append(run_measured(to_run[name], stdout, env=HITL_ENVIRONMENT, cwd=tools.ROOT))
    agreement = compare_tiers(generated, size)
    return {"size": size, "files": generated.files, "runs": runs, "figures": figures, "agreement": agreement,
            "taken": taken, "load_before": load_before}


def now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def compare_tiers(generated, size: int) -> dict:
    """Per-manifest tiers from the last run of each contender; they must be identical."""
    folder = OUT / f"set-{size}"
    ids = [m["metadata"]["id"] for m in json.loads(generated.batch_input.read_text())["manifests"]]
    tiers = {
        "hitl": tools.hitl_tiers(folder / "hitl.out"),
        "conftest": tools.conftest_tiers(folder / "conftest.out", ids),
        "floor": tools.floor_tiers(folder / "floor.out"),
    }
    reference = tiers["floor"]
    counts = {name: _count(found) for name, found in tiers.items()}
    agree = all(found == reference for found in tiers.values()) and len(reference) == len(ids)
    return {"identical": agree, "decided": {name: len(found) for name, found in tiers.items()}, "per_tier": counts}


def _count(tiers: dict[str, str]) -> dict[str, int]:
    counted: dict[str, int] = {}
    for tier in tiers.values():
        counted[tier] = counted.get(tier, 0) + 1
    return dict(sorted(counted.items()))


def bench_single(profile: str, repeats: int) -> dict:
    """One manifest: `hitl evaluate` (whole process, own OPA) against one `opa eval` of the decision rule."""
    folder = OUT / "single"
    folder.mkdir(parents=True, exist_ok=True)
    source = tools.ROOT / "examples" / "manifests" / "add-column-production.yaml"
    record = tools.ROOT / "examples" / "track-record.yaml"
    policy_data = write_policy_data([load_profile(profile_path(profile))], folder, None)
    manifest = load_manifest_input(source)
    one = folder / "input.json"
    facts = json.loads(analysis_json(manifest["action"]["statement"], manifest["target"]["system"]))
    one.write_text(json.dumps({"profile": profile, "track_record": load_record(record), "manifest": manifest, "statement_facts": facts}))
    commands = {
        "hitl evaluate": tools.hitl_evaluate(source, profile, record),
        "opa eval": tools.opa_eval(policy_data, one, "data.hitl.main.decision"),
        STARTUP_FLOOR: [str(tools.VENV_PYTHON), "-c", "import typer, pydantic, yaml, requests"],
    }
    run_measured(commands["hitl evaluate"], folder / "hitl.out", env=HITL_ENVIRONMENT, cwd=tools.ROOT)  # fills the bytecode cache
    figures: dict[str, list] = {name: [] for name in commands}
    for run in range(repeats):
        say(f"single manifest: run {run + 1}/{repeats}")
        for name, command in commands.items():
            figures[name].append(run_measured(command, folder / f"{name.split()[0]}.out", env=HITL_ENVIRONMENT, cwd=tools.ROOT))
    return figures


def load_manifest_input(path: Path) -> dict:
    from hitl_cli.inputs import manifests_by_file

    [(loaded, problems)] = manifests_by_file([path])
    assert loaded and not problems, problems
    return json.loads(loaded[0].policy_json)


def load_record(path: Path) -> dict:
    from hitl_cli.inputs import load_track_record

    record, problems = load_track_record(path)
    assert not problems, problems
    return record.model_dump(mode="json")


def bench_serve(rate: float, seconds: float, profile: str, size: int) -> dict:
    """`hitl serve` on a free loopback port; the load generator is a separate process; both stop by themselves."""
    from serve_api import running_hitl_serve, serve_load

    folder = OUT / f"set-{size}"
    with running_hitl_serve(folder / "track-record.json", profile, OUT / "serve-state") as (url, environment):
        say(f"hitl serve: {rate:g} decisions/s for {seconds:g}s")
        return serve_load("hitl", url, folder / "batch-input.json", profile, rate, seconds, environment)


def machine() -> dict:
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor())
    memory_kb = next(int(line.split()[1]) for line in Path("/proc/meminfo").read_text().splitlines() if line.startswith("MemTotal"))
    opa = _first_line([str(tools.OPA), "version"], "Version:").removeprefix("Version: ")
    conftest = _first_line(["go", "version", "-m", str(tools.CONFTEST)], "mod\tgithub.com/open-policy-agent/conftest")
    conftest_opa = _first_line(["go", "version", "-m", str(tools.CONFTEST)], "dep\tgithub.com/open-policy-agent/opa")
    versions = {
        "opa": f"OPA {opa}",
        "conftest": f"{_word(conftest, 2)} (its embedded OPA {_word(conftest_opa, 2)})",
        "python": platform.python_version(),
    }
    return {"cpu": cpu, "cores": os.cpu_count(), "memory_gb": round(memory_kb / 1024 / 1024, 1),
            "kernel": platform.release(), "load_before": os.getloadavg(), "versions": versions}


def _word(line: str, index: int) -> str:
    words = line.split()
    return words[index] if len(words) > index else "unknown"


def _first_line(command: list[str], containing: str = "") -> str:
    try:
        output = subprocess.run(command, capture_output=True, text=True, timeout=30).stdout
    except OSError:
        return "unavailable"
    lines = [line.strip() for line in output.splitlines() if containing in line]
    return " ".join(lines[0].split()) if lines else "unavailable"


def main() -> int:
    parser = argparse.ArgumentParser(description="hitl vs conftest vs raw OPA; writes bench/RESULTS.md")
    parser.add_argument("--sizes", default="10000,100000", help="comma-separated manifest counts (default 10000,100000)")
    parser.add_argument("--runs", type=int, default=5, help="runs per contender and size (medians are reported)")
    parser.add_argument("--large-runs", type=int, default=3, help="runs for sizes of 100,000 and more")
    parser.add_argument("--single-runs", type=int, default=10)
    parser.add_argument("--serve-rate", type=float, default=500.0)
    parser.add_argument("--serve-seconds", type=float, default=20.0)
    parser.add_argument("--profile", default="default")
    parser.add_argument("--results", type=Path, default=tools.ROOT / "bench" / "RESULTS.md")
    parser.add_argument("--sizes-only", action="store_true",
                        help="with --merge: measure only the sizes, keep the previous single-manifest and serve figures")
    parser.add_argument("--merge", action="store_true",
                        help="keep the sizes of the previous bench/out/results.json that this run does not measure")
    parser.add_argument("--report-only", action="store_true",
                        help="measure nothing: write RESULTS.md again from bench/out/results.json and the reliability figures")
    parser.add_argument("--note", default=None, help="a sentence for RESULTS.md about the conditions of this run")
    parser.add_argument("--reliability", type=Path, default=OUT / "reliability.json",
                        help="figures from the reliability tests (bench/reliability.py writes them)")
    args = parser.parse_args()
    for tool in (tools.OPA, tools.CONFTEST):
        if not tool.exists():
            raise SystemExit(f"bench: {tool} is missing: run `make bench` (it installs it)")
    OUT.mkdir(parents=True, exist_ok=True)
    if args.report_only:
        results = json.loads((OUT / "results.json").read_text())
        return write_results(results, args)
    previous = json.loads((OUT / "results.json").read_text()) if args.merge and (OUT / "results.json").exists() else None
    results = {"started": now(), "machine": machine(), "sizes": []}
    sizes = [int(size) for size in args.sizes.split(",")]
    for size in sizes:
        runs = args.large_runs if size >= 100_000 else args.runs
        results["sizes"].append(bench_size(size, runs, args.profile))
    if previous is not None:
        kept = [entry for entry in previous["sizes"] if entry["size"] not in sizes]
        results["sizes"] = sorted(results["sizes"] + kept, key=lambda entry: entry["size"])
    if args.sizes_only and previous is not None:
        results["single"], results["serve"] = previous["single"], previous["serve"]
    else:
        results["single"] = bench_single(args.profile, args.single_runs)
        results["serve"] = bench_serve(args.serve_rate, args.serve_seconds, args.profile, min(sizes))
    results["finished"] = now()
    results["load_after"] = os.getloadavg()
    return write_results(results, args)


def write_results(results: dict, args) -> int:
    results["reliability"] = json.loads(args.reliability.read_text()) if args.reliability.exists() else None
    if args.note is not None:
        results["note"] = args.note
    (OUT / "results.json").write_text(json.dumps(results, indent=2, default=report.as_json))
    args.results.write_text(report.render(results))
    say(f"done: {args.results}\n")
    return 0 if all(entry["agreement"]["identical"] for entry in results["sizes"]) else 1


if __name__ == "__main__":
    sys.exit(main())
