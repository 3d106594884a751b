"""How long `hitl queue` takes to render a queue of 10,000 requests, on SQLite and on PostgreSQL.

    scripts/with-postgres .venv/bin/python bench/store_queue.py [--requests 10000] [--signed 1000] [--runs 5]
        [--before REV]

The requests are real: the bench's generated manifests, submitted with `hitl submit` (so the policy decided
each one) into a SQLite file and into a new PostgreSQL database on the server of HITL_TEST_POSTGRES_URL
(scripts/with-postgres starts a throwaway one), under a copy of the shipped profiles whose people file lists
the profile's people with keys made by `ssh-keygen -t ed25519 -N ''`. Then `--signed` of the waiting requests
get a signed verdict through hitl's own verdict path (hitl_cli.workflow.verdicts, untimed): an approval by
alice, an escalation reviewer's approval, or an override holder's override, so that rendering the queue judges
that many signatures. Then `hitl queue` runs `--runs` times on each store, as a user runs it, after one untimed
run; the median wall time is reported (target: under 2 s on PostgreSQL, said as target_met) and written to
bench/out/store_queue.json, with the CPU time (user + system), which a loaded machine does not inflate.
`--before REV` also times the `hitl queue` of that commit on the same stores, its runs interleaved with these.

hitl runs as installed from its wheel, whose bytecode pip compiles at install: the bench gives the runs a
bytecode cache of their own (PYTHONPYCACHEPREFIX), which the untimed run fills, even when the environment says
PYTHONDONTWRITEBYTECODE (then every run would compile hitl's sources first).
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

import generate  # noqa: E402
import tools  # noqa: E402

OUT = tools.ROOT / "bench" / "out"
HITL = [sys.executable, "-m", "hitl_cli"]
TARGET_SECONDS = 2.0
# The people who sign, and with which role: alice approves, the default profile's escalation reviewer decides
# escalations, its override holder overrides blocks.
SIGNERS = {"alice": ["approver"], "data-platform-lead": ["approver", "escalation_reviewer"],
           "cto": ["approver", "override_holder"]}


def keyed_profiles(root: Path) -> dict[str, Path]:
    """A copy of the shipped profiles whose people file lists SIGNERS; each signer's private key file."""
    shutil.copytree(tools.ROOT / "org_profiles", root / "profiles")
    keys, people = {}, []
    for name, roles in SIGNERS.items():
        keys[name] = root / f"key-{name}"
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", name, "-f", str(keys[name])], check=True)
        people.append({"name": name, "roles": roles, "keys": [keys[name].with_suffix(".pub").read_text().strip()]})
    (root / "profiles" / "people" / "default.yaml").write_text(yaml.safe_dump({"people": people}))
    return keys


def run(env: dict, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([*HITL, *args], env=env, capture_output=True, text=True)


def fill(env: dict, generated: generate.GeneratedSet) -> None:
    submitted = run(env, "submit", str(generated.folder), "--profile", "default",
                    "--track-record", str(generated.track_record), "--format", "json")
    if submitted.returncode not in (0, 1, 3):
        raise SystemExit(f"store bench: hitl submit failed: {submitted.stderr.strip()}")


def sign(state: str, keys: dict[str, Path], count: int) -> dict[str, int]:
    """A signed verdict on `count` waiting requests, oldest first, through hitl's own verdict path; a request the
    rules keep these people from deciding (an unoverridable block) is passed over."""
    from hitl_cli.errors import Refused
    from hitl_cli.store.connection import state_path
    from hitl_cli.workflow import queries, verdicts

    store = state_path(state)
    given: dict[str, int] = {}
    waiting = [view for view in queries.all_views(store) if view.status in ("pending", "escalated", "blocked")]
    for view in waiting:
        if sum(given.values()) == count:
            break
        if view.status == "blocked":
            person, kind, reason = "cto", "override", "bench"
        else:
            person, kind, reason = ("data-platform-lead" if view.status == "escalated" else "alice"), "approve", None
        try:
            verdicts.give_verdict(store, view.id, kind, person, reason, keys[person])
        except Refused:
            continue
        given[kind] = given.get(kind, 0) + 1
    return given


def timed_queue(env: dict, runs: int, trees: dict[str, Path]) -> dict[str, dict]:
    """`hitl queue` of each tree (this checkout's, and another commit's with --before), runs interleaved."""
    timings = tools.interleaved(trees, runs, env, lambda: ["queue"])
    return {name: {"median_s": round(statistics.median(t["wall"]), 3), "runs_s": [round(v, 3) for v in t["wall"]],
                   "median_cpu_s": round(statistics.median(t["cpu"]), 3)} for name, t in timings.items()}


def main() -> int:
    parser = argparse.ArgumentParser(description="hitl queue on 10,000 requests, SQLite and PostgreSQL")
    parser.add_argument("--requests", type=int, default=10_000)
    parser.add_argument("--signed", type=int, default=1_000, help="waiting requests given a signed verdict")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--before", help="also time this commit's hitl queue on the same stores, runs interleaved")
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
    results = {"requests": generated.manifests, "runs": args.runs, "load_before": os.getloadavg()}
    with tempfile.TemporaryDirectory(prefix="hitl-bench-queue-") as temporary:
        root = Path(temporary)
        keys = keyed_profiles(root)
        trees = {"after": tools.ROOT}
        if args.before:
            trees = {"before": tools.checkout(args.before, root / "before"), **trees}
            results["before_commit"] = args.before
        os.environ["HITL_PROFILES_DIR"] = str(root / "profiles")  # for the in-process verdicts too
        base = {key: value for key, value in os.environ.items() if key != "PYTHONDONTWRITEBYTECODE"}
        base["PYTHONPYCACHEPREFIX"] = str(root / "bytecode")
        stores = {
            "sqlite": str(root / "state.db"),
            "postgresql": f"postgresql://{parts['user']}:{parts['password']}@{parts['host']}:{parts['port']}/{database}",
        }
        try:
            for backend, state in stores.items():
                env = {**base, "HITL_STATE": state}
                fill(env, generated)
                given = sign(state, keys, args.signed)
                results[backend] = {"signed_verdicts": given, **timed_queue(env, args.runs, trees)}
                for name in trees:
                    figures = results[backend][name]
                    print(f"{backend} ({name}): hitl queue over {generated.manifests:,} requests ({sum(given.values())} "
                          f"signed verdicts): median {figures['median_s']:.2f} s of {args.runs} runs, CPU "
                          f"{figures['median_cpu_s']:.2f} s", file=sys.stderr)
        finally:
            with psycopg.connect(admin, autocommit=True) as connection:
                connection.execute(f"DROP DATABASE IF EXISTS {database} WITH (FORCE)")
    results["load_after"] = os.getloadavg()
    results["target_met"] = results["postgresql"]["after"]["median_s"] < TARGET_SECONDS
    (OUT / "store_queue.json").write_text(json.dumps(results, indent=2))
    print(json.dumps(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
