"""Who may approve, reject, override and review what: every refusal exits 6 and records nothing."""

import shutil

import pytest

from .support import TRUSTED, copy_profile, tier_manifest


@pytest.fixture
def requests(ws):
    """One request per tier, submitted in a single run."""
    return ws.submit([tier_manifest(t) for t in ("auto_approve", "post_hoc", "single_approval", "double_approval",
                                                  "escalate", "block")])


def refused(ws, *args, needle: str) -> None:
    """The command is refused with exit 6 and a one-line reason, and nothing reaches the audit trail."""
    before = ws.audit_count()
    result = ws.hitl(*args)
    assert result.returncode == 6, (result.returncode, result.stdout, result.stderr)
    assert result.stderr.startswith("hitl: ") and len(result.stderr.strip().splitlines()) == 1
    assert needle in result.stderr, result.stderr
    assert ws.audit_count() == before


def test_double_approval_needs_two_different_people(ws, requests):
    assert ws.hitl("approve", "m-double_approval", "--by", "alice").returncode == 0
    refused(ws, "approve", "m-double_approval", "--by", "alice", needle="no person approves a request twice")
    refused(ws, "approve", "m-double_approval", "--by", "ALICE", needle="already approved")
    assert ws.status("m-double_approval")["status"] == "pending"
    approved = ws.json("approve", "m-double_approval", "--by", "bob", "--reason", "checked the plan")
    assert approved["status"] == "approved" and approved["may_run"] is True
    assert [a["person"] for a in approved["approvals"]] == ["alice", "bob"]
    refused(ws, "approve", "m-double_approval", "--by", "carol", needle="needs no more approvals")


def test_the_agent_that_asked_never_approves(ws, requests):
    refused(ws, "approve", "m-single_approval", "--by", TRUSTED, needle="an agent never decides its own request")
    refused(ws, "approve", "m-single_approval", "--by", TRUSTED.upper(), needle="the agent that asked")
    assert ws.status("m-single_approval")["approvals"] == []


def test_escalations_are_decided_by_the_escalation_reviewers(ws, requests):
    refused(ws, "approve", "m-escalate", "--by", "alice", needle="only the profile's escalation reviewers")
    refused(ws, "reject", "m-escalate", "--by", "alice", "--reason", "no", needle="escalation reviewers")
    view = ws.json("approve", "m-escalate", "--by", "security-oncall")
    assert view["status"] == "approved" and view["may_run"] is True


def test_only_override_holders_override_and_only_with_a_reason(ws, requests):
    refused(ws, "approve", "m-block", "--by", "alice", needle="only overridden by an override holder")
    refused(ws, "override", "m-block", "--by", "alice", "--reason", "please", needle="only the profile's override holders")
    refused(ws, "override", "m-block", "--by", "cto", "--reason", "   ", needle="needs a reason")
    view = ws.json("override", "m-block", "--by", "cto", "--reason", "legal approved this export")
    assert view["status"] == "overridden" and view["may_run"] is True
    assert view["override"]["person"] == "cto"
    # An override also lifts a pending request; it never applies to one that is already approved.
    assert ws.json("override", "m-double_approval", "--by", "cto", "--reason", "incident")["status"] == "overridden"
    refused(ws, "override", "m-auto_approve", "--by", "cto", "--reason", "x", needle="is approved")


def test_a_rejection_needs_a_reason(ws, requests):
    missing = ws.hitl("reject", "m-single_approval", "--by", "alice")
    assert missing.returncode == 2  # --reason is a required option
    refused(ws, "reject", "m-single_approval", "--by", "alice", "--reason", "", needle="a rejection needs a reason")
    refused(ws, "reject", "m-single_approval", "--by", "alice", "--reason", " \t ", needle="a rejection needs a reason")
    assert ws.status("m-single_approval")["status"] == "pending"


def test_a_rejection_is_final(ws, requests):
    rejected = ws.json("reject", "m-double_approval", "--by", "alice", "--reason", "drops a column still in use")
    assert rejected["status"] == "rejected"
    assert rejected["rejection"] == {**rejected["rejection"], "person": "alice", "reason": "drops a column still in use"}
    refused(ws, "approve", "m-double_approval", "--by", "bob", needle="a rejection is final")
    refused(ws, "reject", "m-double_approval", "--by", "bob", "--reason", "again", needle="a rejection is final")
    refused(ws, "override", "m-double_approval", "--by", "cto", "--reason", "ship it", needle="a rejection is final")
    # Submitting the same manifest again returns the rejected request: it cannot be asked again unchanged.
    again = ws.submit([tier_manifest("double_approval")], name="again.yaml", expect=3)
    assert again["m-double_approval"]["id"] == "m-double_approval"
    assert again["m-double_approval"]["status"] == "rejected"
    assert ws.hitl("status", "m-double_approval").returncode == 3


def test_post_hoc_reviews_of_auto_approved_actions(ws, requests):
    assert [r["id"] for r in ws.json("review")] == ["m-post_hoc"]
    refused(ws, "reject", "m-post_hoc", "--by", "alice", "--reason", "x", needle="hitl review mark")
    refused(ws, "review", "mark", "m-single_approval", "--by", "alice", "--verdict", "ok", needle="was not auto-approved")
    refused(ws, "review", "mark", "m-post_hoc", "--by", "alice", "--verdict", "wrong", needle="needs a reason")
    refused(ws, "review", "mark", "m-post_hoc", "--by", TRUSTED, "--verdict", "ok", needle="the agent that asked")
    view = ws.json("review", "mark", "m-post_hoc", "--by", "alice", "--verdict", "wrong", "--reason", "wrong table")
    assert view["review"]["verdict"] == "wrong" and view["awaiting_review"] is False
    refused(ws, "review", "mark", "m-post_hoc", "--by", "bob", "--verdict", "ok", needle="already reviewed by alice")
    assert ws.json("review") == []


def test_names_are_validated_and_unknown_requests_reported(ws, requests):
    bad = ws.hitl("approve", "m-single_approval", "--by", " alice")
    assert bad.returncode == 2 and "--by" in bad.stderr
    missing = ws.hitl("approve", "nope", "--by", "alice")
    assert missing.returncode == 7 and "no request 'nope'" in missing.stderr


def test_a_block_with_an_unoverridable_reason_is_not_overridden(ws):
    """pii_exposure is in every shipped profile's override_policy.unoverridable: no override holder lifts it."""
    exposing = tier_manifest("block", id="m-export", type="read", pii=True, exposes_pii=True)
    assert ws.submit([exposing])["m-export"]["status"] == "blocked"
    refused(ws, "override", "m-export", "--by", "cto", "--reason", "legal approved this export",
            needle="override_policy.unoverridable")
    assert ws.status("m-export")["status"] == "blocked"


def test_the_unoverridable_list_is_profile_data(ws):
    """Adding a code to the list refuses overrides of blocks with that reason, with no code change."""
    strict = copy_profile(ws, "default", "strict", {"override_policy.unoverridable": ["pii_exposure", "over_budget"]})
    shutil.copy(strict, ws.profiles / "strict.yaml")
    costly = {"type": "write", "env": "staging", "cost": 1_000_000}
    ws.submit([tier_manifest("block", id="m-default", **costly)])
    ws.submit([tier_manifest("block", id="m-strict", **costly)], profile="strict")
    assert ws.json("override", "m-default", "--by", "cto", "--reason", "one-off")["status"] == "overridden"
    refused(ws, "override", "m-strict", "--by", "cto", "--reason", "one-off", needle="over_budget")
