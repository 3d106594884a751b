"""The tamper-evident audit trail: an append-only, hash-chained list of records.

Each record's hash is the SHA-256 of its canonical content - seq, time, kind, subject, actor, the
payload exactly as stored, and the previous record's hash - so changing, removing, inserting or
reordering any record breaks the chain at that record. The head (last seq and hash, kept beside the
records) shows when records were cut from the end or added after it. Times never go back: a record dated
before the one it follows is refused when written and reported by verification, even with a sound chain.
"""

import sqlite3
from datetime import datetime
from typing import Any

from hitl_cli.canonical import canonical_json, canonical_sha256
from hitl_cli.errors import StoreError
from hitl_cli.models.common import DeferredModel
from hitl_cli.models.workflow import AuditRecord
from hitl_cli.store import audit_log

GENESIS_HASH = "0" * 64


def _hash(row: dict) -> str:
    """The hash of a stored row's content (everything but its own hash)."""
    return canonical_sha256({key: row[key] for key in ("seq", "at", "kind", "subject", "actor", "payload", "prev_hash")})


def append(
    connection: sqlite3.Connection, kind: str, subject: str, actor: str, payload: dict[str, Any], at: datetime
) -> AuditRecord:
    """Append one record; the caller's transaction makes it land together with the change it records."""
    last = audit_log.head(connection)
    seq, prev_hash = (last[0] + 1, last[1]) if last else (1, GENESIS_HASH)
    previous = _moment(audit_log.time_of(connection, last[0])) if last else None
    if previous is not None and at < previous:
        raise StoreError(
            f"the system clock ({at.isoformat()}) is behind the audit trail's last record ({previous.isoformat()}): "
            "nothing was recorded; correct the clock"
        )
    record = AuditRecord(
        seq=seq, at=at, kind=kind, subject=subject, actor=actor, payload=payload, prev_hash=prev_hash, hash=""
    )
    data = record.model_dump(mode="json")
    record = record.model_copy(update={"hash": _hash({**data, "payload": canonical_json(data["payload"])})})
    audit_log.append(connection, record)
    return record


class AuditCheck(DeferredModel):
    ok: bool
    records: int
    head_seq: int | None
    head_hash: str | None
    first_bad_seq: int | None = None
    problem: str | None = None


def check_chain(connection: sqlite3.Connection) -> AuditCheck:
    """Walk every record in seq order; stop at the first one that breaks the chain."""
    expected_seq, prev_hash, count, last = 1, GENESIS_HASH, 0, None
    head = audit_log.head(connection)

    def broken(seq: int, problem: str) -> AuditCheck:
        return AuditCheck(
            ok=False, records=count, head_seq=head[0] if head else None, head_hash=head[1] if head else None,
            first_bad_seq=seq, problem=problem,
        )

    for row in audit_log.raw_records(connection):
        seq = row["seq"]
        if seq != expected_seq:
            if seq < expected_seq:
                return broken(seq, f"record {seq} is out of sequence (expected {expected_seq})")
            return broken(expected_seq, f"record {expected_seq} is missing (the next one is {seq})")
        if row["hash"] != _hash(row):
            return broken(seq, f"record {seq} does not match its hash: it was changed")
        if row["prev_hash"] != prev_hash:
            return broken(seq, f"record {seq} does not follow record {seq - 1}: the chain was reordered or spliced")
        if _moment(row["at"]) is None:
            return broken(seq, f"record {seq} has no valid time ({row['at']!r})")
        if last is not None and _moment(row["at"]) < _moment(last["at"]):
            return broken(seq, f"record {seq} is dated {row['at']}, before record {seq - 1} ({last['at']})")
        prev_hash, last = row["hash"], row
        expected_seq += 1
        count += 1
    if last is None and head is not None:
        return broken(1, f"the trail is empty but its head names record {head[0]}: records were removed")
    if last is not None and head is None:
        return broken(last["seq"], "the trail has records but no head: the head was removed")
    if last is not None and (last["seq"], last["hash"]) != head:
        if head[0] < last["seq"]:
            return broken(head[0] + 1, f"record {head[0] + 1} comes after the head (record {head[0]}): it was added")
        if head[0] > last["seq"]:
            return broken(last["seq"] + 1, f"record {last['seq'] + 1} is missing: the trail ends before its head")
        return broken(last["seq"], f"record {last['seq']} is not the one the head names: it was replaced")
    return AuditCheck(ok=True, records=count, head_seq=head[0] if head else None, head_hash=head[1] if head else None)


def _moment(stored: object) -> datetime | None:
    """A stored record time as an aware datetime; None when it is not one."""
    try:
        moment = datetime.fromisoformat(stored) if isinstance(stored, str) else None
    except ValueError:
        return None
    return moment if moment is not None and moment.tzinfo is not None else None


def export(connection: sqlite3.Connection) -> list[dict]:
    """Every record as stored, its payload parsed, in seq order."""
    return [audit_log.decode(row) for row in audit_log.raw_records(connection)]
