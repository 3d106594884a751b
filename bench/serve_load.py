"""Load on `hitl serve` (or a raw OPA): single decisions at a fixed rate, on loopback, bounded; prints JSON.

    python bench/serve_load.py --url http://127.0.0.1:PORT --input batch-input.json --rate 500 --seconds 10
    python bench/serve_load.py --api opa --url http://127.0.0.1:PORT --input batch-input.json ...

--api hitl (the default) posts {"manifests": [one]} to hitl serve's POST /v1/decisions, with the bearer token
from HITL_SERVE_TOKEN when set; --api opa posts OPA's own input (with the statement facts hitl derives, and the
agent's part of the track record, as hitl sends its OPA for one manifest) to
data.hitl.main.decision, for the figures of the OPA alone.

The load is vegeta's (`vegeta attack`, built by `bench/install-go-tool vegeta ...` into .tools/bin): open loop,
each request sent when it is due whatever happened to the others (vegeta adds workers rather than wait), so a
stall is charged to every request behind it. A Go load generator takes a few tens of microseconds of CPU per
request, where a Python one took a tenth of a core at 500/s from the two the servers share. Each answer is read
back (`vegeta encode`): one without a decision's tier counts as an error. Only loopback addresses are accepted;
the attack ends by itself after `seconds`, each request after 5 s.
"""

import argparse
import base64
import http.client
import ipaddress
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from urllib.parse import urlsplit

from hitl_cli.engine.client import agent_record

VEGETA = Path(__file__).resolve().parent.parent / ".tools" / "bin" / "vegeta"
OPA_DECISION_PATH = "/v1/data/hitl/main/decision?metrics=true"  # OPA's own handler time comes back too
HITL_DECISION_PATH = "/v1/decisions"
REQUEST_TIMEOUT = "5s"


def loopback_target(url: str) -> tuple[str, int]:
    parts = urlsplit(url)
    address = ipaddress.ip_address(socket.gethostbyname(parts.hostname or ""))
    if not address.is_loopback:
        raise SystemExit(f"serve_load: {url} is not a loopback address; refusing to send load there")
    return parts.hostname, parts.port or 80


class Api:
    """Where a decision is asked for, how, and where its tier is in the answer."""

    def __init__(self, name: str, profile: str):
        self.name, self.profile = name, profile
        self.path = HITL_DECISION_PATH if name == "hitl" else OPA_DECISION_PATH
        token = os.environ.get("HITL_SERVE_TOKEN") if name == "hitl" else None
        self.headers = {"Content-Type": "application/json", **({"Authorization": f"Bearer {token}"} if token else {})}

    def bodies(self, batch_input: str) -> list[bytes]:
        with open(batch_input) as stream:
            batch = json.load(stream)
        if self.name == "hitl":  # the server's own profile and track record decide
            return [json.dumps({"manifests": [m]}).encode() for m in batch["manifests"]]
        # the input hitl sends its OPA for one manifest: the agent's part of the track record only
        return [
            json.dumps({"input": {"profile": self.profile, "track_record": agent_record(batch["track_record"], m["agent"]["id"]),
                                  "manifest": m, "statement_facts": facts}}).encode()
            for m, facts in zip(batch["manifests"], batch["statement_facts"])
        ]

    def tier(self, body: dict) -> str:
        return body["decisions"][0]["tier"] if self.name == "hitl" else body["result"]["tier"]


def targets(url: str, api: Api, bodies: list[bytes]) -> str:
    """vegeta's JSON targets, one line per body (it sends them round robin)."""
    header = {name: [value] for name, value in api.headers.items()}
    return "".join(
        json.dumps({"method": "POST", "url": url.rstrip("/") + api.path, "header": header,
                    "body": base64.b64encode(body).decode()}) + "\n"
        for body in bodies
    )


def warm_up(host: str, port: int, api: Api, bodies: list[bytes]) -> None:
    """Each body once, one after another, so that first-use costs stay out of the figures."""
    connection = http.client.HTTPConnection(host, port, timeout=5)
    for body in bodies:
        connection.request("POST", api.path, body, api.headers)
        connection.getresponse().read()
    connection.close()


def attack(target_lines: str, rate: float, seconds: float, folder: Path) -> list[dict]:
    """Every result of one `vegeta attack`, as `vegeta encode --to json` gives it."""
    (folder / "targets.json").write_text(target_lines)
    results = folder / "results.bin"
    with results.open("wb") as out:
        subprocess.run([str(VEGETA), "attack", "-format=json", f"-targets={folder / 'targets.json'}",
                        f"-rate={rate:g}/s", f"-duration={seconds:g}s", f"-timeout={REQUEST_TIMEOUT}",
                        "-keepalive=true"], stdout=out, check=True)
    encoded = subprocess.run([str(VEGETA), "encode", "--to", "json", str(results)], capture_output=True, text=True,
                             check=True).stdout
    return [json.loads(line) for line in encoded.splitlines() if line]


def percentile(sorted_values: list[float], fraction: float) -> float:
    if not sorted_values:
        return float("nan")
    index = min(len(sorted_values) - 1, max(0, round(fraction * len(sorted_values)) - 1))
    return sorted_values[index]


def figures(api: Api, results: list[dict], rate: float, seconds: float) -> dict:
    latencies, server_ms, tiers, errors = [], [], {}, 0
    for result in results:
        try:
            body = json.loads(base64.b64decode(result.get("body") or b"")) if result["code"] == 200 else None
            tier = api.tier(body) if body else None
        except (ValueError, KeyError, TypeError, IndexError):
            tier = None
        if tier is None:
            errors += 1
            continue
        tiers[tier] = tiers.get(tier, 0) + 1
        latencies.append(result["latency"] / 1e9)
        server_ms.append(body.get("metrics", {}).get("timer_server_handler_ns", 0) / 1e6)
    latencies.sort()
    server_ms.sort()
    return {
        "rate": rate,
        "requested": len(results),
        "answered": len(latencies),
        "errors": errors,
        "achieved_rate": len(latencies) / seconds,
        "p50_ms": percentile(latencies, 0.50) * 1000,
        "p99_ms": percentile(latencies, 0.99) * 1000,
        "max_ms": (latencies[-1] * 1000) if latencies else float("nan"),
        "mean_ms": statistics.fmean(latencies) * 1000 if latencies else float("nan"),
        "server_p50_ms": percentile(server_ms, 0.50),
        "server_p99_ms": percentile(server_ms, 0.99),
        "tiers": tiers,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", required=True)
    parser.add_argument("--input", required=True, help="a batch input document (profile, track_record, manifests)")
    parser.add_argument("--profile", default="default", help="with --api opa: the profile asked for")
    parser.add_argument("--api", choices=("hitl", "opa"), default="hitl")
    parser.add_argument("--rate", type=float, default=500.0, help="decisions per second")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--warmup", type=int, default=200, help="requests sent (and not counted) before the run")
    args = parser.parse_args()
    if not VEGETA.exists():
        raise SystemExit(f"serve_load: {VEGETA} is missing: run `bench/install-go-tool vegeta github.com/tsenart/vegeta/v12`")
    host, port = loopback_target(args.url)
    api = Api(args.api, args.profile)
    bodies = api.bodies(args.input)
    warm_up(host, port, api, bodies[: args.warmup])
    with tempfile.TemporaryDirectory(prefix="hitl-serve-load-") as scratch:
        results = attack(targets(args.url, api, bodies), args.rate, args.seconds, Path(scratch))
    json.dump(figures(api, results, args.rate, args.seconds), sys.stdout)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
