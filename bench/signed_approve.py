"""One signed `hitl approve`, the whole process: load the profile and its people, sign the statement (SSHSIG,
ed25519), check the rules and write the verdict with its audit record. Target: under 0.5 s.

    .venv/bin/python bench/signed_approve.py --runs 10 [--before REV] [--no-bytecode]

Everything lives in a temporary folder: a copy of the policies and the default profile whose people file lists
one approver with a key made by `ssh-keygen -t ed25519 -N ''`, and a store with one pending request per run
(submitted first, in one `hitl submit`, and not timed). Prints the wall and CPU (user + system) times and their
medians as JSON: on a loaded machine the CPU time says what the wall time cannot.

The store is SQLite; run through scripts/with-postgres (HITL_TEST_POSTGRES_URL set), the bench also times the
same on a new PostgreSQL database. hitl runs with its bytecode compiled, as a wheel install does (pip compiles
it): the runs get a bytecode cache of their own (PYTHONPYCACHEPREFIX), filled by one untimed approve, even when
the environment says PYTHONDONTWRITEBYTECODE. `--no-bytecode` times every run compiling hitl's sources instead.
`--before REV` also times that commit's `hitl approve`, its runs interleaved with these.
"""

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path

import psycopg
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))

import tools  # noqa: E402

TARGET_SECONDS = 0.5


def manifest(index: int) -> dict:
    return {
        "apiVersion": "hitl/v1", "kind": "ActionManifest", "metadata": {"id": f"bench-{index}"},
        "agent": {"id": "bench-agent"},
        "action": {"type": "write", "summary": f"bench write {index}", "confidence": 0.99, "reversible": True,
                   "novel": False, "statement": f"UPDATE analytics.orders SET status = 'late' WHERE id = {index}"},
        "target": {"environment": "staging", "system": "snowflake", "resource": "analytics.orders", "resource_type": "table"},
        "impact": {"pii": False, "exposes_pii": False, "rows_affected": 1, "estimated_cost_usd": 1.0},
        "context": {"why": "bench", "read": ["bench"], "risks": ["bench"], "plan": "bench", "rollback": "bench"},
    }


def timed_approvals(env: dict, root: Path, key: Path, runs: int, trees: dict[str, Path]) -> dict[str, dict]:
    """Submit a request for every approve (untimed); then each tree (this checkout's, and another commit's with
    --before) approves one untimed (it fills the bytecode cache) and then `runs` timed, interleaved."""
    plan = root / "plan.yaml"
    plan.write_text(yaml.safe_dump_all([manifest(index) for index in range((runs + 1) * len(trees))]))
    subprocess.run([str(tools.HITL), "submit", str(plan), "--profile", "default"], env=env, cwd=root,
                   capture_output=True, check=False)
    requests = iter(range((runs + 1) * len(trees)))
    timings = tools.interleaved(
        trees, runs, env, lambda: ["approve", f"bench-{next(requests)}", "--by", "alice", "--key", str(key)])
    return {
        name: {"wall_seconds": t["wall"], "median_seconds": statistics.median(t["wall"]), "cpu_seconds": t["cpu"],
               "median_cpu_seconds": statistics.median(t["cpu"]), "met": statistics.median(t["wall"]) < TARGET_SECONDS}
        for name, t in timings.items()
    }


def main() -> int:
    parser = argparse.ArgumentParser(description="time one signed hitl approve")
    tools.add_timing_options(parser, "hitl approve")
    args = parser.parse_args()
    admin = os.environ.get("HITL_TEST_POSTGRES_URL")
    results = {"load_before": os.getloadavg(), "target_seconds": TARGET_SECONDS, "bytecode": not args.no_bytecode}
    database = f"bench_{uuid.uuid4().hex[:12]}"
    with tempfile.TemporaryDirectory(prefix="hitl-bench-sign-") as folder:
        root = Path(folder)
        trees = tools.timed_trees(args.before, root)
        if args.before:
            results["before_commit"] = args.before
        shutil.copytree(tools.ROOT / "rego", root / "rego")
        shutil.copytree(tools.ROOT / "org_profiles", root / "profiles")
        key = root / "alice"
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "alice", "-f", str(key)], check=True)
        people = {"people": [{"name": "alice", "roles": ["approver"], "keys": [key.with_suffix(".pub").read_text().strip()]}]}
        (root / "profiles" / "people" / "default.yaml").write_text(yaml.safe_dump(people))
        env = tools.bytecode_environment(
            {**os.environ, "HITL_REGO_DIR": str(root / "rego"), "HITL_PROFILES_DIR": str(root / "profiles")}, root,
            args.no_bytecode)
        stores = {"sqlite": str(root / "state.db")}
        if admin:
            with psycopg.connect(admin, autocommit=True) as connection:
                connection.execute(f"CREATE DATABASE {database}")
            parts = psycopg.conninfo.conninfo_to_dict(admin)
            stores["postgresql"] = f"postgresql://{parts['user']}:{parts['password']}@{parts['host']}:{parts['port']}/{database}"
        try:
            for backend, state in stores.items():
                place = root / backend
                place.mkdir()
                results[backend] = timed_approvals({**env, "HITL_STATE": state}, place, key, args.runs, trees)
        finally:
            if admin:
                with psycopg.connect(admin, autocommit=True) as connection:
                    connection.execute(f"DROP DATABASE IF EXISTS {database} WITH (FORCE)")
    results["load_after"] = os.getloadavg()
    print(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
