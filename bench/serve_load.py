"""Load generator for `hitl serve` (or a raw OPA): single decisions at a fixed rate, on loopback, bounded; prints JSON.

    python bench/serve_load.py --url http://127.0.0.1:PORT --input batch-input.json --rate 500 --seconds 10
    python bench/serve_load.py --api opa --url http://127.0.0.1:PORT --input batch-input.json ...

--api hitl (the default) posts {"manifests": [one]} to hitl serve's POST /v1/decisions, with the bearer token
from HITL_SERVE_TOKEN when set; --api opa posts OPA's own input to data.hitl.main.decision, for the figures
of the OPA alone.

Open loop: request i is due at start + i/rate whatever happened to the others, and its latency is taken
from when it was due (so a stall delays, and is charged to, every request behind it — no coordinated
omission). Requests are spread over a few worker threads, each with its own kept-alive connection.
Only loopback addresses are accepted; the run stops by itself after `seconds` (plus a grace period).
"""

import argparse
import http.client
import ipaddress
import json
import os
import socket
import statistics
import sys
import threading
import time
from urllib.parse import urlsplit

OPA_DECISION_PATH = "/v1/data/hitl/main/decision?metrics=true"  # OPA's own handler time comes back too
HITL_DECISION_PATH = "/v1/decisions"
WORKERS = 4
GRACE_SECONDS = 10.0


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
        return [
            json.dumps({"input": {"profile": self.profile, "track_record": batch["track_record"], "manifest": m}}).encode()
            for m in batch["manifests"]
        ]

    def tier(self, body: dict) -> str:
        return body["decisions"][0]["tier"] if self.name == "hitl" else body["result"]["tier"]


class Worker(threading.Thread):
    def __init__(self, index: int, host: str, port: int, api: Api, bodies: list[bytes], start: float, rate: float,
                 count: int):
        super().__init__(daemon=True)
        self.index, self.host, self.port, self.api, self.bodies = index, host, port, api, bodies
        self.start_at, self.rate, self.count = start, rate, count
        self.latencies: list[float] = []
        self.errors = 0
        self.tiers: dict[str, int] = {}
        self.server_ms: list[float] = []

    def run(self) -> None:
        connection = http.client.HTTPConnection(self.host, self.port, timeout=5)
        deadline = self.start_at + self.count / self.rate + GRACE_SECONDS
        for i in range(self.index, self.count, WORKERS):
            due = self.start_at + i / self.rate
            now = time.perf_counter()
            if now > deadline:
                self.errors += 1
                continue
            if due > now:
                time.sleep(due - now)
            try:
                connection.request("POST", self.api.path, self.bodies[i % len(self.bodies)], self.api.headers)
                answer = connection.getresponse()
                payload = answer.read()
                done = time.perf_counter()
                body = json.loads(payload) if answer.status == 200 else {}
                tier = self.api.tier(body) if body else None
            except (OSError, http.client.HTTPException, ValueError, KeyError, TypeError):
                connection.close()
                connection = http.client.HTTPConnection(self.host, self.port, timeout=5)
                self.errors += 1
                continue
            if tier is None:
                self.errors += 1
                continue
            self.tiers[tier] = self.tiers.get(tier, 0) + 1
            self.latencies.append(done - due)
            self.server_ms.append(body.get("metrics", {}).get("timer_server_handler_ns", 0) / 1e6)
        connection.close()


def percentile(sorted_values: list[float], fraction: float) -> float:
    if not sorted_values:
        return float("nan")
    index = min(len(sorted_values) - 1, max(0, round(fraction * len(sorted_values)) - 1))
    return sorted_values[index]


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
    host, port = loopback_target(args.url)
    api = Api(args.api, args.profile)
    bodies = api.bodies(args.input)
    count = int(args.rate * args.seconds)

    connection = http.client.HTTPConnection(host, port, timeout=5)
    for body in bodies[: args.warmup]:
        connection.request("POST", api.path, body, api.headers)
        connection.getresponse().read()
    connection.close()

    start = time.perf_counter() + 0.2
    workers = [Worker(i, host, port, api, bodies, start, args.rate, count) for i in range(WORKERS)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=args.seconds + 2 * GRACE_SECONDS)
    elapsed = time.perf_counter() - start
    latencies = sorted(value for worker in workers for value in worker.latencies)
    server = sorted(value for worker in workers for value in worker.server_ms)
    tiers: dict[str, int] = {}
    for worker in workers:
        for tier, n in worker.tiers.items():
            tiers[tier] = tiers.get(tier, 0) + n
    json.dump(
        {
            "rate": args.rate,
            "requested": count,
            "answered": len(latencies),
            "errors": sum(worker.errors for worker in workers),
            "achieved_rate": len(latencies) / elapsed if elapsed > 0 else 0.0,
            "p50_ms": percentile(latencies, 0.50) * 1000,
            "p99_ms": percentile(latencies, 0.99) * 1000,
            "max_ms": (latencies[-1] * 1000) if latencies else float("nan"),
            "mean_ms": statistics.fmean(latencies) * 1000 if latencies else float("nan"),
            "server_p50_ms": percentile(server, 0.50),
            "server_p99_ms": percentile(server, 0.99),
            "tiers": tiers,
        },
        sys.stdout,
    )
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
