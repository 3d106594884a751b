"""`hitl audit verify`: the hash chain holds, and the workflow tables hold exactly what it records.

A store passes only when every audit record links to the one before and matches its hash, the head
names the last record, and replaying the records rebuilds the requests, verdicts, reviews and trust
grants row for row - so editing a table behind the trail's back is caught as surely as editing the trail.
A head published outside the store (`hitl audit head`) anchors it: `--expect-head SEQ:HASH` fails unless the
trail still holds that record with that hash.
"""

import re
import sqlite3
from pathlib import Path

from hitl_cli import audit
from hitl_cli.audit import AuditCheck
from hitl_cli.errors import AuditBroken, UsageError
from hitl_cli.store import audit_log, records
from hitl_cli.store.connection import Mode, open_store
from hitl_cli.workflow.events import Replayed, ReplayError, replay


def verify(connection: sqlite3.Connection, expect_head: str | None = None) -> AuditCheck:
    """expect_head: SEQ:HASH published earlier (`hitl audit head`), which the trail must extend."""
    check = audit.check_chain(connection)
    if check.ok and expect_head is not None:
        check = _extends(connection, check, expect_head)
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


def require_verified(connection: sqlite3.Connection, path: str, expect_head: str | None = None) -> None:
    check = verify(connection, expect_head)
    if not check.ok:
        raise AuditBroken(f"the audit trail of {path} does not verify: {check.problem}")


def verify_head(state: Path, expect_head: str) -> None:
    """The store at `state` exists and its verified trail extends expect_head; AuditBroken (exit 8) otherwise."""
    parse_head(expect_head)
    if not state.is_file():
        raise AuditBroken(f"no state store at {state}: there is no audit trail to extend head {expect_head}")
    with open_store(state, Mode.READ) as store, store.read() as connection:
        require_verified(connection, str(state), expect_head)


def parse_head(text: str) -> tuple[int, str]:
    """SEQ:HASH, as `hitl audit head` prints it."""
    seq, _, hash_ = text.strip().partition(":")
    if not seq.isdigit() or int(seq) < 1 or not re.fullmatch(r"[0-9a-f]{64}", hash_):
        raise UsageError(f"--expect-head {ascii(text)}: expected SEQ:HASH as `hitl audit head` prints it")
    return int(seq), hash_


def head_text(check: AuditCheck) -> str | None:
    return f"{check.head_seq}:{check.head_hash}" if check.ok and check.head_seq else None


def _extends(connection: sqlite3.Connection, check: AuditCheck, expect_head: str) -> AuditCheck:
    """A verified trail extends a head published earlier when its record SEQ still has that hash: every later
    record chains back to it. Erasing the tail and rewriting the head, or rewriting the whole chain, fails."""
    seq, hash_ = parse_head(expect_head)
    stored = audit_log.hash_of(connection, seq)
    if stored == hash_:
        return check
    problem = (
        f"the trail ends at record {check.records}, before the expected head {seq}: records were removed"
        if stored is None
        else f"record {seq} is not the expected head {hash_[:12]}: the trail was rewritten"
    )
    return check.model_copy(update={"ok": False, "first_bad_seq": seq, "problem": problem})


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
