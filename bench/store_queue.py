"""How long `hitl queue` takes to render a queue of 10,000 requests, on SQLite and on PostgreSQL.

    scripts/with-postgres .venv/bin/python bench/store_queue.py [--requests 10000] [--runs 5]

The requests are real: the bench's generated manifests, submitted with `hitl submit` (so the policy decided
each one) into a SQLite file and into a new PostgreSQL database on the server of HITL_TEST_POSTGRES_URL
(scripts/with-postgres starts a throwaway one). Then `hitl queue` runs `--runs` times on each, as a user runs
it; the median wall time is reported (target: under 2 s on PostgreSQL, said as target_met) and written to
bench/out/store_queue.json.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent))

import generate  # noqa: E402
import tools  # noqa: E402

OUT = tools.ROOT / "bench" / "out"
HITL = [sys.executable, "-m", "hitl_cli"]
TARGET_SECONDS = 2.0


def run(state: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([*HITL, *args], env={**os.environ, "HITL_STATE": state}, capture_output=True, text=True)


def fill(state: str, generated: generate.GeneratedSet) -> None:
    submitted = run(state, "submit", str(generated.folder), "--profile", "default",
                    "--track-record", str(generated.track_record), "--format", "json")
    if submitted.returncode not in (0, 1, 3):
        raise SystemExit(f"store bench: hitl submit failed: {submitted.stderr.strip()}")


def timed_queue(state: str, runs: int) -> list[float]:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        queue = run(state, "queue")
        times.append(time.perf_counter() - started)
        if queue.returncode != 0:
            raise SystemExit(f"store bench: hitl queue failed: {queue.stderr.strip()}")
    return times


def main() -> int:
    parser = argparse.ArgumentParser(description="hitl queue on 10,000 requests, SQLite and PostgreSQL")
    parser.add_argument("--requests", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    admin = os.environ.get("HITL_TEST_POSTGRES_URL")
    if not admin:
        raise SystemExit("store bench: HITL_TEST_POSTGRES_URL is not set: run it through scripts/with-postgres")
    folder = OUT / f"store-{args.requests}"
    generated = generate.existing(folder) if (folder / "set.json").exists() else generate.generate(
        folder, args.requests, "default")
    database = f"bench_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(f"CREATE DATABASE {database}")
    parts = psycopg.conninfo.conninfo_to_dict(admin)
    stores = {
        "sqlite": str(folder / f"state-{database}.db"),
        "postgresql": f"postgresql://{parts['user']}:{parts['password']}@{parts['host']}:{parts['port']}/{database}",
    }
    results = {"requests": generated.manifests, "runs": args.runs, "load_before": os.getloadavg()}
    try:
        for backend, state in stores.items():
            fill(state, generated)
            times = timed_queue(state, args.runs)
            results[backend] = {"median_s": round(statistics.median(times), 3), "runs_s": [round(t, 3) for t in times]}
            print(f"{backend}: hitl queue over {generated.manifests:,} requests: median "
                  f"{results[backend]['median_s']:.2f} s of {args.runs} runs", file=sys.stderr)
    finally:
        Path(stores["sqlite"]).unlink(missing_ok=True)
        with psycopg.connect(admin, autocommit=True) as connection:
            connection.execute(f"DROP DATABASE IF EXISTS {database} WITH (FORCE)")
    results["load_after"] = os.getloadavg()
    results["target_met"] = results["postgresql"]["median_s"] < TARGET_SECONDS
    (OUT / "store_queue.json").write_text(json.dumps(results, indent=2))
    print(json.dumps(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
