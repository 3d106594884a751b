"""The outbox: messages waiting to be delivered, written in the same transaction as the change they announce.

A row is one message to one channel (a digest item is one request's entry in its channel's next digest).
Rows go pending -> sent, failed (permanently, with the reason) or withdrawn (a digest item whose request no
longer waits). `hitl deliver` claims due rows with a lease inside a write transaction, so two deliverers never
send the same row at once; a deliverer that dies holding a lease loses it when the lease ends, and the row is
sent again (at least once, never lost). Times are stored as fixed-width UTC text, so they compare as strings.
"""

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from hitl_cli.store.database import Connection
from hitl_cli.store.records import Row, _insert, _rows

UNDELIVERED = ("pending", "failed")


def stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def moment(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)


@dataclass(frozen=True)
class Message:
    id: int
    key: str
    profile: str
    channel: str
    delivery: str
    request_id: str
    event: str
    note: str
    created_at: datetime
    attempts: int
    last_error: str | None

    @classmethod
    def of(cls, row: Row) -> "Message":
        return cls(
            id=row["id"], key=row["key"], profile=row["profile"], channel=row["channel"], delivery=row["delivery"],
            request_id=row["request_id"], event=row["event"], note=row["note"],
            created_at=moment(row["created_at"]), attempts=row["attempts"], last_error=row["last_error"],
        )


def add(
    connection: Connection, profile: str, channel: str, delivery: str, request_id: str, event: str,
    note: str, now: datetime, due: datetime,
) -> None:
    _insert(connection, "outbox", {
        "key": uuid.uuid4().hex, "profile": profile, "channel": channel, "delivery": delivery,
        "request_id": request_id, "event": event, "note": note, "created_at": stamp(now), "due_at": stamp(due),
        "status": "pending", "attempts": 0, "next_attempt_at": stamp(due),
    })


def withdraw_digest_items(connection: Connection, request_id: str, why: str) -> None:
    connection.execute(
        "UPDATE outbox SET status = 'withdrawn', last_error = ?, lease_until = NULL, lease_holder = NULL "
        "WHERE request_id = ? AND delivery = 'digest' AND status = 'pending'",
        (why, request_id),
    )


_DUE = (
    "profile = ? AND status = 'pending' AND next_attempt_at <= ? AND (lease_until IS NULL OR lease_until <= ?)"
)


def claim_next(connection: Connection, profile: str, due_by: datetime, now: datetime, lease_until: datetime,
               holder: str) -> list[Message]:
    """The next unit to send, leased to `holder`: one interrupt, or every item of one channel's digest, of those
    due by `due_by` and not leased to anyone at `now`."""
    due, at = stamp(due_by), stamp(now)
    found = _rows(connection, f"SELECT * FROM outbox WHERE {_DUE} ORDER BY next_attempt_at, id LIMIT 1",
                  (profile, due, at))
    if not found:
        return []
    first = found[0]
    if first["delivery"] == "interrupt":
        rows = found
    else:
        rows = _rows(connection, f"SELECT * FROM outbox WHERE {_DUE} AND delivery = 'digest' AND channel = ? "
                     "ORDER BY id", (profile, due, at, first["channel"]))
    connection.executemany(
        "UPDATE outbox SET lease_until = ?, lease_holder = ? WHERE id = ?",
        [(stamp(lease_until), holder, row["id"]) for row in rows],
    )
    return [Message.of(row) for row in rows]


def _finish(connection: Connection, ids: list[int], assignments: str, values: tuple) -> None:
    connection.executemany(
        f"UPDATE outbox SET {assignments}, lease_until = NULL, lease_holder = NULL WHERE id = ? AND status = 'pending'",
        [(*values, message_id) for message_id in ids],
    )


def mark_sent(connection: Connection, ids: list[int], now: datetime, sent_as: str) -> None:
    _finish(connection, ids, "status = 'sent', attempts = attempts + 1, sent_at = ?, sent_as = ?",
            (stamp(now), sent_as))


def mark_retry(connection: Connection, ids: list[int], error: str, next_attempt: datetime) -> None:
    _finish(connection, ids, "attempts = attempts + 1, last_error = ?, next_attempt_at = ?",
            (error, stamp(next_attempt)))


def mark_failed(connection: Connection, ids: list[int], error: str) -> None:
    _finish(connection, ids, "status = 'failed', attempts = attempts + 1, last_error = ?", (error,))


def mark_withdrawn(connection: Connection, ids: list[int], why: str) -> None:
    _finish(connection, ids, "status = 'withdrawn', last_error = ?", (why,))


def problems(connection: Connection, profile: str | None = None, request_id: str | None = None) -> list[Row]:
    """Messages that failed permanently (status failed) or whose last attempt failed (retrying), oldest first."""
    sql = ("SELECT request_id, channel, delivery, CASE status WHEN 'failed' THEN 'failed' ELSE 'retrying' END AS status, "
           "attempts, last_error AS error FROM outbox "
           "WHERE (status = 'failed' OR (status = 'pending' AND last_error IS NOT NULL))")
    parameters: tuple = ()
    for column, value in (("profile", profile), ("request_id", request_id)):
        if value is not None:
            sql += f" AND {column} = ?"
            parameters += (value,)
    return _rows(connection, sql + " ORDER BY id", parameters)


def counts(connection: Connection, profile: str) -> dict[str, int]:
    found = dict(connection.execute(
        "SELECT status, count(*) FROM outbox WHERE profile = ? GROUP BY status", (profile,)).fetchall())
    return {status: found.get(status, 0) for status in ("pending", "sent", "failed", "withdrawn")}
