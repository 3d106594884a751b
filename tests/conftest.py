"""Shared fixtures: a real OPA for the whole session, manifests built to order, the hitl CLI as a subprocess."""

import asyncio
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
import requests
import yaml

from hitl_cli import settings
from hitl_cli.engine import policy_engine, policy_sources, write_policy_data
from hitl_cli.people import with_people
from hitl_cli.engine.binary import find_opa
from hitl_cli.engine.client import RunInput
from hitl_cli.engine.pipeline import DecisionPipeline
from hitl_cli.engine.revisions import publish_revisions
from hitl_cli.engine.server import LocalOpaServer
from hitl_cli.errors import EngineError
from hitl_cli.inputs import LoadedManifest, load_all_profiles
from hitl_cli.models import ActionManifest, Decision
from installed_package import install_wheel

ROOT = Path(__file__).resolve().parent.parent
TRUSTED_AGENT = "trusted-agent"
TRUSTED_RECORD = {"agents": {TRUSTED_AGENT: {"level": "medium", "reviewed": 1000, "approved": 1000, "rejected": 0}}}


@pytest.fixture(scope="session")
def opa_bin() -> Path:
    """Every test that needs OPA fails (never skips) when it is missing."""
    try:
        return find_opa()
    except EngineError as error:
        pytest.fail(f"OPA is missing, so end-to-end tests cannot run: {error}")


def make_manifest(
    id: str = "act-1",
    type: str = "write",
    env: str = "dev",
    agent: str = TRUSTED_AGENT,
    confidence: float | None = 0.99,
    reversible: bool = True,
    novel: bool = False,
    statement: str | None = None,
    pii: bool = False,
    exposes_pii: bool = False,
    cost: float | None = 0.01,
    rows: int | None = None,
    system: str | None = None,
    summary: str | None = None,
    context: dict | None = None,
) -> dict:
    """The one manifest builder (the workflow tests' `manifest` gives it their own defaults)."""
    action = {"type": type, "summary": summary or f"{type} in {env}", "reversible": reversible, "novel": novel}
    if confidence is not None:
        action["confidence"] = confidence
    if statement is not None:
        action["statement"] = statement
    impact = {"pii": pii, "exposes_pii": exposes_pii}
    if rows is not None:
        impact["rows_affected"] = rows
    if cost is not None:
        impact["estimated_cost_usd"] = cost
    target = {"environment": env, "resource": "analytics.orders", "resource_type": "table"}
    if system is not None:
        target["system"] = system
    return {
        "apiVersion": "hitl/v1",
        "kind": "ActionManifest",
        "metadata": {"id": id},
        "agent": {"id": agent},
        "action": action,
        "target": target,
        "impact": impact,
        "context": context if context is not None else {"why": "a test", "rollback": "none needed"},
    }


class Policy:
    """Decisions from the real policies and shipped profiles, through the same client and pipeline the CLI uses."""

    def __init__(self, client):
        self.client = client

    def decide_loaded(self, profile: str, loaded: list[LoadedManifest], track_record: dict) -> list[Decision]:
        with DecisionPipeline(self.client, RunInput.of(profile, track_record)) as pipeline:
            pipeline.add(loaded)
            return pipeline.decisions()

    def decide_many(self, profile: str, manifests: list[dict], track_record: dict | None = None) -> list[Decision]:
        loaded = [LoadedManifest.of("test", 1, ActionManifest.model_validate(m)) for m in manifests]
        return self.decide_loaded(profile, loaded, track_record if track_record is not None else TRUSTED_RECORD)

    def decide(self, profile: str, manifest: dict, track_record: dict | None = None) -> Decision:
        return self.decide_many(profile, [manifest], track_record)[0]


def pytest_collection_modifyitems(items):
    """The workflow suite's files, the longest (each test on SQLite and on PostgreSQL), run first: pytest-xdist
    hands out whole files in this order, and one of them started last ran alone for the run's last minutes."""
    items.sort(key=lambda item: item.path.parent.name != "workflow")


@pytest.fixture(scope="session")
def policy(opa_bin) -> Policy:
    with policy_engine(load_all_profiles(), None) as client:
        yield Policy(client)


@pytest.fixture
def record(tmp_path) -> Path:
    """A track-record file in which the usual agent (TRUSTED_AGENT) is trusted."""
    path = tmp_path / "record.yaml"
    path.write_text(yaml.safe_dump(TRUSTED_RECORD))
    return path


@pytest.fixture(scope="session")
def installed(tmp_path_factory, opa_bin) -> dict:
    """hitl installed from its wheel in a new virtualenv, with an environment and a working folder that know
    nothing of the checkout (tests/installed_package.py); built once for every test that needs it."""
    return install_wheel(tmp_path_factory.mktemp("package"), opa_bin)


LAUNCHER = Path(__file__).resolve().parent / "launch_hitl.py"


def hitl_command(args, now: str | None = None, pause_at: str | None = None) -> list[str]:
    """The real CLI, as a user or CI runs it; with a pinned clock (`now`, RFC 3339) or a pause point before a
    write commits (`pause_at`), through the test-only launcher (tests/launch_hitl.py), never the environment."""
    if now is None and pause_at is None:
        return [sys.executable, "-m", "hitl_cli", *map(str, args)]
    settings = json.dumps({"now": now, "pause_at": pause_at})
    return [sys.executable, str(LAUNCHER), settings, *map(str, args)]


def isolated_environment(extra: dict | None = None) -> dict:
    """The environment every CLI test runs in: the suite's, without any HITL_* variable hitl reads except
    HITL_OPA_BIN (which OPA to run), plus the test's own."""
    inherited = {
        name: value for name, value in os.environ.items() if name not in settings.VARIABLES or name == settings.OPA_BIN
    }
    return {**inherited, **(extra or {})}


def hitl(*args: str, env: dict | None = None, cwd: Path | None = None, timeout: float = 120,
         now: str | None = None, pause_at: str | None = None) -> subprocess.CompletedProcess:
    """The real CLI in its own process, as a user or CI runs it (see hitl_command for now and pause_at), in an
    isolated environment and, unless the test names one, an empty working directory of its own: nothing left
    in the checkout (a .hitl/ store, a calibration file) can change what a test sees."""
    with tempfile.TemporaryDirectory(prefix="hitl-cwd-") as scratch:
        return subprocess.run(
            hitl_command(args, now, pause_at),
            capture_output=True,
            text=True,
            env=isolated_environment(env),
            cwd=cwd or scratch,
            timeout=timeout,
        )


def default_sigint() -> None:
    """preexec_fn for a hitl that a test sends Ctrl-C: a suite started as a background job (`cmd &`, nohup)
    inherits SIGINT ignored, and so would hitl; it must see Ctrl-C as a user's would."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def hitl_process(*args: str, env: dict | None = None, cwd: Path, now: str | None = None,
                 pause_at: str | None = None, **popen) -> subprocess.Popen:
    """The real CLI started in the background, isolated as `hitl` runs it (popen: more subprocess.Popen options)."""
    options = {"stdout": subprocess.PIPE, "stderr": subprocess.PIPE, "text": True, **popen}
    return subprocess.Popen(hitl_command(args, now, pause_at), env=isolated_environment(env), cwd=cwd, **options)


def wait_until_healthy(url: str, process: subprocess.Popen, what: str, deadline_seconds: float = 60) -> None:
    """Until the server at url (run by process) answers GET /health with 200; fails the test if the process
    exits first or the deadline (generous: only a broken setup ever waits this long) passes."""
    deadline = time.monotonic() + deadline_seconds
    while True:
        try:
            if requests.get(f"{url}/health", timeout=1).status_code == 200:
                return
        except requests.RequestException:
            pass
        assert process.poll() is None, f"{what} exited before it became healthy"
        assert time.monotonic() < deadline, f"{what} never became healthy"
        time.sleep(0.05)


def decide_plan(tmp_path: Path, command: str, manifests: list[dict]) -> tuple[int, dict[str, dict]]:
    """`hitl check|evaluate` of the manifests in one file, JSON out: its exit code (a decision's, never a crash's
    or a signal's) and each decision by manifest id."""
    plan = tmp_path / "plan.json"
    plan.write_text(json.dumps(manifests))
    result = hitl(command, plan, "--profile", "default", "--format", "json", timeout=60)
    assert result.returncode >= 0, f"hitl {command} was killed by signal {-result.returncode}"
    assert result.returncode in (0, 1, 3), result.stderr
    return result.returncode, {decision["id"]: decision for decision in json.loads(result.stdout)}


def assert_failed_closed(result, needle: str) -> None:
    """Exit 5, one line naming what failed, nothing reported as approved, no traceback."""
    assert result.returncode == 5, result.stderr
    assert needle in result.stderr
    assert "auto_approve" not in result.stdout and "MAY RUN" not in result.stdout
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


@pytest.fixture
def real_opa(opa_bin, tmp_path):
    """A real OPA server with the shipped policies and profiles, as `hitl serve` runs it: (url, pid)."""
    profiles = load_all_profiles()
    published = publish_revisions(profiles, tmp_path / "published")
    with LocalOpaServer([*policy_sources(write_policy_data(profiles, tmp_path, None)), published]) as server:
        yield server.url, server.process.pid


def proc_stat(pid: int) -> list[str] | None:
    """The fields of /proc/PID/stat after the command's name (its state first, then its parent), or None when the
    process is gone."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()
    except OSError:
        return None


def cpu_seconds(pid: int) -> float:
    """The CPU time (user and system) the process has used; 0 when it is gone."""
    fields = proc_stat(pid)
    if fields is None:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def processes_naming(marker: str) -> list[int]:
    """The processes whose command line holds marker (a forked child carries its parent's)."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/cmdline", "rb") as cmdline:
                    if marker.encode() in cmdline.read():
                        found.append(int(entry))
            except OSError:
                pass
    return found


def write_manifests(folder: Path, manifests: list[dict], name: str = "plan.yaml") -> Path:
    path = folder / name
    if path.suffix == ".json":
        path.write_text(json.dumps(manifests if len(manifests) > 1 else manifests[0]))
    else:
        path.write_text(yaml.safe_dump_all(manifests, sort_keys=False))
    return path


def write_yaml(path: Path, data) -> Path:
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def standalone_profile_text(name: str) -> str:
    """A shipped profile's text with its people file named by absolute path, so that it loads wherever a test
    writes it."""
    people = ROOT / "org_profiles" / "people"
    return (ROOT / "org_profiles" / f"{name}.yaml").read_text().replace("people: people/", f"people: {people}/")


def shipped_profile(name: str) -> dict:
    """A shipped profile's data, with the people file it names read in, so that it stands alone wherever a test
    writes it."""
    path = ROOT / "org_profiles" / f"{name}.yaml"
    return with_people(yaml.safe_load(path.read_text()), path)


def decided_async(engine, manifests) -> list:
    """The decisions of Engine.decide_async, asked on an event loop of their own (its asyncio client closed after)."""
    async def deciding():
        try:
            return (await engine.decide_async(manifests)).evaluated
        finally:
            await engine.aclose()

    return [item.decision for item in asyncio.run(deciding())]
