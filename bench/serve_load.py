"""Load generator for `hitl serve`: single decisions at a fixed rate, on loopback, bounded; prints JSON.

    python bench/serve_load.py --url http://127.0.0.1:PORT --input batch-input.json --rate 500 --seconds 10

Open loop: request i is due at start + i/rate whatever happened to the others, and its latency is taken
from when it was due (so a stall delays, and is charged to, every request behind it — no coordinated
omission). Requests are spread over a few worker threads, each with its own kept-alive connection.
Only loopback addresses are accepted; the run stops by itself after `seconds` (plus a grace period).
"""

import argparse
import http.client
import ipaddress
import json
import socket
import statistics
import sys
import threading
import time
from urllib.parse import urlsplit

DECISION_PATH = "/v1/data/hitl/main/decision?metrics=true"  # OPA's own handler time comes back too
WORKERS = 4
GRACE_SECONDS = 10.0


def loopback_target(url: str) -> tuple[str, int]:
    parts = urlsplit(url)
    address = ipaddress.ip_address(socket.gethostbyname(parts.hostname or ""))
    if not address.is_loopback:
        raise SystemExit(f"serve_load: {url} is not a loopback address; refusing to send load there")
    return parts.hostname, parts.port or 80


def request_bodies(batch_input: str, profile: str) -> list[bytes]:
    with open(batch_input) as stream:
        batch = json.load(stream)
    return [
        json.dumps({"input": {"profile": profile, "track_record": batch["track_record"], "manifest": m}}).encode()
        for m in batch["manifests"]
    ]


class Worker(threading.Thread):
    def __init__(self, index: int, host: str, port: int, bodies: list[bytes], start: float, rate: float, count: int):
        super().__init__(daemon=True)
        self.index, self.host, self.port, self.bodies = index, host, port, bodies
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
                connection.request("POST", DECISION_PATH, self.bodies[i % len(self.bodies)], {"Content-Type": "application/json"})
                answer = connection.getresponse()
                payload = answer.read()
                done = time.perf_counter()
                body = json.loads(payload) if answer.status == 200 else {}
                tier = body["result"]["tier"] if body else None
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
    parser.add_argument("--profile", default="default")
    parser.add_argument("--rate", type=float, default=500.0, help="decisions per second")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--warmup", type=int, default=200, help="requests sent (and not counted) before the run")
    args = parser.parse_args()
    host, port = loopback_target(args.url)
    bodies = request_bodies(args.input, args.profile)
    count = int(args.rate * args.seconds)

    connection = http.client.HTTPConnection(host, port, timeout=5)
    for body in bodies[: args.warmup]:
        connection.request("POST", DECISION_PATH, body, {"Content-Type": "application/json"})
        connection.getresponse().read()
    connection.close()

    start = time.perf_counter() + 0.2
    workers = [Worker(i, host, port, bodies, start, args.rate, count) for i in range(WORKERS)]
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
