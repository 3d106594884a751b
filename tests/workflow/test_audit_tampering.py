"""The audit trail is tamper-evident: changing, deleting, inserting or swapping any single record of a real
store is detected, and so is editing the workflow tables behind the trail's back.

The store is built by the real CLI (every kind of record: submissions, approvals, a rejection, an override,
a post-hoc review, a supersession, a trust grant), on SQLite and on PostgreSQL. Each tampering is done as
the most powerful attacker would: on SQLite with write access to the file and the append-only triggers
dropped, on PostgreSQL as the server's superuser with triggers off. Every single-record tampering of every
record is checked with the verification `hitl audit verify` runs (the same function, in-process, inside a
transaction rolled back after each case, so that hundreds of cases stay fast); the CLI itself is run on
each kind of tampering at the first, a middle and the last record of a tampered copy of the store, and
must exit 8 naming the record. On PostgreSQL the roles hitl runs as cannot change or delete a record at all.
"""

import hashlib
import json
import sqlite3
from collections.abc import Iterator
from contextlib import closing, contextmanager
from datetime import datetime, timedelta

import psycopg
import pytest

from hitl_cli.store.connection import Mode, open_store, state_path
from hitl_cli.workflow.integrity import verify

from .conftest import BACKENDS
from .support import Postgres, at, copy_profile, make_workspace, manifest, tier_manifest, unguard

pytestmark = pytest.mark.attack  # each test tries a way past the gate (make bench counts them)

COLUMNS = ("at", "kind", "subject", "actor", "payload", "prev_hash", "hash")


@pytest.fixture(scope="module", params=BACKENDS)
def built(request, tmp_path_factory):
    """A real store holding every kind of audit record."""
    postgres = request.getfixturevalue("postgres") if request.param == "postgresql" else None
    ws = make_workspace(tmp_path_factory.mktemp("audit"), postgres)
    ws.submit([tier_manifest(t) for t in ("auto_approve", "post_hoc", "single_approval", "double_approval",
                                           "escalate", "block")])
    steps = [
        ("approve", "m-double_approval", "--by", "alice"),
        ("approve", "m-double_approval", "--by", "bob"),
        ("approve", "m-single_approval", "--by", "carol"),
        ("reject", "m-escalate", "--by", "security-oncall", "--reason", "novel and unexplained"),
        ("override", "m-block", "--by", "cto", "--reason", "export cleared by legal"),
        ("review", "mark", "m-post_hoc", "--by", "dave", "--verdict", "ok"),
    ]
    for step in steps:
        assert ws.hitl(*step).returncode == 0
    ws.submit([tier_manifest("single_approval", summary="changed")], name="changed.yaml")
    lenient = copy_profile(ws, "default", "lenient", {"trust.minimums.low": {"min_reviewed": 1, "min_approval_rate": 0.5}})
    ws.submit([manifest("helper-1", agent="helper")], profile=str(lenient), trusted=False, name="helper.yaml")
    assert ws.hitl("approve", "helper-1", "--by", "erin").returncode == 0
    promoted = ws.hitl("trust", "promote", "helper", "--level", "low", "--by", "frank", "--profile", str(lenient))
    assert promoted.returncode == 0, promoted.stderr
    kinds = {record["kind"] for record in ws.audit_records()}
    assert kinds == {"submitted", "approval", "rejection", "override", "review", "superseded", "trust_grant"}
    assert ws.verify().returncode == 0
    yield ws
    ws.close()


def copy_of(ws, name: str):
    return ws.copy_store(name)


@contextmanager
def tampered_in_place(ws, *statements: tuple[str, tuple]) -> Iterator:
    """The store tampered with inside a transaction that is rolled back afterwards."""
    with closing(ws.connect()) as connection:
        connection.execute("BEGIN")
        try:
            unguard(ws, connection)
            for sql, parameters in statements:
                connection.execute(sql, parameters)
            yield connection
        finally:
            connection.execute("ROLLBACK")


def tamper(ws, state, *statements: tuple[str, tuple]) -> None:
    with closing(ws.connect(state)) as connection:
        connection.execute("BEGIN")
        unguard(ws, connection)
        for sql, parameters in statements:
            connection.execute(sql, parameters)
        connection.execute("COMMIT")


def rows(ws, state=None) -> list[dict]:
    with closing(ws.connect(state)) as connection:
        cursor = connection.execute(f"SELECT seq, {', '.join(COLUMNS)} FROM audit_log ORDER BY seq")
        return [dict(zip(["seq", *COLUMNS], values)) for values in cursor.fetchall()]


def forged_hash(row: dict) -> str:
    """The chain's hash, as an attacker who read the code would compute it."""
    content = {key: row[key] for key in ("seq", "at", "kind", "subject", "actor", "payload", "prev_hash")}
    return hashlib.sha256(json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()).hexdigest()


def verified(state):
    with open_store(state_path(str(state)), Mode.READ) as store, store.read() as connection:
        return verify(connection)


def changed_value(row: dict, column: str):
    if column == "payload":
        payload = json.loads(row["payload"])
        payload["forged"] = True
        return json.dumps(payload, sort_keys=True, separators=(",", ":"))
    if column in ("prev_hash", "hash"):
        return ("0" if row[column][0] != "0" else "1") + row[column][1:]
    if column == "at":
        return row["at"].replace("2026", "2025")
    return row[column] + "x"


def tamperings(records: list[dict]):
    """(name, statements, the record it breaks) for every single-record tampering of a store holding records."""
    last = len(records)
    for row in records:
        seq = row["seq"]
        for column in COLUMNS:
            yield f"change {column} of {seq}", [(f"UPDATE audit_log SET {column} = ? WHERE seq = ?",
                                                 (changed_value(row, column), seq))], seq
        # A careful attacker recomputes the changed record's own hash: the next link (or the head) breaks.
        forged = {**row, "actor": "mallory"}
        yield f"change and rehash {seq}", [("UPDATE audit_log SET actor = ?, hash = ? WHERE seq = ?",
                                            ("mallory", forged_hash(forged), seq))], seq
        yield f"delete {seq}", [("DELETE FROM audit_log WHERE seq = ?", (seq,))], seq
        if seq < last:
            other = records[seq]  # the next record
            swap = [(f"UPDATE audit_log SET {', '.join(f'{c} = ?' for c in COLUMNS)} WHERE seq = ?",
                     (*[b[c] for c in COLUMNS], a["seq"])) for a, b in ((row, other), (other, row))]
            yield f"swap {seq} and {seq + 1}", swap, seq
    for position in range(1, last + 2):
        previous = records[position - 2]["hash"] if position > 1 else "0" * 64
        forged = {"seq": position, "at": "2026-11-24T12:00:00Z", "kind": "approval", "subject": "m-block",
                  "actor": "mallory", "payload": "{}", "prev_hash": previous}
        shift = [("UPDATE audit_log SET seq = -seq - 1 WHERE seq >= ?", (position,)),
                 ("UPDATE audit_log SET seq = -seq WHERE seq < 0", ())]
        insert = ("INSERT INTO audit_log (seq, at, kind, subject, actor, payload, prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                  (*forged.values(), forged_hash(forged)))
        yield f"insert at {position}", [*shift, insert], position


def test_every_single_record_tampering_is_detected(built):
    cases = list(tamperings(rows(built)))
    records = len(rows(built))
    assert len(cases) >= records * 10  # every column of every record, deletions, swaps and insertions
    undetected = []
    for name, statements, breaks_at in cases:
        with tampered_in_place(built, *statements) as connection:
            check = verify(connection)
        if check.ok:
            undetected.append(name)
        elif check.first_bad_seq is None or check.first_bad_seq > breaks_at + 1:
            undetected.append(f"{name}: reported late, at {check.first_bad_seq}: {check.problem}")
    assert undetected == []


@pytest.mark.parametrize("kind", ["change", "delete", "insert", "swap"])
def test_audit_verify_names_the_first_bad_record(built, kind):
    records = rows(built)
    last = len(records)
    for seq in sorted({1, last // 2, last - 1 if kind == "swap" else last + (kind == "insert")}):
        path = copy_of(built, f"cli-{kind}-{seq}")
        row = records[seq - 1] if seq <= last else None
        if kind == "change":
            tamper(built, path, ("UPDATE audit_log SET payload = ? WHERE seq = ?", (changed_value(row, "payload"), seq)))
        elif kind == "delete":
            tamper(built, path, ("DELETE FROM audit_log WHERE seq = ?", (seq,)))
        elif kind == "swap":
            other = records[seq]
            tamper(built, path, *[(f"UPDATE audit_log SET {', '.join(f'{c} = ?' for c in COLUMNS)} WHERE seq = ?",
                                   (*[b[c] for c in COLUMNS], a["seq"])) for a, b in ((row, other), (other, row))])
        else:
            _, statements, _ = next(case for case in tamperings(records) if case[0] == f"insert at {seq}")
            tamper(built, path, *statements)
        result = built.hitl("audit", "verify", "--state", path)
        assert result.returncode == 8, (kind, seq, result.stdout, result.stderr)
        # A well-forged insertion is consistent in itself: the record after it is the first that breaks.
        named = {f"record {seq} ", f"record {seq + 1} "} if kind == "insert" else {f"record {seq} "}
        assert any(name in result.stderr for name in named), (kind, seq, result.stderr)
        assert "Traceback" not in result.stderr


def test_the_intact_store_verifies_and_exports(built):
    result = built.verify()
    assert result.returncode == 0
    assert "verifies" in result.stdout
    records = built.audit_records()
    assert [r["seq"] for r in records] == list(range(1, len(records) + 1))
    assert all(b["prev_hash"] == a["hash"] for a, b in zip(records, records[1:]))
    assert records[0]["prev_hash"] == "0" * 64
    approvals = [r for r in records if r["kind"] == "approval"]
    assert {r["actor"] for r in approvals} == {"alice", "bob", "carol", "erin"}


CHANGES = ("UPDATE audit_log SET actor = 'mallory' WHERE seq = 1", "DELETE FROM audit_log WHERE seq = 1",
           "DELETE FROM verdicts", "UPDATE reviews SET verdict = 'wrong'", "UPDATE trust_grants SET level = 'high'")


def test_records_are_append_only_in_the_store(built):
    """The triggers refuse every change and deletion, even to whoever may write the file or is superuser."""
    error = sqlite3.IntegrityError if built.backend == "sqlite" else psycopg.errors.RestrictViolation
    with closing(built.connect()) as connection:
        for sql in (*CHANGES, *(["TRUNCATE audit_log", "TRUNCATE verdicts"] if built.backend == "postgresql" else [])):
            with pytest.raises(error, match="append-only"):
                connection.execute(sql)
    assert built.verify().returncode == 0


@pytest.mark.parametrize("built", ["postgresql"], indirect=True)
@pytest.mark.parametrize("role", [Postgres.WRITER, Postgres.OWNER])
def test_the_roles_hitl_runs_as_cannot_change_or_delete_records(built, role):
    """On PostgreSQL, privileges too: neither the login role in hitl_writer nor the tables' owner (whose
    UPDATE, DELETE and TRUNCATE the migrations revoke) may touch a record or delete the head, before any
    trigger runs."""
    url = built.postgres.url(built.databases[0], role)
    with psycopg.connect(url, autocommit=True) as connection:
        for sql in (*CHANGES, "TRUNCATE audit_log", "DELETE FROM audit_head", "TRUNCATE trust_grants"):
            with pytest.raises(psycopg.errors.InsufficientPrivilege, match="permission denied"):
                connection.execute(sql)
        assert connection.execute("SELECT count(*) FROM audit_log").fetchone()[0] == len(rows(built))
    assert built.verify().returncode == 0


@pytest.mark.parametrize("built", ["postgresql"], indirect=True)
def test_the_writer_role_runs_the_workflow_on_tables_it_does_not_own(built):
    """The deployment docs/workflow.md describes: the owner migrates, the login role in hitl_writer works."""
    copy = copy_of(built, "writer")
    writer = {"HITL_STATE": built.postgres.url(psycopg.conninfo.conninfo_to_dict(copy)["dbname"], Postgres.WRITER)}
    built.submit([tier_manifest("single_approval", id="by-the-writer")], name="writer.yaml", env=writer)
    assert built.json("approve", "by-the-writer", "--by", "alice", env=writer)["status"] == "approved"
    assert built.hitl("audit", "verify", env=writer).returncode == 0
    with psycopg.connect(writer["HITL_STATE"], autocommit=True) as connection:
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            connection.execute("UPDATE audit_log SET actor = 'mallory'")


@pytest.mark.parametrize("edit", [
    "UPDATE requests SET status = 'approved' WHERE id = 'm-escalate'",
    "INSERT INTO verdicts (request_id, kind, person, person_key, reason, at) "
    "VALUES ('m-single_approval~2', 'approve', 'mallory', 'mallory', NULL, '2026-11-24T12:00:00Z')",
    "DELETE FROM verdicts WHERE person = 'bob'",
    "UPDATE reviews SET verdict = 'wrong'",
    "DELETE FROM trust_grants",
    "UPDATE requests SET decision = replace(decision, 'double_approval', 'single_approval') WHERE id = 'm-double_approval'",
])
def test_editing_the_tables_behind_the_trails_back_is_detected(built, edit):
    path = copy_of(built, f"tables-{abs(hash(edit))}")
    tamper(built, path, (edit, ()))
    result = built.hitl("audit", "verify", "--state", path)
    assert result.returncode == 8, result.stderr
    assert "differs from the audit trail" in result.stderr or "does not record" in result.stderr or "holds" in result.stderr


def test_check_refuses_a_store_that_does_not_verify(built):
    path = copy_of(built, "check")
    with closing(built.connect(path)) as connection:
        connection.execute("UPDATE requests SET status = 'approved' WHERE id = 'm-escalate'")
    plan = built.write("check.yaml", [tier_manifest("double_approval")])
    honest = built.hitl("check", plan, "--profile", "default", "--track-record", built.trusted_record)
    assert honest.returncode == 0  # approved by alice and bob in the real store
    result = built.hitl("check", plan, "--profile", "default", "--track-record", built.trusted_record, "--state", path)
    assert result.returncode == 8
    assert "does not verify" in result.stderr and "MAY RUN" not in result.stdout


def rechain(ws, path, seq: int, at: str) -> None:
    """Date record `seq` at `at` and recompute every hash from it on, and the head: a chain sound in itself."""
    records = rows(ws, path)
    statements = []
    previous = records[seq - 2]["hash"] if seq > 1 else "0" * 64
    for row in records[seq - 1:]:
        row = {**row, "at": at if row["seq"] == seq else row["at"], "prev_hash": previous}
        previous = forged_hash(row)
        statements.append(("UPDATE audit_log SET at = ?, prev_hash = ?, hash = ? WHERE seq = ?",
                           (row["at"], row["prev_hash"], previous, row["seq"])))
    statements.append(("UPDATE audit_head SET hash = ? WHERE id = 1", (previous,)))
    tamper(ws, path, *statements)


def test_a_record_dated_before_the_one_it_follows_is_caught_though_the_chain_is_sound(built):
    records = rows(built)
    seq = len(records) // 2
    faithful = copy_of(built, "rechained-as-is")
    rechain(built, faithful, seq, records[seq - 1]["at"])  # the forgery reproduces the real chain exactly
    assert rows(built, faithful) == records and verified(faithful).ok

    earlier = datetime.fromisoformat(records[seq - 2]["at"]) - timedelta(hours=1)
    path = copy_of(built, "out-of-order")
    rechain(built, path, seq, earlier.isoformat().replace("+00:00", "Z"))
    result = built.hitl("audit", "verify", "--state", path)
    assert result.returncode == 8, (result.stdout, result.stderr)
    assert f"record {seq} is dated" in result.stderr and f"before record {seq - 1}" in result.stderr
    plan = built.write("ordered.yaml", [tier_manifest("double_approval")])
    refused = built.hitl("check", plan, "--profile", "default", "--track-record", built.trusted_record, "--state", path)
    assert refused.returncode == 8 and "MAY RUN" not in refused.stdout


def test_a_clock_behind_the_trail_records_nothing(ws):
    ws.submit([tier_manifest("single_approval")], now=at(1))
    records = ws.audit_count()
    late = ws.hitl("approve", "m-single_approval", "--by", "alice", now=at(0))
    assert late.returncode == 5 and "behind the audit trail's last record" in late.stderr, late.stderr
    assert ws.audit_count() == records and ws.status("m-single_approval", now=at(2))["approvals"] == []
    assert ws.verify().returncode == 0
