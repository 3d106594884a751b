"""`hitl audit verify`: the hash chain holds, and the workflow tables hold exactly what it records.

A store passes only when every audit record links to the one before and matches its hash, the head
names the last record, and replaying the records rebuilds the requests, verdicts, reviews and trust
grants row for row - so editing a table behind the trail's back is caught as surely as editing the trail.
"""

import sqlite3

from hitl_cli import audit
from hitl_cli.audit import AuditCheck
from hitl_cli.errors import AuditBroken
from hitl_cli.store import records
from hitl_cli.workflow.events import Replayed, ReplayError, replay


def verify(connection: sqlite3.Connection) -> AuditCheck:
    check = audit.check_chain(connection)
    if not check.ok:
        return check
    try:
        expected = replay(audit.export(connection))
    except ReplayError as error:
        return check.model_copy(update={"ok": False, "first_bad_seq": error.seq, "problem": str(error)})
    problem = _table_mismatch(connection, expected)
    if problem:
        return check.model_copy(update={"ok": False, "problem": problem})
    return check


def require_verified(connection: sqlite3.Connection, path: str) -> None:
    check = verify(connection)
    if not check.ok:
        raise AuditBroken(f"the audit trail of {path} does not verify: {check.problem}")


def _table_mismatch(connection: sqlite3.Connection, expected: Replayed) -> str | None:
    requests = {key: records.request_row(request) for key, request in expected.requests.items()}
    verdicts = [records.verdict_row(verdict) for verdict in expected.verdicts]
    reviews = {key: records.review_row(review) for key, review in expected.reviews.items()}
    grants = [records.grant_row(grant) for grant in expected.grants]
    return (
        _keyed("requests", "request", requests, records.request_rows(connection))
        or _listed("verdicts", "verdict", verdicts, records.verdict_rows(connection))
        or _keyed("reviews", "review of request", reviews, records.review_rows(connection))
        or _listed("trust_grants", "trust grant", grants, records.grant_rows(connection))
    )


def _keyed(table: str, noun: str, expected: dict, actual: dict) -> str | None:
    for key in sorted(expected.keys() | actual.keys()):
        if key not in actual:
            return f"the {table} table has lost {noun} {key}, which the audit trail records"
        if key not in expected:
            return f"the {table} table holds {noun} {key}, which the audit trail does not record"
        if expected[key] != actual[key]:
            fields = ", ".join(sorted(f for f in expected[key] if expected[key][f] != actual[key].get(f)))
            return f"{noun} {key} in the {table} table differs from the audit trail ({fields})"
    return None


def _listed(table: str, noun: str, expected: list, actual: list) -> str | None:
    for index, (want, have) in enumerate(zip(expected, actual), start=1):
        if want != have:
            return f"{noun} #{index} in the {table} table differs from the audit trail"
    if len(expected) != len(actual):
        return f"the {table} table holds {len(actual)} rows; the audit trail records {len(expected)}"
    return None
