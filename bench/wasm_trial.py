"""Wasm trial: hitl's policy compiled to Wasm and served by `opa run --server --bundle`, beside the same policy
under OPA's topdown evaluator as hitl serves it (an experiment, not part of `make bench`; bench/FINDINGS.md).

    .venv/bin/python bench/wasm_trial.py --opa WASM_OPA --vegeta VEGETA

WASM_OPA: OPA at hitl's pin built with Wasm support, which .tools/bin/opa lacks (`opa version`: "WebAssembly:
unavailable"). OPA 1.x runs Wasm on wazero, pure Go, so no CGO is needed:
    CGO_ENABLED=0 GOBIN=DIR go install -tags opa_wasm github.com/open-policy-agent/opa@$(cat hitl_cli/opa.version)
Both contenders run on that binary, so only the evaluator differs. VEGETA: bench/serve_load.py's load generator.

1. Build: `opa build -t wasm` of what hitl serve loads (hitl_cli.engine.served_sources) for every shipped profile,
   entrypoints data.hitl.main.decision and data.hitl.main.decisions.
2. Decisions: hitl's own client (PolicyClient, served revisions checked) decides tests/decision_corpus.py's corpus
   through each server, each compared with tests/expected_decisions.txt; every request the topdown client sent is
   replayed to the Wasm server and the answers compared whole; every manifest of those batches is also asked alone
   (data.hitl.main.decision, as hitl serve asks) from both servers and compared whole; and one manifest is asked
   with a control character in its free-text `why` field.
3. `opa bench` (-t rego, with hitl's --optimize-store-for-read-speed, and -t wasm, which that flag leaves undefined,
   so it is checked with `opa eval` too) of one decision for --bench-sample manifests of the set and of the batch
   rule over them (once each), interleaved; medians of time and allocations.
4. Load: the bench's 1,000 generated manifests, one decision a request (bench/serve_load.py), rounds interleaved
   (topdown, Wasm, topdown, Wasm...): OPA's CPU (utime + stime of /proc/PID/stat) per answered request at
   --cpu-rate, and p50/p99 at 500/s.
Prints the figures as JSON.
"""

import argparse
import json
import os
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
sys.path.insert(1, str(Path(__file__).resolve().parent.parent / "tests"))

import generate  # noqa: E402
import policy_cost  # noqa: E402
import serve_api  # noqa: E402
import serve_load  # noqa: E402
from conftest import Policy, cpu_seconds  # noqa: E402
from decision_corpus import EXPECTED, observed  # noqa: E402

from hitl_cli.engine import served_sources  # noqa: E402
from hitl_cli.engine.client import DECISION_WHAT, PolicyClient, agent_record  # noqa: E402
from hitl_cli.engine.endpoint import OpaEndpoint  # noqa: E402
from hitl_cli.engine.server import free_loopback_port, opa_run_command  # noqa: E402
from hitl_cli.inputs import load_all_profiles  # noqa: E402
from hitl_cli.policy_files import ignore_options  # noqa: E402

ENTRYPOINTS = ("hitl/main/decision", "hitl/main/decisions")
CONTROL_CHARACTERS = {"tab": "\t", "bell": "\x07", "vertical tab": "\x0b", "delete": "\x7f"}


def build_wasm(opa: Path, sources: list[Path], bundle: Path) -> float:
    """`opa build -t wasm` of the served sources into bundle; its wall seconds."""
    started = time.perf_counter()
    entrypoints = [option for entrypoint in ENTRYPOINTS for option in ("-e", entrypoint)]
    subprocess.run([str(opa), "build", "-t", "wasm", *entrypoints, *ignore_options(tests=True), "-o", str(bundle),
                    *map(str, sources)], check=True)
    return time.perf_counter() - started


def wasm_run_command(opa: Path, address: str, bundle: Path) -> list[str]:
    """Without --optimize-store-for-read-speed: with it, every Wasm decision is undefined (the resolver is handed
    the store's AST values where it expects plain JSON-like data)."""
    return [str(opa), "run", "--server", "--addr", address, "--log-level", "error", "--bundle", str(bundle)]


@contextmanager
def server(command_of, what: str) -> Iterator[dict]:
    """OPA on a free loopback port: its url, pid and seconds to healthy (GOGC as hitl serve's)."""
    address = f"127.0.0.1:{free_loopback_port()}"
    url = f"http://{address}"
    started = time.perf_counter()
    process = subprocess.Popen(command_of(address), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               env={**os.environ, "GOGC": "400"}, start_new_session=True)
    try:
        serve_api._wait_healthy(url, process, what)
        yield {"url": url, "pid": process.pid, "start_s": time.perf_counter() - started}
    finally:
        process.terminate()
        process.wait(timeout=15)


def rss_mb(pid: int) -> float:
    status = Path(f"/proc/{pid}/status").read_text().splitlines()
    return next(int(line.split()[1]) for line in status if line.startswith("VmRSS:")) / 1024


class RecordingClient(PolicyClient):
    """hitl's client, keeping every decision request it sent and the answer."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.asked: list[tuple[str, bytes, dict]] = []

    def _query_encoded(self, what: str, input_json: bytes):
        answer = super()._query_encoded(what, input_json)
        self.asked.append((what, input_json, answer))
        return answer


def corpus_through(url: str, profiles) -> tuple[list[str], list]:
    client = RecordingClient(OpaEndpoint(url), profiles)
    try:
        client.require_served_revisions()
        return observed(Policy(client)), client.asked
    finally:
        client.close()


def ask(url: str, what: str, input_json: bytes) -> dict:
    path = "/v1/" + what.replace(".", "/")
    return requests.post(url + path, data=b'{"input":%s}' % input_json, timeout=30).json()


def single_inputs(batch: dict) -> Iterator[bytes]:
    """Each manifest of a batch input as hitl asks it alone (hitl_cli.engine.client, _decisions_input)."""
    beside = {key: batch[key] for key in ("profile", "now", "history") if key in batch}
    for manifest, facts in zip(batch["manifests"], batch["statement_facts"]):
        yield json.dumps({**beside, "track_record": agent_record(batch["track_record"], manifest["agent"]["id"]),
                          "manifest": manifest, "statement_facts": facts}).encode()


def compare_decisions(topdown: str, wasm: str, profiles) -> dict:
    expected = EXPECTED.read_text().splitlines()
    lines_topdown, asked = corpus_through(topdown, profiles)
    lines_wasm, _ = corpus_through(wasm, profiles)
    replayed = [ask(wasm, what, body) == answer for what, body, answer in asked]
    singles = [json.loads(body) for what, body, _ in asked if what != DECISION_WHAT]
    alone = [ask(wasm, DECISION_WHAT, one) == ask(topdown, DECISION_WHAT, one)
             for batch in singles for one in single_inputs(batch)]
    probe = json.loads(next(single_inputs(singles[0])))
    control = {}
    for name, character in CONTROL_CHARACTERS.items():
        probe["manifest"]["why"] = f"before{character}after"
        body = json.dumps(probe).encode()
        control[name] = {server_name: "result" in ask(url, DECISION_WHAT, body)
                         for server_name, url in (("topdown", topdown), ("wasm", wasm))}
    return {
        "corpus_lines": len(expected),
        "topdown_as_recorded": lines_topdown == expected,
        "wasm_as_recorded": lines_wasm == expected,
        "wasm_lines_differing": sum(a != b for a, b in zip(lines_wasm, expected)) + abs(len(lines_wasm) - len(expected)),
        "requests_replayed": len(replayed), "replayed_identical": sum(replayed),
        "decisions_asked_alone": len(alone), "alone_identical": sum(alone),
        "control_character_in_why_decided": control,
    }


def opa_bench(opa: Path, target: str, sources: list[Path], input_file: Path, query: str) -> tuple[float, float]:
    """µs/op and allocs/op of one `opa bench`, the store as hitl's OPA keeps it where the target allows."""
    store = ["--optimize-store-for-read-speed"] if target == "rego" else []
    data = [option for source in sources for option in ("--data", str(source))]
    command = [str(opa), "bench", "-t", target, *store, *ignore_options(tests=True), *data,
               "--input", str(input_file), "--format", "json", query]
    result = json.loads(subprocess.run(command, capture_output=True, text=True, check=True).stdout)
    return result["T"] / result["N"] / 1000, result["MemAllocs"] / result["N"]


def wasm_defined_with_read_speed_store(opa: Path, sources: list[Path], input_file: Path) -> bool:
    data = [option for source in sources for option in ("--data", str(source))]
    command = [str(opa), "eval", "-t", "wasm", "--optimize-store-for-read-speed", *ignore_options(tests=True), *data,
               "--input", str(input_file), "--format", "json", DECISION_WHAT]
    return "result" in json.loads(subprocess.run(command, capture_output=True, text=True, check=True).stdout)


def bench_policy(opa: Path, sources: list[Path], batch_file: Path, size: int, scratch: Path) -> dict:
    batch = json.loads(batch_file.read_text())
    chosen = [round(k * (len(batch["manifests"]) - 1) / (size - 1)) for k in range(size)]
    single: dict[str, list] = {"rego": [], "wasm": []}
    one = scratch / "one.json"
    for i in chosen:
        one.write_text(json.dumps(policy_cost.one_input(batch, i)))
        for target in single:
            single[target].append(opa_bench(opa, target, sources, one, DECISION_WHAT))
    many = scratch / "many.json"
    many.write_text(json.dumps(policy_cost.batch_input(batch, chosen)))
    batched = {target: opa_bench(opa, target, sources, many, "data.hitl.main.decisions") for target in single}
    return {
        "sample": len(chosen),
        "wasm_defined_with_read_speed_store": wasm_defined_with_read_speed_store(opa, sources, one),
        "single": {target: {"us": statistics.median(us for us, _ in runs), "allocs": statistics.median(a for _, a in runs)}
                   for target, runs in single.items()},
        "batch_per_manifest": {target: {"us": us / len(chosen), "allocs": allocs / len(chosen)}
                               for target, (us, allocs) in batched.items()},
    }


def load_round(found: dict, bodies: list[bytes], rate: float, seconds: float, scratch: Path) -> dict:
    api = serve_load.Api("opa", "default")
    host, port = serve_load.loopback_target(found["url"])
    serve_load.warm_up(host, port, api, bodies[:200])
    before = cpu_seconds(found["pid"])
    results = serve_load.attack(serve_load.targets(found["url"], api, bodies), rate, seconds, scratch)
    cpu = cpu_seconds(found["pid"]) - before
    figures = serve_load.figures(api, results, rate, seconds)
    return {**figures, "cpu_ms_per_request": 1000 * cpu / max(figures["answered"], 1), "rss_mb": rss_mb(found["pid"])}


def summary(rounds: list[dict]) -> dict:
    keys = ("cpu_ms_per_request", "p50_ms", "p99_ms", "server_p50_ms", "achieved_rate", "errors", "rss_mb")
    return {key: statistics.median(r[key] for r in rounds) for key in keys} | {"rounds": rounds}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--opa", type=Path, required=True, help="OPA at hitl's pin built with -tags opa_wasm")
    parser.add_argument("--vegeta", type=Path, required=True)
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds of each load")
    parser.add_argument("--cpu-rate", type=float, default=150.0)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--bench-sample", type=int, default=10, help="manifests `opa bench` decides one by one")
    parser.add_argument("--skip-decisions", action="store_true")
    args = parser.parse_args()
    serve_load.VEGETA = args.vegeta
    profiles = load_all_profiles()
    results: dict = {"load_before": os.getloadavg()}
    with tempfile.TemporaryDirectory(prefix="hitl-wasm-trial-") as folder:
        scratch = Path(folder)
        sources = served_sources(profiles, scratch, None)
        bundle = scratch / "bundle.tar.gz"
        results["build_s"] = build_wasm(args.opa, sources, bundle)
        results["bundle_bytes"] = bundle.stat().st_size
        contenders = {"topdown": lambda address: opa_run_command(args.opa, address, sources),
                      "wasm": lambda address: wasm_run_command(args.opa, address, bundle)}
        generated = generate.generate(scratch / "set-1000", 1000, "default")
        bodies = serve_load.Api("opa", "default").bodies(str(generated.batch_input))
        results["opa_bench"] = bench_policy(args.opa, sources, generated.batch_input, args.bench_sample, scratch)
        print(json.dumps(results["opa_bench"]), file=sys.stderr, flush=True)
        with server(contenders["topdown"], "topdown OPA") as topdown, server(contenders["wasm"], "Wasm OPA") as wasm:
            found = {"topdown": topdown, "wasm": wasm}
            results["start_s"] = {name: f["start_s"] for name, f in found.items()}
            if not args.skip_decisions:
                results["decisions"] = compare_decisions(topdown["url"], wasm["url"], profiles)
                print(json.dumps(results["decisions"]), file=sys.stderr, flush=True)
            for rate, key in ((args.cpu_rate, "cpu"), (500.0, "at_500")):
                rounds: dict[str, list] = {name: [] for name in found}
                for number in range(args.rounds):
                    for name in found:
                        rounds[name].append(load_round(found[name], bodies, rate, args.seconds, scratch))
                        print(f"{key} round {number + 1} {name}: {json.dumps(rounds[name][-1])[:300]}",
                              file=sys.stderr, flush=True)
                results[key] = {name: summary(r) for name, r in rounds.items()}
                results[key]["cpu_ratio"] = (results[key]["topdown"]["cpu_ms_per_request"]
                                             / results[key]["wasm"]["cpu_ms_per_request"])
    results["load_after"] = os.getloadavg()
    print(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
