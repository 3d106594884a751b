"""hitl's API next to the OPA alone: start-up of one `hitl evaluate`, and `hitl serve` under load.

    .venv/bin/python bench/serve_api.py --before REV      # REV: the commit to compare start-up with
    .venv/bin/python bench/serve_api.py --skip-startup
    .venv/bin/python bench/serve_api.py --skip-startup --serve-before REV   # hitl serve at REV too, same window

1. Start-up: `hitl evaluate` of one manifest, this tree against the tree at REV (its hitl_cli first on the
   path), interleaved, median wall time of --runs each.
2. Load (bench/serve_load.py, a separate process, open loop): 500 decisions/s for --seconds to `hitl serve`
   (POST /v1/decisions, with a token) and to a raw OPA serving the same policies (data.hitl.main.decision);
   then rising rates from 100/s until p99 passes 20 ms: the highest rate whose p99 stays under it, for each.
   With --serve-before, `hitl serve` of the tree at that commit is measured the same way, right before this one.
Prints the figures as JSON, writes them to bench/out/serve-api.json, and writes bench/serve-api.md, the
section bench/RESULTS.md includes (bench/report.py).
"""

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parent))

import generate  # noqa: E402
import serve_floor  # noqa: E402
import shape_floor  # noqa: E402
import tools  # noqa: E402

from hitl_cli.engine import served_sources, write_policy_data  # noqa: E402
from hitl_cli.engine.server import free_loopback_port, opa_run_command  # noqa: E402
from hitl_cli.inputs import load_profile, profile_path  # noqa: E402

OUT = tools.ROOT / "bench" / "out"
TOKEN = "bench-serve-token"
RATES = (100, 200, 300, 400, 500, 750, 1000, 1500, 2000, 3000, 4000)
P99_LIMIT_MS = 20.0
SHAPE_FLOOR = f"raw OPA, {shape_floor.NAME}"
SERVE_FLOOR = serve_floor.NAME
START_SECONDS = 60


def _wait_healthy(url: str, process: subprocess.Popen, what: str) -> None:
    deadline = time.monotonic() + START_SECONDS
    while True:
        try:
            if requests.get(url + "/health", timeout=1).status_code == 200:
                return
        except requests.RequestException:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            raise SystemExit(f"bench: {what} did not become healthy")
        time.sleep(0.05)


@contextmanager
def _running(command: list[str], url: str, what: str, environment: dict | None = None,
             cwd: Path | None = None) -> Iterator[None]:
    process = subprocess.Popen(command, cwd=cwd or tools.ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               env=environment, start_new_session=True)
    try:
        _wait_healthy(url, process, what)
        yield
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@contextmanager
def running_hitl_serve(record: Path, profile: str, state: Path, tree: Path | None = None) -> Iterator[tuple[str, dict]]:
    """`hitl serve` with a token, the set's track record and a fresh store: (its URL, the client's environment).
    tree: another checkout's hitl (tools.checkout) instead of this one."""
    shutil.rmtree(state, ignore_errors=True)
    state.mkdir(parents=True)
    port = free_loopback_port()
    url = f"http://127.0.0.1:{port}"
    environment = {**os.environ, "HITL_SERVE_TOKEN": TOKEN}
    hitl = [str(tools.HITL)] if tree is None else [str(tools.VENV_PYTHON), "-m", "hitl_cli"]
    command = [*hitl, "serve", "--addr", f"127.0.0.1:{port}", "--profile", profile, "--track-record",
               str(record), "--state", str(state / "state.db")]
    served = environment if tree is None else {**environment, "PYTHONPATH": str(tree)}
    with _running(command, url, "hitl serve", served, cwd=tree):
        yield url, environment


@contextmanager
def running_raw_opa(profile: str, folder: Path, policy: Path | None = None) -> Iterator[str]:
    """OPA alone on the same policies and profile, no access policy: the floor hitl serve is compared with.
    policy: other Rego in place of hitl's (the shape floor, bench/shape_floor.py), with the same profile data."""
    port = free_loopback_port()
    url = f"http://127.0.0.1:{port}"
    profiles = [load_profile(profile_path(profile))]
    sources = served_sources(profiles, folder, None) if policy is None else [policy, write_policy_data(profiles, folder, None)]
    with _running(opa_run_command(tools.OPA, f"127.0.0.1:{port}", sources), url, "OPA",
                  {**os.environ, "GOGC": "400"}):
        yield url


@contextmanager
def running_serve_floor(opa_url: str, profile: str) -> Iterator[str]:
    """bench/serve_floor.py in front of the OPA at opa_url: its URL."""
    port = free_loopback_port()
    url = f"http://127.0.0.1:{port}"
    command = [str(tools.VENV_PYTHON), str(tools.ROOT / "bench" / "serve_floor.py"), str(port),
               opa_url.rsplit(":", 1)[1], profile]
    with _running(command, url, serve_floor.NAME):
        yield url


def serve_load(api: str, url: str, batch: Path, profile: str, rate: float, seconds: float,
               environment: dict | None = None) -> dict:
    load = subprocess.run(
        [str(tools.VENV_PYTHON), str(tools.ROOT / "bench" / "serve_load.py"), "--api", api, "--url", url,
         "--input", str(batch), "--profile", profile, "--rate", str(rate), "--seconds", str(seconds)],
        capture_output=True, text=True, timeout=seconds + 120, check=True, env=environment,
    )
    return json.loads(load.stdout)


def _load_figures(api: str, url: str, batch: Path, profile: str, seconds: float, environment: dict | None) -> dict:
    at_500 = serve_load(api, url, batch, profile, 500, seconds, environment)
    ladder = []
    for rate in RATES:
        found = serve_load(api, url, batch, profile, rate, seconds, environment)
        ladder.append(found)
        print(f"bench: {api} at {rate}/s: p99 {found['p99_ms']:.2f} ms, achieved {found['achieved_rate']:.0f}/s, "
              f"errors {found['errors']}", file=sys.stderr, flush=True)
        if found["p99_ms"] >= P99_LIMIT_MS or found["errors"]:
            break
    sustained = [f["rate"] for f in ladder if f["p99_ms"] < P99_LIMIT_MS and not f["errors"]]
    return {"at_500": at_500, "ladder": ladder, "max_rate_p99_under_20ms": max(sustained, default=0)}


def _startup(before: str, runs: int, folder: Path) -> dict:
    """Median wall seconds of `hitl evaluate` on one manifest, now and at the commit `before`."""
    old = tools.checkout(before, folder / "before")
    manifest = tools.ROOT / "examples" / "manifests" / "add-column-production.yaml"
    command = [str(tools.VENV_PYTHON), "-m", "hitl_cli", "evaluate", str(manifest), "--profile", "default"]
    times: dict[str, list[float]] = {"before": [], "after": []}
    for _ in range(runs):
        for name, path in (("before", old), ("after", tools.ROOT)):
            started = time.perf_counter()
            subprocess.run(command, cwd=path, env={**os.environ, "PYTHONPATH": str(path)}, check=True,
                           stdout=subprocess.DEVNULL)
            times[name].append(time.perf_counter() - started)
    return {name: {"median_s": statistics.median(values), "min_s": min(values)} for name, values in times.items()}


def _load(averages) -> str:
    return ", ".join(f"{value:.1f}" for value in averages)


def render(results: dict) -> str:
    """The section of bench/RESULTS.md for these figures."""
    lines = ["## hitl serve as hitl's API, beside raw OPA (bench/serve_api.py)", "",
             f"Load average (1, 5, 15 min) before {_load(results['load_before'])}, after {_load(results['load_after'])}; "
             "2 cores shared with other work, so figures move with the machine's load.", ""]
    startup = results.get("startup")
    if startup:
        lines += ["| one `hitl evaluate` (wall s) | median | min |", "|---|---:|---:|"]
        for name, label in (("before", "before: stdlib http.client"), ("after", "after: opa-python-client")):
            lines.append(f"| {label} | {startup[name]['median_s']:.3f} | {startup[name]['min_s']:.3f} |")
        lines.append("")
    lines += ["| server | p50 at 500/s (ms) | p99 at 500/s (ms) | achieved at 500/s | errors | highest rate with p99 < 20 ms |",
              "|---|---:|---:|---:|---:|---:|"]
    for name in [key for key in results if key.startswith("hitl serve")] + ["raw OPA", SHAPE_FLOOR, SERVE_FLOOR]:
        found = results.get(name)
        if found is None:  # figures of a run from before it was measured
            continue
        at_500 = found["at_500"]
        lines.append(f"| {name} | {at_500['p50_ms']:.2f} | {at_500['p99_ms']:.2f} | {at_500['achieved_rate']:.0f}/s "
                     f"| {at_500['errors']} | {found['max_rate_p99_under_20ms'] or 'below ' + str(RATES[0])}/s |")
    lines += ["", "hitl serve: POST /v1/decisions with one manifest, a bearer token, validation, the private OPA "
              "behind it and every consistency check; raw OPA: data.hitl.main.decision on the same policies and profile; "
              f"{SHAPE_FLOOR}: OPA alone serving a policy of the same shape whose {len(shape_floor.rule_names())} rule "
              "packages do nothing (bench/shape_floor.py), the least any policy of this shape costs through OPA's server, "
              f"with the same load generator on the same cores; {SERVE_FLOOR}: {serve_floor.DESCRIBED} "
              "(bench/serve_floor.py), the least a service built on hitl's packages adds to it."]
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", default="HEAD~1", help="the commit whose start-up is compared")
    parser.add_argument("--runs", type=int, default=9)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--profile", default="default")
    parser.add_argument("--skip-startup", action="store_true")
    parser.add_argument("--serve-before", metavar="REV", help="also measure hitl serve as it was at this commit")
    args = parser.parse_args()
    folder = OUT / "set-1000"
    generated = generate.existing(folder) if (folder / "set.json").exists() else generate.generate(folder, 1000, args.profile)
    results: dict = {"load_before": os.getloadavg()}
    with tempfile.TemporaryDirectory(prefix="hitl-bench-api-") as scratch:
        if not args.skip_startup:
            results["startup"] = _startup(args.before, args.runs, Path(scratch))
        if args.serve_before:
            old = tools.checkout(args.serve_before, Path(scratch) / "serve-before")
            with running_hitl_serve(generated.track_record, args.profile, OUT / "serve-state", old) as (url, environment):
                results[f"hitl serve at {args.serve_before}"] = _load_figures(
                    "hitl", url, generated.batch_input, args.profile, args.seconds, environment
                )
        with running_hitl_serve(generated.track_record, args.profile, OUT / "serve-state") as (url, environment):
            results["hitl serve"] = _load_figures("hitl", url, generated.batch_input, args.profile, args.seconds, environment)
        with running_raw_opa(args.profile, Path(scratch)) as url:
            results["raw OPA"] = _load_figures("opa", url, generated.batch_input, args.profile, args.seconds, None)
        floor = shape_floor.write(Path(scratch) / "shape-floor")
        with running_raw_opa(args.profile, Path(scratch), floor) as url:
            results[SHAPE_FLOOR] = _load_figures("opa", url, generated.batch_input, args.profile, args.seconds, None)
            with running_serve_floor(url, args.profile) as floor_url:
                results[SERVE_FLOOR] = _load_figures(
                    "hitl", floor_url, generated.batch_input, args.profile, args.seconds, None
                )
    results["load_after"] = os.getloadavg()
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "serve-api.json").write_text(json.dumps(results, indent=2))
    (tools.ROOT / "bench" / "serve-api.md").write_text(render(results))
    print(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
