"""A workspace for one test: a copy of the policies and profiles, a state store path, and the hitl CLI.

Policies and profiles are copied so that a test may edit them (staleness) and so that edits to the
checkout while the suite runs cannot make the test's requests stale. Everything runs through the real
`hitl` command in its own process, against the real OPA it starts and a real store: a SQLite file, or a
database of its own on the real PostgreSQL server scripts/with-postgres starts (HITL_TEST_POSTGRES_URL).
"""

import json
import os
import re
import shutil
import sqlite3
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest
import yaml

from conftest import TRUSTED_AGENT, TRUSTED_RECORD, hitl, hitl_process, make_manifest
from hitl_cli import clock
from hitl_cli.errors import Refused
from hitl_cli.models import names
from hitl_cli.models.workflow import VerdictAction
from hitl_cli.store.connection import backend_for, state_path
from hitl_cli.store.postgres_backend import PostgresConnection
from hitl_cli.store.schema import migrate
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


# Everyone the workflow tests name, by role; make_workspace lists them, with a key each, in the copied profiles'
# people files (the shipped files' placeholder keys have no private half).
APPROVERS = ("alice", "bob", "carol", "dave", "erin", "frank", "stamp", "careful", "alice <!channel>")
PROFILE_PEOPLE = {
    "default": {"data-platform-lead": ["approver", "escalation_reviewer"],
                "security-oncall": ["approver", "escalation_reviewer"], "cto": ["approver", "override_holder"]},
    "startup": {"cto": ["approver", "escalation_reviewer", "override_holder"],
                "head-of-data": ["approver", "escalation_reviewer"]},
    "bank": {"model-risk-officer": ["approver", "escalation_reviewer"], "ciso": ["approver", "escalation_reviewer"],
             "chief-risk-officer": ["approver", "override_holder"]},
}
_KEYS = Path(tempfile.mkdtemp(prefix="hitl-test-keys-"))


def keyed_person(name: str, variant: str = "") -> tuple[Path, str]:
    """(private key file, public key line) of a key made for `name` with the real `ssh-keygen -t ed25519 -N ''`;
    made once per test process and name (a variant makes a person's second key)."""
    path = _KEYS / f"{names.key(name).encode().hex()}{variant}"
    if not path.exists():
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", f"{name}{variant}", "-f", str(path)],
                       check=True, capture_output=True)
    return path, path.with_suffix(".pub").read_text().strip()


def people_entries(people: dict[str, list[str]]) -> list[dict]:
    return [{"name": name, "roles": roles, "keys": [keyed_person(name)[1]]} for name, roles in people.items()]


def at(hours: float) -> str:
    """A fixed moment plus some hours, as the runners' `now=` takes it."""
    return (datetime(2026, 11, 24, 9, 0, tzinfo=UTC) + timedelta(hours=hours)).isoformat().replace("+00:00", "Z")


class Postgres:
    """The test server (scripts/with-postgres): a database per workspace, made and dropped by the superuser."""

    OWNER, WRITER = "hitl_owner", "hitl"  # the roles of docs/workflow.md, as scripts/with-postgres creates them

    def __init__(self, admin_url: str):
        self.admin_url = admin_url
        parts = psycopg.conninfo.conninfo_to_dict(admin_url)
        self.password, self.host, self.port = parts["password"], parts["host"], parts["port"]

    def url(self, database: str, role: str = OWNER) -> str:
        return f"postgresql://{role}:{self.password}@{self.host}:{self.port}/{database}"

    def _admin(self, statement: str) -> None:
        with psycopg.connect(self.admin_url, autocommit=True) as connection:
            connection.execute(statement)

    def create(self, template: str | None = None) -> str:
        name = f"ws_{uuid.uuid4().hex[:16]}"
        self._admin(f"CREATE DATABASE {name} OWNER {self.OWNER}" + (f" TEMPLATE {template}" if template else ""))
        return name

    def drop(self, name: str) -> None:
        self._admin(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")

    def connect(self, database: str) -> PostgresConnection:
        """The superuser's connection: what an attacker with the server's keys could do."""
        return PostgresConnection(psycopg.connect(self.url(database, "postgres"), autocommit=True))


@dataclass
class Workspace:
    root: Path
    env: dict = field(default_factory=dict)
    postgres: Postgres | None = None
    databases: list[str] = field(default_factory=list)  # PostgreSQL: the store's, then any copies of it

    @property
    def backend(self) -> str:
        return "sqlite" if self.postgres is None else "postgresql"

    @property
    def state(self) -> Path | str:
        """What --state names: the SQLite file, or the PostgreSQL URL (hitl_owner's, with its password)."""
        return self.root / "state.db" if self.postgres is None else self.postgres.url(self.databases[0])

    @property
    def store(self):
        """The store as the CLI's --state makes it (hitl_cli.store.connection.state_path), for the in-process calls."""
        return state_path(str(self.state))

    def copy_store(self, name: str) -> Path | str:
        """A copy of the store as it stands, to tamper with: a file, or a database made from this one."""
        if self.postgres is None:
            target = self.root / "tampered" / name / "state.db"
            target.parent.mkdir(parents=True)
            shutil.copy(self.state, target)
            return target
        self.databases.append(self.postgres.create(template=self.databases[0]))
        return self.postgres.url(self.databases[-1])

    def connect(self, state: Path | str | None = None):
        """Direct access to a store (this one by default) as its most powerful user: the SQLite file, or
        PostgreSQL's superuser. `?` placeholders on both."""
        state = self.state if state is None else state
        if self.postgres is None:
            return sqlite3.connect(state, isolation_level=None)
        return self.postgres.connect(psycopg.conninfo.conninfo_to_dict(state)["dbname"])

    @property
    def shown_state(self) -> str:
        """The store as hitl names it in what it prints: a PostgreSQL URL without its user and password."""
        if self.postgres is None:
            return str(self.state)
        return f"postgresql://{self.postgres.host}:{self.postgres.port}/{self.databases[0]}"

    def store_exists(self) -> bool:
        if self.postgres is None:
            return self.state.exists()
        with closing(self.connect()) as connection:
            return connection.execute("SELECT to_regclass('hitl_schema')").fetchone()[0] is not None

    def create_store(self, version: int) -> None:
        """A store at an older schema version, as an older hitl left it, written by hitl's own migrations."""
        backend = backend_for(state_path(str(self.state)))
        backend.prepare(create=True)
        connection = backend.connect(read_only=False, timeout=5)
        try:
            backend.begin_write(connection, 5)
            migrate(backend, connection, to=version)
            connection.execute("COMMIT")
        finally:
            connection.close()

    def set_schema_version(self, version: int) -> None:
        with closing(self.connect()) as connection:
            if self.postgres is None:
                connection.execute(f"PRAGMA user_version = {version}")
            else:
                connection.execute("UPDATE hitl_schema SET version = ?", (version,))

    @contextmanager
    def write_lock_held(self) -> Iterator[None]:
        """Another writer that takes the store and does not let go."""
        with closing(self.connect()) as holder:
            holder.execute("BEGIN EXCLUSIVE" if self.postgres is None else "BEGIN")
            if self.postgres is not None:
                holder.execute("LOCK TABLE requests, verdicts, audit_log, audit_head IN EXCLUSIVE MODE")  # reads pass
            try:
                yield
            finally:
                holder.execute("ROLLBACK")

    def close(self) -> None:
        for database in self.databases if self.postgres is not None else []:
            self.postgres.drop(database)

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
             pause_at: str | None = None, cwd: Path | None = None) -> subprocess.CompletedProcess:
        """conftest.hitl in this workspace: its folders and store, its root as the working directory. A verdict
        (approve, reject, override) by someone the workspace keyed is signed with their key, unless the test
        passes --key itself or `--key -` (no key: an unsigned verdict); now / pause_at: see conftest.hitl_command."""
        return hitl(*_signed(args), env={**self.env, **(env or {})}, cwd=cwd or self.root, timeout=timeout, now=now,
                    pause_at=pause_at)

    def popen(self, *args, env: dict | None = None, now: str | None = None,
              pause_at: str | None = None, **popen) -> subprocess.Popen:
        return hitl_process(*_signed(args), env={**self.env, **(env or {})}, cwd=self.root, now=now, pause_at=pause_at,
                            **popen)

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
    # workspace's folders in this process's environment, as the CLI runs have them.

    def verdict(self, kind: VerdictAction, request_id: str, person: str, reason: str | None = None) -> dict:
        """A verdict given as `hitl approve/reject/override --format json` gives it (signed with the person's key,
        as Workspace.hitl signs): the request's view."""
        view, _ = verdicts.give_verdict(self.store, request_id, kind, person, reason, _key_of(person))
        return view.model_dump(mode="json")

    def review(self, request_id: str, person: str, verdict: str, reason: str | None = None) -> dict:
        return verdicts.mark_review(self.store, request_id, person, verdict, reason).model_dump(mode="json")

    def view(self, request_id: str) -> dict:
        """What `hitl status --format json` shows."""
        return queries.request_view(self.store, request_id)[0].model_dump(mode="json")

    def review_queue(self) -> list[dict]:
        """What `hitl review --format json` lists."""
        return [view.model_dump(mode="json") for view in queries.review_queue(self.store)]

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
        """How many audit records the store holds, read straight from the database."""
        with closing(self.database()) as connection:
            return connection.execute("SELECT count(*) FROM audit_log").fetchone()[0]

    def verify(self) -> subprocess.CompletedProcess:
        return self.hitl("audit", "verify")

    def database(self):
        """Direct access to the store, for tests that tamper with it or inspect it."""
        return self.connect()


def _signed(args: tuple) -> tuple:
    args = tuple(str(arg) for arg in args)
    if not args or args[0] not in ("approve", "reject", "override") or "--by" not in args:
        return args
    if "--key" in args:
        at = args.index("--key")
        return args[:at] + args[at + 2:] if args[at + 1] == "-" else args
    key = _key_of(args[args.index("--by") + 1])
    return args if key is None else (*args, "--key", str(key))


def _key_of(person: str) -> Path | None:
    """The private key of someone the workspace keyed, or None (a name it does not know, or an invalid one)."""
    known = {names.key(name) for name in (*APPROVERS, *(n for people in PROFILE_PEOPLE.values() for n in people))}
    if names.problem(person) or names.key(person) not in known:
        return None
    return keyed_person(person)[0]


def make_workspace(root: Path, postgres: Postgres | None = None) -> Workspace:
    """A workspace on a SQLite file, or (given the test server) on a new PostgreSQL database; close() drops it."""
    shutil.copytree(ROOT / "rego", root / "rego")
    shutil.copytree(ROOT / "org_profiles", root / "profiles")
    for profile, people in PROFILE_PEOPLE.items():
        entries = people_entries({**{name: ["approver"] for name in APPROVERS}, **people})
        (root / "profiles" / "people" / f"{profile}.yaml").write_text(yaml.safe_dump({"people": entries}, sort_keys=False))
    workspace = Workspace(root, postgres=postgres)
    if postgres is not None:
        workspace.databases.append(postgres.create())
    workspace.env = {
        "HITL_REGO_DIR": str(root / "rego"),
        "HITL_PROFILES_DIR": str(root / "profiles"),
        "HITL_STATE": str(workspace.state),
    }
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
    if isinstance(data["approvals"].get("people"), str):
        data["approvals"]["people"] = str(workspace.profiles / data["approvals"]["people"])
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


def unguard(ws, connection) -> None:
    """Inside an open transaction: the append-only guards off, as only the file's or server's owner can."""
    if ws.backend == "sqlite":
        for table in ("audit_log", "verdicts", "reviews", "trust_grants"):
            connection.execute(f"DROP TRIGGER {table}_no_update")
            connection.execute(f"DROP TRIGGER {table}_no_delete")
    else:
        connection.execute("SET LOCAL session_replication_role = replica")  # the superuser's: no triggers fire


def descriptors_on(path) -> int:
    """How many of this process's file descriptors are open on the file, or on one removed from that path."""
    target = os.path.realpath(path)
    found = 0
    for descriptor in os.listdir("/proc/self/fd"):
        try:
            found += os.readlink(f"/proc/self/fd/{descriptor}") in (target, f"{target} (deleted)")
        except OSError:
            continue
    return found


def hitl_sessions(ws) -> list[int]:
    """The PostgreSQL sessions hitl has open on the workspace's database."""
    database = psycopg.conninfo.conninfo_to_dict(ws.state)["dbname"]
    with psycopg.connect(ws.postgres.url(database), autocommit=True) as admin:
        rows = admin.execute("SELECT pid FROM pg_stat_activity WHERE datname = %s AND application_name = 'hitl' "
                             "AND pid <> pg_backend_pid()", (database,)).fetchall()
    return [row[0] for row in rows]


def kept_connections(ws) -> int:
    """The store connections this process keeps: descriptors on the SQLite file, or hitl's PostgreSQL sessions."""
    return descriptors_on(ws.state) if ws.backend == "sqlite" else len(hitl_sessions(ws))


def daily_budget(ws, monkeypatch) -> Path:
    """A profile with a daily budget of 100 USD an agent, the clock at today's at(5), and 1 USD approved today."""
    profile = copy_profile(ws, "default", "budget",
                           {"daily_budget.per_agent_usd": 100, "daily_budget.organisation_usd": 150})
    assert ws.submit([manifest("b-0", type="write", env="dev", cost=1)], profile=profile, now=at(0))["b-0"]["status"] == "approved"
    monkeypatch.setattr(clock, "now", lambda: datetime.fromisoformat(at(5)))
    return profile
