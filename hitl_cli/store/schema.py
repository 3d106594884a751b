"""The state store's tables, and the migrations that bring a store up to the current schema.

A migration is written once, for both backends: its tables in SQLite's dialect (the PostgreSQL backend
translates the types), and which of them are append-only, which each backend enforces its own way
(triggers; on PostgreSQL also privileges). Migrations run inside the writer's transaction, so a store is
never left half-migrated, and two processes creating one store at once cannot both do it.
"""

import sqlite3
from dataclasses import dataclass, field

from hitl_cli.errors import StoreError


@dataclass(frozen=True)
class Migration:
    tables: str  # CREATE TABLE / CREATE INDEX / ALTER TABLE statements
    append_only: dict[str, str] = field(default_factory=dict)  # table -> what its rows are, for the refusal
    changing: tuple[str, ...] = ()  # new tables whose rows hitl updates


# Each entry brings a store from version i to version i + 1.
MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        """
    CREATE TABLE requests (
        id              TEXT PRIMARY KEY,
        manifest_id     TEXT NOT NULL,
        agent           TEXT NOT NULL,
        status          TEXT NOT NULL,
        superseded_by   TEXT,
        submitted_at    TEXT NOT NULL,
        manifest_sha256 TEXT NOT NULL,
        policy_revision TEXT NOT NULL,
        profile_source  TEXT NOT NULL,
        manifest        TEXT NOT NULL,
        decision        TEXT NOT NULL
    );
    CREATE INDEX requests_by_manifest ON requests (manifest_id);

    CREATE TABLE verdicts (
        seq        INTEGER PRIMARY KEY,
        request_id TEXT NOT NULL REFERENCES requests (id),
        kind       TEXT NOT NULL CHECK (kind IN ('approve', 'reject', 'override')),
        person     TEXT NOT NULL,
        person_key TEXT NOT NULL,
        reason     TEXT,
        at         TEXT NOT NULL
    );
    CREATE INDEX verdicts_by_request ON verdicts (request_id);
    CREATE UNIQUE INDEX one_approval_per_person ON verdicts (request_id, person_key) WHERE kind = 'approve';
    CREATE UNIQUE INDEX one_final_verdict ON verdicts (request_id) WHERE kind IN ('reject', 'override');

    CREATE TABLE reviews (
        request_id TEXT PRIMARY KEY REFERENCES requests (id),
        person     TEXT NOT NULL,
        verdict    TEXT NOT NULL CHECK (verdict IN ('ok', 'wrong')),
        reason     TEXT,
        at         TEXT NOT NULL
    );

    CREATE TABLE trust_grants (
        seq    INTEGER PRIMARY KEY,
        agent  TEXT NOT NULL,
        level  TEXT NOT NULL,
        person TEXT NOT NULL,
        at     TEXT NOT NULL
    );

    CREATE TABLE audit_log (
        seq       INTEGER PRIMARY KEY,
        at        TEXT NOT NULL,
        kind      TEXT NOT NULL,
        subject   TEXT NOT NULL,
        actor     TEXT NOT NULL,
        payload   TEXT NOT NULL,
        prev_hash TEXT NOT NULL,
        hash      TEXT NOT NULL
    );
    CREATE TABLE audit_head (
        id   INTEGER PRIMARY KEY CHECK (id = 1),
        seq  INTEGER NOT NULL,
        hash TEXT NOT NULL
    );
        """,
        append_only={
            "audit_log": "audit records", "verdicts": "verdicts", "reviews": "reviews", "trust_grants": "trust grants",
        },
        changing=("requests", "audit_head"),
    ),
    # 2: the outbox of messages `hitl deliver` sends (interrupts, and digest items batched per channel).
    Migration(
        """
    CREATE TABLE outbox (
        id              INTEGER PRIMARY KEY,
        key             TEXT NOT NULL UNIQUE,
        profile         TEXT NOT NULL,
        channel         TEXT NOT NULL,
        delivery        TEXT NOT NULL CHECK (delivery IN ('interrupt', 'digest')),
        request_id      TEXT NOT NULL REFERENCES requests (id),
        event           TEXT NOT NULL,
        note            TEXT NOT NULL,
        created_at      TEXT NOT NULL,
        due_at          TEXT NOT NULL,
        status          TEXT NOT NULL CHECK (status IN ('pending', 'sent', 'failed', 'withdrawn')),
        attempts        INTEGER NOT NULL,
        next_attempt_at TEXT NOT NULL,
        lease_until     TEXT,
        lease_holder    TEXT,
        last_error      TEXT,
        sent_at         TEXT,
        sent_as         TEXT
    );
    CREATE INDEX outbox_due ON outbox (profile, status, due_at);
    CREATE INDEX outbox_by_request ON outbox (request_id);
        """,
        changing=("outbox",),
    ),
    # 3: each verdict's SSH signature of its statement (hitl_cli.signing); NULL when it was given unsigned.
    Migration(
        """
    ALTER TABLE verdicts ADD COLUMN signature TEXT;
        """,
    ),
    # 4: a PostgreSQL store's calibration data (hitl_cli.calibration.storage), one row that `hitl calibrate`
    # replaces: such a store has no folder to keep the file beside. A SQLite store keeps the file, and this empty.
    Migration(
        """
    CREATE TABLE calibration (
        id          INTEGER PRIMARY KEY CHECK (id = 1),
        data        TEXT NOT NULL,
        written_at  TEXT NOT NULL
    );
        """,
        changing=("calibration",),
    ),
)

SCHEMA_VERSION = len(MIGRATIONS)


def require_known_version(version: int, store: object) -> None:
    if version > SCHEMA_VERSION:
        raise StoreError(
            f"state store {store} has schema version {version}, newer than this hitl knows ({SCHEMA_VERSION}); "
            "upgrade hitl"
        )


def migrate(backend, connection, to: int = SCHEMA_VERSION) -> None:
    """Bring the store up to version `to` (the current one unless told); the caller holds the write transaction."""
    version = backend.schema_version(connection)
    require_known_version(version, backend)
    for target, migration in enumerate(MIGRATIONS[version:to], start=version + 1):
        for statement in _statements(backend.table_statements(migration.tables)):
            connection.execute(statement)
        for table, what in migration.append_only.items():
            for statement in [*backend.append_only(table, what), *backend.privileges(table, append_only=True)]:
                connection.execute(statement)
        for table in migration.changing:
            for statement in backend.privileges(table, append_only=False):
                connection.execute(statement)
        backend.set_schema_version(connection, target)


def _statements(script: str) -> list[str]:
    """executescript() would commit the open transaction; statements are run one by one instead."""
    statements, current = [], ""
    for line in script.strip().splitlines():
        current += line + "\n"
        if sqlite3.complete_statement(current):
            statements.append(current.strip())
            current = ""
    return statements
