"""The three contenders on one generated set, as commands; and the tier each gave each manifest.

- hitl: `hitl check` over the folder, the whole process with its own OPA (default text report);
- conftest: the same Rego through bench/conftest/hitl.rego, profile and track record as --data;
- floor: one `opa eval` of data.hitl.main.decisions over every manifest in a single input document.
"""

import argparse
import ctypes
import io
import json
import os
import re
import resource
import subprocess
import tarfile
import time
from collections.abc import Callable
from pathlib import Path

from hitl_cli.policy_files import ignore_options

ROOT = Path(__file__).resolve().parent.parent
VENV_PYTHON = ROOT / ".venv" / "bin" / "python"
HITL = ROOT / ".venv" / "bin" / "hitl"
OPA = ROOT / ".tools" / "bin" / "opa"
CONFTEST = ROOT / ".tools" / "bin" / "conftest"
WRAPPER = ROOT / "bench" / "conftest" / "hitl.rego"
REGO = ROOT / "rego"

_HITL_LINE = re.compile(r"^(?P<source>\S.*): (?P<id>[A-Za-z0-9._:-]+): [A-Z ]+ \((?P<tier>[a-z_]+)\)$")


def checkout(revision: str, folder: Path) -> Path:
    """The tree of a commit, extracted into folder (sharing this checkout's .tools): run `python -m hitl_cli` with
    it as the working folder and PYTHONPATH to time that commit's hitl."""
    folder.mkdir(parents=True)
    archive = subprocess.run(["git", "archive", revision], cwd=ROOT, capture_output=True, check=True).stdout
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(folder, filter="data")
    (folder / ".tools").symlink_to(ROOT / ".tools")
    return folder


def add_timing_options(parser: argparse.ArgumentParser, command: str) -> None:
    """--runs, --no-bytecode and --before, for a bench that times `command` through interleaved (see
    timed_trees and bytecode_environment)."""
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--no-bytecode", action="store_true",
                        help="compile hitl's sources in every run, as PYTHONDONTWRITEBYTECODE=1 without a cache does")
    parser.add_argument("--before", help=f"also time this commit's {command}, runs interleaved")


def timed_trees(before: str | None, root: Path) -> dict[str, Path]:
    """The trees interleaved times: this checkout ("after") and, given a commit, that commit's ("before", see checkout)."""
    trees = {"after": ROOT}
    return {"before": checkout(before, root / "before"), **trees} if before else trees


def bytecode_environment(env: dict, root: Path, no_bytecode: bool) -> dict:
    """env for hitl's runs: its bytecode compiled once into a cache of the bench's own under root, as a wheel
    install has it (pip compiles it), even when env says PYTHONDONTWRITEBYTECODE; or, no_bytecode, compiled in
    every run."""
    env = {name: value for name, value in env.items() if name != "PYTHONDONTWRITEBYTECODE"}
    if no_bytecode:
        return {**env, "PYTHONDONTWRITEBYTECODE": "1"}
    return {**env, "PYTHONPYCACHEPREFIX": str(root / "bytecode")}


def interleaved(trees: dict[str, Path], runs: int, env: dict, arguments: Callable[[], list[str]]) -> dict[str, dict]:
    """`python -m hitl_cli ARGUMENTS` of each tree (see checkout), runs interleaved after one untimed round (it
    fills a bytecode cache, when env names one): each tree's wall and CPU (user + system) seconds, run by run.
    arguments() gives each run's arguments. The CPU counts every process a run made, also one that outlived hitl
    (the statement analyser `hitl evaluate` forks ends just after it): the bench adopts and waits for those."""
    adopt_orphans()
    timings: dict[str, dict] = {name: {"wall": [], "cpu": []} for name in trees}
    for index in range(runs + 1):
        for name, tree in trees.items():
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            started = time.perf_counter()
            done = subprocess.run([str(VENV_PYTHON), "-m", "hitl_cli", *arguments()], env={**env, "PYTHONPATH": str(tree)},
                                  cwd=tree, capture_output=True, text=True)
            elapsed = time.perf_counter() - started
            wait_for_orphans()
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            if done.returncode != 0:
                raise SystemExit(f"bench: hitl ({name}) failed: {done.stderr.strip()}")
            if index:
                timings[name]["wall"].append(elapsed)
                timings[name]["cpu"].append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
    return timings


def adopt_orphans() -> None:
    """Become the parent of any process a run leaves behind (Linux: PR_SET_CHILD_SUBREAPER), so that its CPU time
    is counted with the run's."""
    ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)


def wait_for_orphans() -> None:
    """Wait until every process left behind by the last run has ended."""
    while True:
        try:
            os.waitpid(-1, 0)
        except ChildProcessError:
            return


_PR_SET_CHILD_SUBREAPER = 36


def hitl_check(folder: Path, profile: str, track_record: Path) -> list[str]:
    return [str(HITL), "check", str(folder), "--profile", profile, "--track-record", str(track_record)]


def hitl_evaluate(manifest: Path, profile: str, track_record: Path) -> list[str]:
    return [str(HITL), "evaluate", str(manifest), "--profile", profile, "--track-record", str(track_record)]


def conftest(folder: Path, data: Path) -> list[str]:
    return [
        str(CONFTEST), "test", str(folder), "--policy", str(WRAPPER), "--policy", str(REGO),
        "--data", str(data), "--namespace", "main", "--output", "json", "--no-color",
    ]


def opa_eval(data: Path, batch_input: Path, rule: str = "data.hitl.main.decisions") -> list[str]:
    return [str(OPA), "eval", *ignore_options(tests=False), "--data", str(REGO), "--data", str(data), "--input", str(batch_input),
            "--format", "raw", rule]


def hitl_tiers(stdout: Path) -> dict[str, str]:
    tiers = {}
    for line in stdout.read_text().splitlines():
        match = _HITL_LINE.match(line)
        if match:
            tiers[match["id"]] = match["tier"]
    return tiers


def conftest_tiers(stdout: Path, ids: list[str]) -> dict[str, str]:
    """conftest reports only what fails ("<id> <tier>"); every other manifest it checked may run."""
    tiers = dict.fromkeys(ids, "auto_approve")
    for result in json.loads(stdout.read_text()):
        for failure in result.get("failures") or []:
            identifier, _, tier = failure["msg"].partition(" ")
            tiers[identifier] = tier
    return tiers


def floor_tiers(stdout: Path) -> dict[str, str]:
    return {decision["id"]: decision["tier"] for decision in json.loads(stdout.read_text())}
