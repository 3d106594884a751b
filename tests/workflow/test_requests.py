"""Submitting actions as requests, where they stand, resubmission, the queue, and `check` honouring the store."""

import json

from .support import TIER_SHAPES, manifest, tier_manifest

EXPECTED_STATUS = {
    "auto_approve": "approved",
    "post_hoc": "approved",
    "single_approval": "pending",
    "double_approval": "pending",
    "escalate": "escalated",
    "block": "blocked",
}


def test_submit_records_every_tier_as_a_request(ws):
    result = ws.hitl("submit", ws.write("plan.yaml", [tier_manifest(t) for t in TIER_SHAPES]),
                     "--profile", "default", "--track-record", ws.trusted_record)
    assert result.returncode == 3, result.stderr  # one is blocked
    for tier in TIER_SHAPES:
        assert f"m-{tier}" in result.stdout  # the request ids are printed
    requests = {r["manifest_id"]: r for r in ws.json("queue")}
    views = {tier: ws.status(f"m-{tier}") for tier in TIER_SHAPES}
    for tier, view in views.items():
        assert view["id"] == f"m-{tier}"
        assert view["status"] == EXPECTED_STATUS[tier], tier
        assert view["may_run"] == (EXPECTED_STATUS[tier] == "approved")
    assert views["post_hoc"]["decision"]["post_hoc_review"] is True
    assert views["double_approval"]["approvals_required"] == 2
    assert views["escalate"]["deciders"] == ["data-platform-lead", "security-oncall"]
    assert views["block"]["deciders"] == ["cto"]
    # The queue holds what waits for people: approvals, the escalation, the block and the post-hoc review.
    assert set(requests) == {"m-post_hoc", "m-single_approval", "m-double_approval", "m-escalate", "m-block"}


def test_status_exit_codes_follow_whether_the_action_may_run(ws):
    ws.submit([tier_manifest("auto_approve"), tier_manifest("single_approval"), tier_manifest("block")])
    assert ws.hitl("status", "m-auto_approve").returncode == 0
    assert ws.hitl("status", "m-single_approval").returncode == 1
    assert ws.hitl("status", "m-block").returncode == 3
    missing = ws.hitl("status", "no-such-request")
    assert missing.returncode == 7
    assert missing.stderr.strip() == f"hitl: no request 'no-such-request' in {ws.shown_state}"


def test_an_identical_resubmission_returns_the_live_request(ws):
    first = ws.submit([tier_manifest("single_approval")])["m-single_approval"]
    records = ws.audit_count()
    again = ws.json("submit", ws.write("again.yaml", [tier_manifest("single_approval")]), "--profile", "default",
                    "--track-record", ws.trusted_record, expect=1)
    assert again[0]["id"] == first["id"] == "m-single_approval"
    assert again[0]["submission"] == "existing"
    assert ws.audit_count() == records  # nothing new was recorded


def test_a_changed_manifest_supersedes_the_old_request_which_becomes_stale(ws):
    ws.submit([tier_manifest("single_approval")])
    assert ws.hitl("approve", "m-single_approval", "--by", "alice").returncode == 0
    changed = tier_manifest("single_approval", summary="the same id, a different action")
    result = ws.json("submit", ws.write("changed.yaml", [changed]), "--profile", "default",
                     "--track-record", ws.trusted_record, expect=1)
    assert result[0]["id"] == "m-single_approval~2"
    assert result[0]["submission"] == "new"
    assert result[0]["superseded"] == ["m-single_approval"]
    old = ws.status("m-single_approval")
    assert old["status"] == "stale" and old["may_run"] is False
    assert old["superseded_by"] == "m-single_approval~2"
    refused = ws.hitl("approve", "m-single_approval", "--by", "bob")
    assert refused.returncode == 6 and "stale" in refused.stderr
    assert ws.verify().returncode == 0


def test_queue_is_oldest_first_and_filters_by_delivery(ws):
    ws.submit([tier_manifest("double_approval", id="first")], name="a.yaml")
    ws.submit([tier_manifest("single_approval", id="second"), tier_manifest("escalate", id="third")], name="b.yaml")
    assert [r["id"] for r in ws.json("queue")] == ["first", "second", "third"]
    assert [r["id"] for r in ws.json("queue", "--delivery", "digest")] == ["second"]
    assert [r["id"] for r in ws.json("queue", "--delivery", "interrupt")] == ["first", "third"]
    text = ws.hitl("queue").stdout
    assert text.index("first") < text.index("second") < text.index("third")


def test_check_honours_a_request_that_holds_its_approvals(ws):
    plan = ws.write("check.yaml", [tier_manifest("double_approval"), tier_manifest("block")])
    check = ("check", plan, "--profile", "default", "--track-record", ws.trusted_record)
    assert ws.hitl(*check).returncode == 3  # no store yet: as without the workflow
    assert not ws.store_exists()  # check only reads the store, never creates it
    ws.submit([tier_manifest("double_approval"), tier_manifest("block")])
    assert ws.hitl(*check).returncode == 3
    ws.hitl("approve", "m-double_approval", "--by", "alice")
    assert ws.hitl(*check).returncode == 3  # one of two approvals
    ws.hitl("approve", "m-double_approval", "--by", "bob")
    blocked_only = ws.hitl(*check)
    assert blocked_only.returncode == 3
    assert "m-double_approval: MAY RUN (APPROVED IN THE STATE STORE BY ALICE, BOB: REQUEST M-DOUBLE_APPROVAL)" in blocked_only.stdout
    ws.hitl("override", "m-block", "--by", "cto", "--reason", "legal signed off the export")
    overridden = ws.hitl(*check)
    assert overridden.returncode == 0
    assert "m-block: MAY RUN (OVERRIDDEN IN THE STATE STORE BY CTO: REQUEST M-BLOCK)" in overridden.stdout
    as_json = {d["id"]: d for d in ws.json(*check)}
    assert as_json["m-block"]["may_run"] is True and as_json["m-block"]["tier"] == "block"
    assert as_json["m-block"]["cleared_by"] == {"request": "m-block", "status": "overridden", "people": ["cto"]}
    assert as_json["m-double_approval"]["cleared_by"] == {
        "request": "m-double_approval", "status": "approved", "people": ["alice", "bob"]}
    sarif = json.loads(ws.hitl(*check, "--format", "sarif").stdout)["runs"][0]["results"]
    suppressed = {r["message"]["text"].split(":")[0]: r["suppressions"] for r in sarif}
    assert suppressed["m-block"] == [{"kind": "external", "status": "accepted",
                                      "justification": "overridden in the state store by cto: request m-block"}]
    # A changed manifest under the same id is not what was approved.
    changed = ws.write("changed.yaml", [tier_manifest("double_approval", summary="something else")])
    assert ws.hitl("check", changed, "--profile", "default", "--track-record", ws.trusted_record).returncode == 1
    # Pointing check at another (missing) store behaves as if there were no workflow, and creates nothing.
    elsewhere = ws.root / "nowhere" / "state.db"
    assert ws.hitl(*check, "--state", elsewhere).returncode == 3
    assert not elsewhere.exists() and not elsewhere.parent.exists()


def test_submit_evaluate_and_check_judge_the_agent_by_the_same_track_record(ws):
    """Without --track-record all three use the record the store measured: submit approved what check refused."""
    ws.submit([manifest("doc-1", type="documentation", env="dev", agent="doc-agent")], trusted=False)
    ws.hitl("approve", "doc-1", "--by", "alice")
    second = [manifest("doc-2", type="documentation", env="dev", agent="doc-agent")]
    plan = ws.write("second.yaml", second)
    evaluated = ws.json("evaluate", plan, "--profile", "default")[0]
    checked = ws.json("check", plan, "--profile", "default", expect=1)[0]
    submitted = ws.submit(second, name="second.yaml", trusted=False)["doc-2"]["decision"]
    assert "granted suggestion; 1 of 1 approved" in evaluated["reasons"][0]["message"]
    assert evaluated["reasons"] == checked["reasons"] == submitted["reasons"]


def test_submit_without_a_track_record_uses_the_one_the_store_measured(ws):
    # A new agent is in suggestion mode: a documentation change needs one approval.
    first = ws.submit([manifest("doc-1", type="documentation", env="dev", agent="doc-agent")], trusted=False)
    assert first["doc-1"]["decision"]["tier"] == "single_approval"
    assert first["doc-1"]["decision"]["agent_level"] == "suggestion"
    ws.hitl("approve", "doc-1", "--by", "alice")
    record = ws.json("trust", "export")
    assert record == {"agents": {"doc-agent": {"level": "suggestion", "reviewed": 1, "approved": 1, "rejected": 0}}}
