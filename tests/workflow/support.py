"""A workspace for one test: a copy of the policies and profiles, a state store path, and the hitl CLI.

Policies and profiles are copied so that a test may edit them (staleness) and so that edits to the
checkout while the suite runs cannot make the test's requests stale. Everything runs through the real
`hitl` command in its own process, against the real OPA it starts and the real SQLite store.
"""

import json
import re
import shutil
import sqlite3
import subprocess
from contextlib import closing
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml

from conftest import TRUSTED_AGENT, TRUSTED_RECORD, hitl, hitl_process, make_manifest
from hitl_cli.errors import Refused
from hitl_cli.models.workflow import VerdictAction
from hitl_cli.workflow import queries, verdicts

ROOT = Path(__file__).resolve().parents[2]
TRUSTED = TRUSTED_AGENT

# One manifest per tier under the default profile, for the trusted agent of TRUSTED_RECORD.
TIER_SHAPES = {
    "auto_approve": {"type": "read", "env": "production"},
    "post_hoc": {"type": "documentation", "env": "production"},
    "single_approval": {"type": "write", "env": "staging"},
    "double_approval": {"type": "write", "env": "production"},
    "escalate": {"type": "write", "env": "staging", "novel": True},
    "block": {"type": "delete", "env": "production"},  # overridable: pii_exposure would be unoverridable
}

# The statement a manifest of each type carries unless a test gives one: what hitl parses must fit the type.
FITTING_STATEMENTS = {
    "read": "SELECT status FROM analytics.orders WHERE id = 7",
    "write": "UPDATE analytics.orders SET status = 'late' WHERE id = 7",
    "schema_migration": "ALTER TABLE analytics.orders ADD COLUMN note VARCHAR",
    "delete": "DELETE FROM analytics.orders WHERE id = 7",
    "drop": "DROP TABLE analytics.orders",
}
FITTING = object()


def manifest(
    id: str,
    type: str = "write",
    env: str = "staging",
    agent: str = TRUSTED,
    novel: bool = False,
    pii: bool = False,
    exposes_pii: bool = False,
    summary: str | None = None,
    context: dict | None = None,
    statement: str | None | object = FITTING,
    rows: int | None = 1200,
    cost: float | None = 2.5,
) -> dict:
    """conftest.make_manifest with the workflow's defaults: a statement that fits the type, a staging target on
    snowflake, a full context (what the templates show)."""
    return make_manifest(
        id=id, type=type, env=env, agent=agent, novel=novel, pii=pii, exposes_pii=exposes_pii,
        statement=FITTING_STATEMENTS.get(type) if statement is FITTING else statement, rows=rows, cost=cost,
        system="snowflake", summary=summary or f"{type} in {env} ({id})",
        context=context if context is not None else {
            "why": f"why {id}",
            "read": [f"read {id} one", f"read {id} two"],
            "risks": [f"risk {id}"],
            "plan": f"plan {id}",
            "rollback": f"rollback {id}",
        },
    )


def tier_manifest(tier: str, id: str | None = None, **overrides) -> dict:
    return manifest(id or f"m-{tier}", **{**TIER_SHAPES[tier], **overrides})


def at(hours: float) -> str:
    """A fixed moment plus some hours, as the runners' `now=` takes it."""
    return (datetime(2026, 11, 24, 9, 0, tzinfo=UTC) + timedelta(hours=hours)).isoformat().replace("+00:00", "Z")


@dataclass
class Workspace:
    root: Path
    env: dict = field(default_factory=dict)

    @property
    def state(self) -> Path:
        return self.root / "state.db"

    @property
    def profiles(self) -> Path:
        return self.root / "profiles"

    @property
    def rego(self) -> Path:
        return self.root / "rego"

    @property
    def trusted_record(self) -> Path:
        return self.root / "trusted-record.yaml"

    def hitl(self, *args, env: dict | None = None, timeout: float = 120, now: str | None = None,
             pause_at: str | None = None) -> subprocess.CompletedProcess:
        """conftest.hitl in this workspace: its folders and store, its root as the working directory."""
        return hitl(*args, env={**self.env, **(env or {})}, cwd=self.root, timeout=timeout, now=now, pause_at=pause_at)

    def popen(self, *args, env: dict | None = None, now: str | None = None,
              pause_at: str | None = None) -> subprocess.Popen:
        return hitl_process(*args, env={**self.env, **(env or {})}, cwd=self.root, now=now, pause_at=pause_at)

    def json(self, *args, env: dict | None = None, expect: int | tuple = (0,), now: str | None = None):
        result = self.hitl(*args, "--format", "json", env=env, now=now)
        expected = (expect,) if isinstance(expect, int) else expect
        assert result.returncode in expected, (result.returncode, result.stderr)
        return json.loads(result.stdout)

    def write(self, name: str, manifests: list[dict]) -> Path:
        path = self.root / name
        path.write_text(yaml.safe_dump_all(manifests, sort_keys=False))
        return path

    def submit(self, manifests: list[dict], *extra, name: str = "plan.yaml", trusted: bool = True, profile: str = "default",
               env: dict | None = None, expect: int | tuple = (0, 1, 3), now: str | None = None) -> dict[str, dict]:
        """Submit in one run (one OPA start); the requests by manifest id."""
        record = ["--track-record", self.trusted_record] if trusted else []
        found = self.json("submit", self.write(name, manifests), "--profile", profile, *record, *extra, env=env, expect=expect, now=now)
        return {item["manifest_id"]: item for item in found}

    def status(self, request_id: str, env: dict | None = None, now: str | None = None) -> dict:
        return self.json("status", request_id, env=env, expect=(0, 1, 3), now=now)

    # In process: the workflow rules themselves, without a process around them. The `ws` fixture puts the
    # workspace's folders in this process's environment, as the CLI runs would have them.

    def verdict(self, kind: VerdictAction, request_id: str, person: str, reason: str | None = None) -> dict:
        """A verdict given as `hitl approve/reject/override --format json` gives it: the request's view."""
        return verdicts.give_verdict(self.state, request_id, kind, person, reason).model_dump(mode="json")

    def review(self, request_id: str, person: str, verdict: str, reason: str | None = None) -> dict:
        return verdicts.mark_review(self.state, request_id, person, verdict, reason).model_dump(mode="json")

    def view(self, request_id: str) -> dict:
        """What `hitl status --format json` shows."""
        return queries.request_view(self.state, request_id)[0].model_dump(mode="json")

    def review_queue(self) -> list[dict]:
        """What `hitl review --format json` lists."""
        return [view.model_dump(mode="json") for view in queries.review_queue(self.state)]

    def refuses(self, give, *args, needle: str, error: type[Exception] = Refused) -> None:
        """give(*args) (a verdict or a review, in process) is refused by a rule (or, error=UsageError, its input
        is), and nothing reaches the audit trail (`refused` checks the same through the CLI, with its exit code)."""
        before = self.audit_count()
        with pytest.raises(error, match=re.escape(needle)):
            give(*args)
        assert self.audit_count() == before

    def audit_records(self) -> list[dict]:
        result = self.hitl("audit", "export")
        assert result.returncode == 0, result.stderr
        return [json.loads(line) for line in result.stdout.splitlines()]

    def audit_count(self) -> int:
        """How many audit records the store file holds, read straight from SQLite."""
        with closing(self.database()) as connection:
            return connection.execute("SELECT count(*) FROM audit_log").fetchone()[0]

    def verify(self) -> subprocess.CompletedProcess:
        return self.hitl("audit", "verify")

    def database(self) -> sqlite3.Connection:
        """Direct access to the store file, for tests that tamper with it or inspect it."""
        return sqlite3.connect(self.state, isolation_level=None)


def make_workspace(root: Path) -> Workspace:
    shutil.copytree(ROOT / "rego", root / "rego")
    shutil.copytree(ROOT / "org_profiles", root / "profiles")
    workspace = Workspace(root, env={
        "HITL_REGO_DIR": str(root / "rego"),
        "HITL_PROFILES_DIR": str(root / "profiles"),
        "HITL_STATE": str(root / "state.db"),
    })
    workspace.trusted_record.write_text(yaml.safe_dump(TRUSTED_RECORD))
    return workspace


def copy_profile(workspace: Workspace, name: str, new_name: str, changes: dict) -> Path:
    """A shipped profile under a new name with some values changed (dotted paths); returns its path."""
    data = yaml.safe_load((workspace.profiles / f"{name}.yaml").read_text())
    data["metadata"]["name"] = new_name
    for dotted, value in changes.items():
        target = data
        *parents, last = dotted.split(".")
        for key in parents:
            target = target[key]
        target[last] = value
    path = workspace.root / f"{new_name}.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def refused(ws, *args, needle: str) -> None:
    """The command is refused with exit 6 and a one-line reason, and nothing reaches the audit trail."""
    before = ws.audit_count()
    result = ws.hitl(*args)
    assert result.returncode == 6, (result.returncode, result.stdout, result.stderr)
    assert result.stderr.startswith("hitl: ") and len(result.stderr.strip().splitlines()) == 1
    assert needle in result.stderr, result.stderr
    assert ws.audit_count() == before
