"""Signed verdicts (docs/workflow.md, "People, keys and signed verdicts"): only a verdict signed by a listed person,
in a role that may give it, over exactly this request counts - in the store and in verdict files carried to CI.

Real `hitl` processes, real OPA, real SQLite; keys made by the real `ssh-keygen -t ed25519 -N ''`, and
signatures checked against the real `ssh-keygen -Y sign` / `-Y verify` in both directions.
"""

import json
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from hitl_cli import audit
from hitl_cli.canonical import canonical_json
from .support import keyed_person, make_workspace, tier_manifest

NAMESPACE = "hitl-verdict"


@pytest.fixture
def ws(tmp_path):
    return make_workspace(tmp_path)


def check(ws, plan: Path, *extra, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return ws.hitl("check", plan, "--profile", "default", "--track-record", ws.trusted_record, *extra, cwd=cwd)


def forge(ws, request_id: str, person: str, signature: str | None) -> None:
    """Append an approval, its audit record and the new head straight into SQLite, with a correct hash chain."""
    connection = ws.database()
    try:
        last = connection.execute("SELECT seq, at, hash FROM audit_log ORDER BY seq DESC LIMIT 1").fetchone()
        verdict = {"request_id": request_id, "kind": "approve", "person": person, "reason": None, "at": last[1],
                   "signature": signature}
        payload = canonical_json({"verdict": verdict, "status": "approved"})
        row = {"seq": last[0] + 1, "at": last[1], "kind": "approval", "subject": request_id, "actor": person,
               "payload": payload, "prev_hash": last[2]}
        row["hash"] = audit._hash(row)
        connection.execute("BEGIN")
        connection.execute("INSERT INTO verdicts (request_id, kind, person, person_key, reason, at, signature) "
                           "VALUES (?, 'approve', ?, ?, NULL, ?, ?)", (request_id, person, person, last[1], signature))
        connection.execute("UPDATE requests SET status = 'approved' WHERE id = ?", (request_id,))
        connection.execute("INSERT INTO audit_log VALUES (:seq, :at, :kind, :subject, :actor, :payload, :prev_hash, :hash)", row)
        connection.execute("UPDATE audit_head SET seq = ?, hash = ?", (row["seq"], row["hash"]))
        connection.execute("COMMIT")
    finally:
        connection.close()


@pytest.mark.attack
def test_a_forged_approval_with_a_correct_hash_chain_counts_for_nothing(ws):
    ws.submit([tier_manifest("single_approval")])
    forge(ws, "m-single_approval", "alice", None)
    assert ws.verify().returncode == 0  # the chain and the tables agree: the forgery is well made
    view = ws.status("m-single_approval")
    assert view["status"] == "pending" and view["may_run"] is False
    assert view["ignored"][0]["person"] == "alice" and "unsigned" in view["ignored"][0]["why"]
    assert check(ws, ws.root / "plan.yaml").returncode == 1


@pytest.mark.attack
def test_a_signature_replayed_from_another_request_counts_for_nothing(ws):
    ws.submit([tier_manifest("single_approval"), tier_manifest("double_approval")])
    assert ws.hitl("approve", "m-single_approval", "--by", "alice").returncode == 0
    signature = ws.status("m-single_approval")["approvals"][0]
    stolen = ws.database().execute("SELECT signature FROM verdicts WHERE request_id = 'm-single_approval'").fetchone()[0]
    assert signature["signed_with"] and stolen
    forge(ws, "m-double_approval", "alice", stolen)
    forge(ws, "m-double_approval", "bob", stolen)
    assert ws.verify().returncode == 0
    view = ws.status("m-double_approval")
    assert view["approvals"] == [] and len(view["ignored"]) == 2
    assert "does not verify for this request" in view["ignored"][0]["why"]
    result = check(ws, ws.root / "plan.yaml")
    assert result.returncode == 1 and "m-double_approval: NEEDS APPROVAL" in result.stdout


def test_unsigned_and_wrongly_signed_verdicts_are_refused(ws):
    ws.submit([tier_manifest("single_approval"), tier_manifest("block")])
    unsigned = ws.hitl("approve", "m-single_approval", "--by", "alice", "--key", "-")
    assert unsigned.returncode == 6 and "only signed verdicts" in unsigned.stderr
    someone_elses = ws.hitl("approve", "m-single_approval", "--by", "alice", "--key", keyed_person("bob")[0])
    assert someone_elses.returncode == 6 and "a key the profile does not list for alice" in someone_elses.stderr
    stranger_key, _ = keyed_person("mallory")
    stranger = ws.hitl("approve", "m-single_approval", "--by", "mallory", "--key", stranger_key)
    assert stranger.returncode == 6 and "mallory is not one" in stranger.stderr
    no_role = ws.hitl("override", "m-block", "--by", "alice", "--reason", "x")
    assert no_role.returncode == 6 and "override holders" in no_role.stderr
    assert ws.status("m-single_approval")["approvals"] == []


def test_a_trial_profile_may_count_unsigned_verdicts_and_every_output_says_so(ws):
    ws.submit([tier_manifest("single_approval")], profile="startup")
    assert ws.hitl("approve", "m-single_approval", "--by", "cto", "--key", "-").returncode == 0
    view = ws.status("m-single_approval")
    assert view["status"] == "approved" and view["approvals"][0]["signed_with"] is None
    assert "cto at" in ws.hitl("status", "m-single_approval").stdout
    assert "UNSIGNED" in ws.hitl("status", "m-single_approval").stdout
    assert "**unsigned**" in ws.hitl("notify", "m-single_approval").stdout


@pytest.mark.attack
def test_an_unsigned_verdict_file_never_counts_even_where_unsigned_verdicts_do(ws):
    """Under a trial profile an unsigned verdict in the store counts (only the store's writers could put it
    there); a verdict file anyone can write to a pull request, so an unsigned one counts nowhere."""
    ws.submit([tier_manifest("single_approval", env="production")], profile="startup")
    carried = ws.root / "approvals"
    assert ws.hitl("approve", "m-single_approval", "--by", "cto", "--attest", carried).returncode == 0

    def check_with_the_files() -> subprocess.CompletedProcess:
        return ws.hitl("check", ws.root / "plan.yaml", "--profile", "startup", "--track-record", ws.trusted_record,
                       "--approvals", carried, "--state", ws.root / "no-store.db")

    assert check_with_the_files().returncode == 0  # cto's signed file clears it
    signed = next(carried.glob("*.verdict.json"))
    unsigned = {**json.loads(signed.read_text()), "signature": ""}
    signed.unlink()
    (carried / "unsigned.verdict.json").write_text(json.dumps(unsigned))
    result = check_with_the_files()
    assert result.returncode == 1, result.stdout + result.stderr
    assert "unsigned.verdict.json: signature: not a verdict file" in result.stderr


def test_status_queue_notify_and_audit_export_name_the_signing_key(ws):
    ws.submit([tier_manifest("double_approval")])
    assert ws.hitl("approve", "m-double_approval", "--by", "alice").returncode == 0
    fingerprint = subprocess.run(["ssh-keygen", "-lf", f"{keyed_person('alice')[0]}.pub"], capture_output=True,
                                 text=True, check=True).stdout.split()[1]
    assert ws.status("m-double_approval")["approvals"][0]["signed_with"] == fingerprint
    assert f"alice signed with {fingerprint}" in ws.hitl("queue").stdout
    assert fingerprint in ws.hitl("notify", "m-double_approval").stdout
    assert fingerprint in ws.hitl("status", "m-double_approval").stdout
    approval = [r for r in ws.audit_records() if r["kind"] == "approval"][0]
    assert approval["signed_with"] == fingerprint
    assert approval["payload"]["verdict"]["signature"].startswith("-----BEGIN SSH SIGNATURE-----")


def test_check_passes_from_verdict_files_alone_with_no_store(ws, tmp_path_factory):
    ws.submit([tier_manifest("double_approval"), tier_manifest("single_approval")])
    carried = ws.root / "approvals"
    assert ws.hitl("approve", "m-double_approval", "--by", "alice", "--attest", carried).returncode == 0
    assert ws.hitl("approve", "m-double_approval", "--by", "bob").returncode == 0
    exported = ws.hitl("approvals", "export", "m-double_approval", "-o", carried)
    assert exported.returncode == 0 and len(exported.stdout.splitlines()) == 2
    assert len(list(carried.glob("*.verdict.json"))) == 2  # alice's file written twice is the same file

    clone = tmp_path_factory.mktemp("clone")  # a fresh checkout: the plan and the files, no store anywhere
    shutil.copy(ws.root / "plan.yaml", clone / "plan.yaml")
    shutil.copytree(carried, clone / "approvals")
    only_double = clone / "double.yaml"
    only_double.write_text(yaml.safe_dump(tier_manifest("double_approval")))
    passed = check(ws, only_double, "--approvals", clone / "approvals", "--state", clone / "no-store.db", cwd=clone)
    assert passed.returncode == 0, passed.stdout + passed.stderr
    assert "verdict files" in passed.stdout.lower() and not (clone / "no-store.db").exists()

    mixed = check(ws, clone / "plan.yaml", "--approvals", clone / "approvals", "--state", clone / "none.db", cwd=clone)
    assert mixed.returncode == 1  # the single approval has no verdict of its own


@pytest.mark.attack
def test_verdict_files_for_another_manifest_revision_person_or_key_are_reported_and_ignored(ws):
    ws.submit([tier_manifest("single_approval")])
    carried = ws.root / "approvals"
    assert ws.hitl("approve", "m-single_approval", "--by", "alice", "--attest", carried).returncode == 0
    good = next(carried.glob("*.verdict.json"))
    original = json.loads(good.read_text())
    good.unlink()
    plan = ws.write("changed.yaml", [tier_manifest("single_approval", summary="something else entirely")])

    def planted(name: str, change) -> None:
        data = json.loads(json.dumps(original))
        change(data)
        (carried / f"{name}.verdict.json").write_text(json.dumps(data))

    planted("revision", lambda d: d["statement"].update(policy_revision="0" * 64))
    planted("person", lambda d: d["statement"].update(person="bob"))
    planted("tier", lambda d: d["statement"].update(tier="auto_approve"))
    (carried / "garbage.verdict.json").write_text("{not json")
    result = check(ws, plan, "--approvals", carried)
    assert result.returncode == 1
    lines = [line for line in result.stderr.splitlines() if "ignored" in line or "not a verdict file" in line]
    assert len(lines) == 4, result.stderr
    assert all("another manifest" in line for line in lines if "garbage" not in line)

    same_manifest = ws.root / "plan.yaml"
    result = check(ws, same_manifest, "--approvals", carried, "--state", ws.root / "no-store.db")  # not the store
    assert result.returncode == 1
    assert "another policy revision" in result.stderr
    assert "does not count: its signature does not verify" in result.stderr  # bob's name on alice's signature
    assert "was signed for auto_approve" in result.stderr


def test_the_same_person_under_two_spellings_or_two_keys_counts_once(ws):
    people = ws.profiles / "people" / "default.yaml"
    data = yaml.safe_load(people.read_text())
    alice = next(p for p in data["people"] if p["name"] == "alice")
    alice["keys"].append(keyed_person("alice", "-laptop")[1])
    people.write_text(yaml.safe_dump(data, sort_keys=False))
    ws.submit([tier_manifest("double_approval")])
    carried = ws.root / "approvals"
    assert ws.hitl("approve", "m-double_approval", "--by", "alice", "--attest", carried).returncode == 0
    # the same person again, under another spelling and her second key, straight into a verdict file
    statement = json.loads(next(carried.glob("*.verdict.json")).read_text())["statement"]
    statement.update(person="ALICE")
    message = ws.root / "statement.json"
    message.write_text(canonical_json(statement))
    key, _ = keyed_person("alice", "-laptop")
    subprocess.run(["ssh-keygen", "-Y", "sign", "-f", str(key), "-n", NAMESPACE, str(message)], check=True,
                   capture_output=True)
    second = {"apiVersion": "hitl/v1", "kind": "SignedVerdict", "statement": statement,
              "signature": Path(f"{message}.sig").read_text()}
    (carried / "second.verdict.json").write_text(json.dumps(second))
    result = check(ws, ws.root / "plan.yaml", "--approvals", carried)
    assert result.returncode == 1, result.stdout + result.stderr  # one person, however spelled or keyed
    assert "ignored" not in result.stderr  # both files count as alice's: she is one approval, not two
    assert ws.hitl("approve", "m-double_approval", "--by", "ＡＬＩＣＥ").returncode == 6


def test_signatures_interoperate_with_ssh_keygen_in_both_directions(ws):
    ws.submit([tier_manifest("single_approval")])
    carried = ws.root / "approvals"
    assert ws.hitl("approve", "m-single_approval", "--by", "alice", "--attest", carried).returncode == 0
    file = json.loads(next(carried.glob("*.verdict.json")).read_text())
    message = ws.root / "message"
    message.write_text(canonical_json(file["statement"]))
    (ws.root / "message.sig").write_text(file["signature"])
    (ws.root / "allowed_signers").write_text(f"alice {keyed_person('alice')[1]}\n")
    verified = subprocess.run(
        ["ssh-keygen", "-Y", "verify", "-f", str(ws.root / "allowed_signers"), "-I", "alice", "-n", NAMESPACE,
         "-s", str(ws.root / "message.sig")], stdin=message.open("rb"), capture_output=True, text=True)
    assert verified.returncode == 0 and "Good" in verified.stdout + verified.stderr

    (ws.root / "message.sig").unlink()
    subprocess.run(["ssh-keygen", "-Y", "sign", "-f", str(keyed_person("alice")[0]), "-n", NAMESPACE, str(message)],
                   check=True, capture_output=True)
    signed_by_openssh = {**file, "signature": (ws.root / "message.sig").read_text()}
    shutil.rmtree(carried)
    carried.mkdir()
    (carried / "openssh.verdict.json").write_text(json.dumps(signed_by_openssh))
    result = check(ws, ws.root / "plan.yaml", "--approvals", carried, "--state", ws.root / "elsewhere.db")
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.attack
def test_erasing_the_tail_and_rewriting_the_head_is_caught_by_the_published_head(ws):
    ws.submit([tier_manifest("single_approval")])
    assert ws.hitl("approve", "m-single_approval", "--by", "alice").returncode == 0
    head = ws.hitl("audit", "head").stdout.strip()
    assert head.startswith("2:") and ws.hitl("audit", "verify", "--expect-head", head).returncode == 0
    connection = ws.database()
    try:  # the store's own triggers stop a delete; an attacker with the file drops them first
        connection.execute("DROP TRIGGER audit_log_no_delete")
        connection.execute("DROP TRIGGER verdicts_no_delete")
        connection.execute("DELETE FROM audit_log WHERE seq = 2")
        connection.execute("DELETE FROM verdicts")
        connection.execute("UPDATE requests SET status = 'pending'")
        first = connection.execute("SELECT hash FROM audit_log WHERE seq = 1").fetchone()[0]
        connection.execute("UPDATE audit_head SET seq = 1, hash = ?", (first,))
    finally:
        connection.close()
    assert ws.verify().returncode == 0  # without the anchor, a shorter trail is a sound one
    caught = ws.hitl("audit", "verify", "--expect-head", head)
    assert caught.returncode == 8 and "before the expected head 2" in caught.stderr
    gated = check(ws, ws.root / "plan.yaml", "--expect-head", head)
    assert gated.returncode == 8
    assert ws.hitl("audit", "verify", "--expect-head", "2:nothex").returncode == 2


def test_profile_validate_checks_keys_roles_and_the_people_file(ws):
    people = ws.profiles / "people" / "default.yaml"
    data = yaml.safe_load(people.read_text())
    data["people"][0]["keys"] = ["ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQC7 rsa-is-not-accepted"]
    data["people"][1]["roles"] = ["approver", "benevolent_dictator"]
    data["people"][2]["keys"] = [data["people"][3]["keys"][0]]  # one key, two people
    people.write_text(yaml.safe_dump(data, sort_keys=False))
    result = ws.hitl("profile", "validate", "default")
    assert result.returncode == 4
    assert f"{people}: people[0].keys[0]: expected an OpenSSH ed25519 public key" in result.stderr
    assert f"{people}: people[1].roles[1]: " in result.stderr
    data = yaml.safe_load(people.read_text())
    data["people"][0]["keys"] = data["people"][4]["keys"]
    data["people"][1]["roles"] = ["approver"]
    people.write_text(yaml.safe_dump(data, sort_keys=False))
    shared = ws.hitl("profile", "validate", "default")
    assert shared.returncode == 4 and "approvals.people[4].keys[0]: is also the key of 'alice'" in shared.stderr, shared.stderr
    people.unlink()
    missing = ws.hitl("profile", "validate", "default")
    assert missing.returncode == 4 and "approvals.people: people file" in missing.stderr


def test_a_signed_rejection_among_the_verdict_files_is_final(ws, tmp_path_factory):
    other = make_workspace(tmp_path_factory.mktemp("other"))  # another reviewer's store, same policies
    carried = ws.root / "approvals"
    for workspace, verdict in ((ws, ("approve", "--by", "alice")), (other, ("reject", "--by", "bob", "--reason", "no"))):
        workspace.submit([tier_manifest("single_approval")])
        assert workspace.hitl(verdict[0], "m-single_approval", *verdict[1:], "--attest", carried).returncode == 0
    result = check(ws, ws.root / "plan.yaml", "--approvals", carried, "--state", ws.root / "no-store.db")
    assert result.returncode == 1 and "NEEDS APPROVAL" in result.stdout, result.stdout + result.stderr
    (next(p for p in carried.glob("*.verdict.json") if '"reject"' in p.read_text())).unlink()
    assert check(ws, ws.root / "plan.yaml", "--approvals", carried, "--state", ws.root / "no-store.db").returncode == 0
