"""Who may approve, reject, override and review what: every refusal names the rule and records nothing.

The rules run in process (the subprocess adds nothing to them); test_a_refusal_through_the_cli_exits_6 and
test_names_are_validated_and_unknown_requests_reported check what the CLI adds: exit codes and one-line errors.
"""

import shutil

import pytest

from hitl_cli.models.workflow import VerdictAction

from .support import TRUSTED, copy_profile, refused, tier_manifest

APPROVE, REJECT, OVERRIDE = VerdictAction.APPROVE, VerdictAction.REJECT, VerdictAction.OVERRIDE


@pytest.fixture
def requests(ws):
    """One request per tier, submitted in a single run."""
    return ws.submit([tier_manifest(t) for t in ("auto_approve", "post_hoc", "single_approval", "double_approval",
                                                  "escalate", "block")])


def test_double_approval_needs_two_different_people(ws, requests):
    ws.verdict(APPROVE, "m-double_approval", "alice")
    ws.refuses(ws.verdict, APPROVE, "m-double_approval", "alice", needle="no person approves a request twice")
    ws.refuses(ws.verdict, APPROVE, "m-double_approval", "ALICE", needle="already approved")
    assert ws.view("m-double_approval")["status"] == "pending"
    approved = ws.verdict(APPROVE, "m-double_approval", "bob", "checked the plan")
    assert approved["status"] == "approved" and approved["may_run"] is True
    assert [a["person"] for a in approved["approvals"]] == ["alice", "bob"]
    ws.refuses(ws.verdict, APPROVE, "m-double_approval", "carol", needle="needs no more approvals")


def test_the_agent_that_asked_never_approves(ws, requests):
    ws.refuses(ws.verdict, APPROVE, "m-single_approval", TRUSTED, needle="an agent never decides its own request")
    ws.refuses(ws.verdict, APPROVE, "m-single_approval", TRUSTED.upper(), needle="the agent that asked")
    assert ws.view("m-single_approval")["approvals"] == []


def test_escalations_are_decided_by_the_escalation_reviewers(ws, requests):
    ws.refuses(ws.verdict, APPROVE, "m-escalate", "alice", needle="only the profile's escalation reviewers")
    ws.refuses(ws.verdict, REJECT, "m-escalate", "alice", "no", needle="escalation reviewers")
    view = ws.verdict(APPROVE, "m-escalate", "security-oncall")
    assert view["status"] == "approved" and view["may_run"] is True


def test_only_override_holders_override_and_only_with_a_reason(ws, requests):
    ws.refuses(ws.verdict, APPROVE, "m-block", "alice", needle="only overridden by an override holder")
    ws.refuses(ws.verdict, OVERRIDE, "m-block", "alice", "please", needle="only the profile's override holders")
    ws.refuses(ws.verdict, OVERRIDE, "m-block", "cto", "   ", needle="needs a reason")
    view = ws.verdict(OVERRIDE, "m-block", "cto", "legal approved this export")
    assert view["status"] == "overridden" and view["may_run"] is True
    assert view["override"]["person"] == "cto"
    # An override also lifts a pending request; it never applies to one that is already approved.
    assert ws.verdict(OVERRIDE, "m-double_approval", "cto", "incident")["status"] == "overridden"
    ws.refuses(ws.verdict, OVERRIDE, "m-auto_approve", "cto", "x", needle="is approved")


def test_a_rejection_needs_a_reason(ws, requests):
    missing = ws.hitl("reject", "m-single_approval", "--by", "alice")
    assert missing.returncode == 2  # --reason is a required option
    ws.refuses(ws.verdict, REJECT, "m-single_approval", "alice", "", needle="a rejection needs a reason")
    ws.refuses(ws.verdict, REJECT, "m-single_approval", "alice", " \t ", needle="a rejection needs a reason")
    assert ws.view("m-single_approval")["status"] == "pending"


def test_a_rejection_is_final(ws, requests):
    rejected = ws.verdict(REJECT, "m-double_approval", "alice", "drops a column still in use")
    assert rejected["status"] == "rejected"
    assert rejected["rejection"] == {**rejected["rejection"], "person": "alice", "reason": "drops a column still in use"}
    ws.refuses(ws.verdict, APPROVE, "m-double_approval", "bob", needle="a rejection is final")
    ws.refuses(ws.verdict, REJECT, "m-double_approval", "bob", "again", needle="a rejection is final")
    ws.refuses(ws.verdict, OVERRIDE, "m-double_approval", "cto", "ship it", needle="a rejection is final")
    # Submitting the same manifest again returns the rejected request: it cannot be asked again unchanged.
    again = ws.submit([tier_manifest("double_approval")], name="again.yaml", expect=3)
    assert again["m-double_approval"]["id"] == "m-double_approval"
    assert again["m-double_approval"]["status"] == "rejected"
    assert ws.hitl("status", "m-double_approval").returncode == 3


def test_post_hoc_reviews_of_auto_approved_actions(ws, requests):
    assert [r["id"] for r in ws.review_queue()] == ["m-post_hoc"]
    ws.refuses(ws.verdict, REJECT, "m-post_hoc", "alice", "x", needle="hitl review mark")
    ws.refuses(ws.review, "m-single_approval", "alice", "ok", needle="was not auto-approved")
    ws.refuses(ws.review, "m-post_hoc", "alice", "wrong", None, needle="needs a reason")
    ws.refuses(ws.review, "m-post_hoc", TRUSTED, "ok", needle="the agent that asked")
    view = ws.review("m-post_hoc", "alice", "wrong", "wrong table")
    assert view["review"]["verdict"] == "wrong" and view["awaiting_review"] is False
    ws.refuses(ws.review, "m-post_hoc", "bob", "ok", needle="already reviewed by alice")
    assert ws.review_queue() == []


def test_a_refusal_through_the_cli_exits_6(ws, requests):
    refused(ws, "approve", "m-single_approval", "--by", TRUSTED, needle="an agent never decides its own request")
    refused(ws, "review", "mark", "m-post_hoc", "--by", "alice", "--verdict", "wrong", needle="needs a reason")


def test_names_are_validated_and_unknown_requests_reported(ws, requests):
    bad = ws.hitl("approve", "m-single_approval", "--by", " alice")
    assert bad.returncode == 2 and "--by" in bad.stderr
    missing = ws.hitl("approve", "nope", "--by", "alice")
    assert missing.returncode == 7 and "no request 'nope'" in missing.stderr


def test_a_block_with_an_unoverridable_reason_is_not_overridden(ws):
    """pii_exposure is in every shipped profile's override_policy.unoverridable: no override holder lifts it."""
    exposing = tier_manifest("block", id="m-export", type="read", pii=True, exposes_pii=True)
    assert ws.submit([exposing])["m-export"]["status"] == "blocked"
    ws.refuses(ws.verdict, OVERRIDE, "m-export", "cto", "legal approved this export",
               needle="override_policy.unoverridable")
    assert ws.view("m-export")["status"] == "blocked"


def test_the_unoverridable_list_is_profile_data(ws):
    """Adding a code to the list refuses overrides of blocks with that reason, with no code change."""
    strict = copy_profile(ws, "default", "strict", {"override_policy.unoverridable": ["pii_exposure", "over_budget"]})
    shutil.copy(strict, ws.profiles / "strict.yaml")
    costly = {"type": "write", "env": "staging", "cost": 1_000_000}
    ws.submit([tier_manifest("block", id="m-default", **costly)])
    ws.submit([tier_manifest("block", id="m-strict", **costly)], profile="strict")
    assert ws.verdict(OVERRIDE, "m-default", "cto", "one-off")["status"] == "overridden"
    ws.refuses(ws.verdict, OVERRIDE, "m-strict", "cto", "one-off", needle="over_budget")
