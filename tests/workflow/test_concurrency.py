"""Eight processes approving, rejecting and submitting against one store at once: nothing lost or duplicated,
every request's state consistent with its verdicts, and the audit chain verifies.

The races are real: eight `hitl` processes start together on one SQLite file, several of them contending for
the same request (three people for two approvals, one person twice, an approval against a rejection).
"""

from contextlib import closing

from .support import tier_manifest


def run_together(ws, commands: list[tuple]) -> list:
    processes = [ws.popen(*command) for command in commands]
    results = []
    for process in processes:
        out, err = process.communicate(timeout=180)
        results.append((process.returncode, out, err))
    return results


def test_eight_processes_on_one_store(ws):
    for round_ in range(2):
        ids = {name: f"r{round_}-{name}" for name in ("double", "same-person", "contested", "single")}
        ws.submit([
            tier_manifest("double_approval", id=ids["double"]),
            tier_manifest("double_approval", id=ids["same-person"]),
            tier_manifest("single_approval", id=ids["contested"]),
            tier_manifest("single_approval", id=ids["single"]),
        ], name=f"setup-{round_}.yaml")
        new = [ws.write(f"new-{round_}-{n}.yaml", [tier_manifest("single_approval", id=f"r{round_}-new-{n}")]) for n in (1, 2)]
        before = ws.audit_count()
        commands = [
            ("approve", ids["double"], "--by", "alice"),
            ("approve", ids["double"], "--by", "bob"),
            ("approve", ids["double"], "--by", "carol"),
            ("approve", ids["same-person"], "--by", "dave"),
            ("approve", ids["same-person"], "--by", "dave"),
            ("reject", ids["contested"], "--by", "erin", "--reason", "too risky on a Friday"),
            ("approve", ids["contested"], "--by", "frank"),
            ("submit", *new, "--profile", "default", "--track-record", ws.trusted_record),
        ]
        results = run_together(ws, commands)
        for (code, _, err), command in zip(results, commands):
            assert code in (0, 1, 6), (command, code, err)  # done, or refused by a rule: never a store fault
            assert "Traceback" not in err and "locked" not in err

        codes = [code for code, _, _ in results]
        assert sorted(codes[0:3]) == [0, 0, 6]  # three people race for two approvals
        assert sorted(codes[3:5]) == [0, 6]  # one person, twice at once: exactly one approval
        assert codes[5] == 0  # a rejection is allowed whether or not the approval came first
        assert codes[7] == 1  # both new requests recorded, waiting

        double = ws.status(ids["double"])
        assert double["status"] == "approved" and len(double["approvals"]) == 2
        assert len({a["person"] for a in double["approvals"]}) == 2
        same = ws.status(ids["same-person"])
        assert same["status"] == "pending" and [a["person"] for a in same["approvals"]] == ["dave"]
        contested = ws.status(ids["contested"])
        # Whichever came first, a rejection of a single approval is final: approve-then-reject and
        # reject-then-refused-approve both end rejected.
        assert contested["status"] == "rejected"
        assert len(contested["approvals"]) == (1 if codes[6] == 0 else 0)
        for n in (1, 2):
            assert ws.status(f"r{round_}-new-{n}")["status"] == "pending"

        # Exactly one audit record per change that succeeded: 2 + 1 approvals, a rejection, maybe an
        # approval of the contested request, and two submissions.
        expected = 3 + 1 + (1 if codes[6] == 0 else 0) + 2
        assert ws.audit_count() - before == expected
        with closing(ws.database()) as connection:
            duplicates = connection.execute(
                "SELECT request_id, person_key, count(*) FROM verdicts WHERE kind = 'approve' "
                "GROUP BY request_id, person_key HAVING count(*) > 1"
            ).fetchall()
            assert duplicates == []
            seqs = [row[0] for row in connection.execute("SELECT seq FROM audit_log ORDER BY seq")]
            assert seqs == list(range(1, len(seqs) + 1))
        verified = ws.verify()
        assert verified.returncode == 0, verified.stderr


def test_concurrent_first_submissions_create_one_store(ws):
    """Eight processes that all find no store: it is created once, with every request in it."""
    plans = [ws.write(f"plan-{n}.yaml", [tier_manifest("single_approval", id=f"first-{n}")]) for n in range(8)]
    results = run_together(ws, [("submit", plan, "--profile", "default", "--track-record", ws.trusted_record) for plan in plans])
    assert [code for code, _, _ in results] == [1] * 8, [err for _, _, err in results]
    queue = ws.json("queue")
    assert sorted(r["id"] for r in queue) == [f"first-{n}" for n in range(8)]
    records = ws.audit_records()
    assert [r["kind"] for r in records] == ["submitted"] * 8
    assert ws.verify().returncode == 0
