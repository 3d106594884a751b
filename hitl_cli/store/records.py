"""Reading and writing requests, verdicts, reviews and trust grants: rows in, pydantic models out.

`*_row` functions are the one mapping from a model to its row; `hitl audit verify` uses them too, to
check that the tables hold exactly what the audit trail says.
"""

from typing import Any

from hitl_cli.canonical import canonical_json
from hitl_cli.models import ActionManifest, Decision, names
from hitl_cli.models.workflow import RecordedStatus, Request, Review, TrustGrant, Verdict
from hitl_cli.store.database import Connection

Row = dict[str, Any]
HIDDEN = "rowid"  # the insertion order PostgreSQL tables keep as a column (SQLite's is implicit): never a row's data


def _rows(connection: Connection, sql: str, parameters: tuple = ()) -> list[Row]:
    cursor = connection.execute(sql, parameters)
    names = [column[0] for column in cursor.description]
    return [{name: value for name, value in zip(names, values) if name != HIDDEN} for values in cursor.fetchall()]


def _without_seq(row: Row) -> Row:
    """seq only orders the rows of append-only tables; it is not part of what they record."""
    return {key: value for key, value in row.items() if key != "seq"}


def _insert(connection: Connection, table: str, row: Row) -> None:
    columns = ", ".join(row)
    placeholders = ", ".join("?" for _ in row)
    connection.execute(f"INSERT INTO {table} ({columns}) VALUES ({placeholders})", tuple(row.values()))


# Requests


def request_row(request: Request) -> Row:
    data = request.model_dump(mode="json")
    return {
        "id": request.id,
        "manifest_id": request.manifest_id,
        "agent": request.agent,
        "status": request.status,
        "superseded_by": request.superseded_by,
        "submitted_at": data["submitted_at"],
        "manifest_sha256": request.manifest_sha256,
        "policy_revision": request.policy_revision,
        "profile_source": request.profile_source,
        "manifest": canonical_json(data["manifest"]),
        "decision": canonical_json(data["decision"]),
    }


def _request(row: Row) -> Request:
    # Parsed and validated in one pass from their JSON text (a queue reads thousands); exactly the checks the
    # models make of the same values in Python, since what the store holds is JSON.
    return Request.model_validate(
        {
            "id": row["id"],
            "manifest": ActionManifest.model_validate_json(row["manifest"]),
            "decision": Decision.model_validate_json(row["decision"]),
            "manifest_sha256": row["manifest_sha256"],
            "policy_revision": row["policy_revision"],
            "profile_source": row["profile_source"],
            "submitted_at": row["submitted_at"],
            "status": row["status"],
            "superseded_by": row["superseded_by"],
        }
    )


def insert_request(connection: Connection, request: Request) -> None:
    _insert(connection, "requests", request_row(request))


def set_status(
    connection: Connection, request_id: str, status: RecordedStatus, superseded_by: str | None = None
) -> None:
    connection.execute(
        "UPDATE requests SET status = ?, superseded_by = coalesce(?, superseded_by) WHERE id = ?",
        (status, superseded_by, request_id),
    )


def get_request(connection: Connection, request_id: str) -> Request | None:
    rows = _rows(connection, "SELECT * FROM requests WHERE id = ?", (request_id,))
    return _request(rows[0]) if rows else None


def requests_for_manifest(connection: Connection, manifest_id: str) -> list[Request]:
    """Every request for one manifest id, in the order they were submitted."""
    found = _rows(connection, "SELECT * FROM requests WHERE manifest_id = ? ORDER BY rowid", (manifest_id,))
    return [_request(row) for row in found]


_ALL_REQUESTS = "SELECT * FROM requests ORDER BY rowid"


def all_requests(connection: Connection) -> list[Request]:
    """Every request, oldest first."""
    return [_request(row) for row in _rows(connection, _ALL_REQUESTS)]


class ParsedRequests:
    """Every request of a store, oldest first, for a reader that reads them again and again (hitl_cli.policy_history.
    StoreSnapshots): each read parses only the rows it has not seen. A row counts as seen only when every column is
    as it was: the product never changes a request's manifest or decision once recorded, but a store's owner can
    (a row tampered with, then mended or restored from a backup, under the same id, hash, revision, time and
    status), and the reader must decide on the row as the store holds it, as a fresh reader would. Parsing every
    request took 0.6 s at 10,000 (bench/history_cost.py); a read of them all, each seen before, takes about 90 ms
    of CPU there, the rows read and compared whole."""

    def __init__(self) -> None:
        self._parsed: dict[str, tuple[tuple, Request]] = {}  # id -> (the row's values, the request parsed from them)

    def all(self, connection: Connection) -> list[Request]:
        """Every request, oldest first, as all_requests reads them, in the caller's read transaction."""
        parsed = self._parsed  # one read of the attribute: another thread may replace it meanwhile
        current: dict[str, tuple[tuple, Request]] = {}
        for row in _rows(connection, _ALL_REQUESTS):
            values, seen = tuple(row.values()), parsed.get(row["id"])
            current[row["id"]] = seen if seen is not None and seen[0] == values else (values, _request(row))
        self._parsed = current  # what the store no longer holds is forgotten
        return [request for _, request in current.values()]


def request_rows(connection: Connection) -> dict[str, Row]:
    return {row["id"]: row for row in _rows(connection, "SELECT * FROM requests")}


# Verdicts: approvals, rejections, overrides


def verdict_row(verdict: Verdict) -> Row:
    data = verdict.model_dump(mode="json")
    return {**data, "person_key": names.key(verdict.person)}


def _verdict(row: Row) -> Verdict:
    return Verdict.model_validate({key: value for key, value in row.items() if key not in ("seq", "person_key")})


def insert_verdict(connection: Connection, verdict: Verdict) -> None:
    _insert(connection, "verdicts", verdict_row(verdict))


def verdicts_for(connection: Connection, request_id: str) -> list[Verdict]:
    found = _rows(connection, "SELECT * FROM verdicts WHERE request_id = ? ORDER BY seq", (request_id,))
    return [_verdict(row) for row in found]


def all_verdicts(connection: Connection) -> list[Verdict]:
    return [_verdict(row) for row in _rows(connection, "SELECT * FROM verdicts ORDER BY seq")]


def verdict_rows(connection: Connection) -> list[Row]:
    """A store read before migration 3 has no signature column: its verdicts are unsigned."""
    return [{"signature": None, **_without_seq(row)} for row in _rows(connection, "SELECT * FROM verdicts ORDER BY seq")]


# Post-hoc reviews


def review_row(review: Review) -> Row:
    return review.model_dump(mode="json")


def insert_review(connection: Connection, review: Review) -> None:
    _insert(connection, "reviews", review_row(review))


def review_for(connection: Connection, request_id: str) -> Review | None:
    rows = _rows(connection, "SELECT * FROM reviews WHERE request_id = ?", (request_id,))
    return Review.model_validate(rows[0]) if rows else None


def all_reviews(connection: Connection) -> list[Review]:
    return [Review.model_validate(row) for row in _rows(connection, "SELECT * FROM reviews ORDER BY rowid")]


def review_rows(connection: Connection) -> dict[str, Row]:
    return {row["request_id"]: row for row in _rows(connection, "SELECT * FROM reviews")}


# Trust grants


def grant_row(grant: TrustGrant) -> Row:
    return grant.model_dump(mode="json")


def insert_grant(connection: Connection, grant: TrustGrant) -> None:
    _insert(connection, "trust_grants", grant_row(grant))


def all_grants(connection: Connection) -> list[TrustGrant]:
    return [TrustGrant.model_validate(row) for row in grant_rows(connection)]


def grant_rows(connection: Connection) -> list[Row]:
    return [_without_seq(row) for row in _rows(connection, "SELECT * FROM trust_grants ORDER BY seq")]
