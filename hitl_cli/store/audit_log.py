"""The audit_log table and its head: the last record's seq and hash, so a removed tail is noticed."""

import json
from collections.abc import Iterator

from hitl_cli.canonical import canonical_json
from hitl_cli.models.workflow import AuditRecord
from hitl_cli.store.database import Connection

COLUMNS = ("seq", "at", "kind", "subject", "actor", "payload", "prev_hash", "hash")


def append(connection: Connection, record: AuditRecord) -> None:
    data = record.model_dump(mode="json")
    stored = {**data, "payload": canonical_json(data["payload"])}
    connection.execute(
        f"INSERT INTO audit_log ({', '.join(COLUMNS)}) VALUES ({', '.join('?' for _ in COLUMNS)})",
        tuple(stored[column] for column in COLUMNS),
    )
    connection.execute(
        "INSERT INTO audit_head (id, seq, hash) VALUES (1, ?, ?) "
        "ON CONFLICT (id) DO UPDATE SET seq = excluded.seq, hash = excluded.hash",
        (record.seq, record.hash),
    )


def head(connection: Connection) -> tuple[int, str] | None:
    """(seq, hash) of the last record written, or None before the first."""
    rows = connection.execute("SELECT seq, hash FROM audit_head WHERE id = 1").fetchall()
    return (rows[0][0], rows[0][1]) if rows else None


def hash_of(connection: Connection, seq: int) -> str | None:
    """The stored hash of record `seq`, None when there is no such record."""
    rows = connection.execute("SELECT hash FROM audit_log WHERE seq = ?", (seq,)).fetchall()
    return rows[0][0] if rows else None


def time_of(connection: Connection, seq: int) -> str | None:
    """The stored time of record `seq`, None when there is no such record."""
    rows = connection.execute("SELECT at FROM audit_log WHERE seq = ?", (seq,)).fetchall()
    return rows[0][0] if rows else None


def raw_records(connection: Connection) -> Iterator[dict]:
    """Every stored row as it is, in seq order: what verification checks, tampered or not."""
    for values in connection.execute(f"SELECT {', '.join(COLUMNS)} FROM audit_log ORDER BY seq"):
        yield dict(zip(COLUMNS, values))


def decode(row: dict) -> dict:
    """A stored row with its payload parsed (left as text when it is not JSON: a tampered row is shown as is)."""
    try:
        return {**row, "payload": json.loads(row["payload"])}
    except (TypeError, ValueError):
        return row
