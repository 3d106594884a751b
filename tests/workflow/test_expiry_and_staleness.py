"""Approvals expire after the profile's lifetime; a changed manifest, policy or profile makes a request stale.

Time is pinned with the runners' now= (tests/launch_hitl.py, a test-only launcher) so that a 72-hour lifetime can pass in a test.
"""

import shutil
from pathlib import Path

from .support import ROOT, at, copy_profile, tier_manifest

ORG_RULES = ROOT / "tests" / "org_rules"


def test_approvals_expire_after_the_profiles_lifetime(ws):
    plan = [tier_manifest("single_approval", id="bank-1"), tier_manifest("double_approval", id="bank-2")]
    ws.submit(plan, profile="bank", now=at(0), name="bank.yaml")
    ws.submit([tier_manifest("single_approval", id="default-1")], now=at(0), name="default.yaml")
    for request in ("bank-1", "default-1"):
        assert ws.hitl("approve", request, "--by", "alice", now=at(1)).returncode == 0
    ws.hitl("approve", "bank-2", "--by", "alice", now=at(1))

    # bank: 24 hours; default: 72 hours (org_profiles/*.yaml approvals.lifetime_hours).
    within_bank = ws.status("bank-1", now=at(24.9))
    assert within_bank["status"] == "approved" and within_bank["valid_until"] == "2026-11-25T10:00:00Z"
    assert ws.status("bank-1", now=at(25))["status"] == "expired"
    assert ws.hitl("status", "bank-1", now=at(25)).returncode == 3
    assert ws.status("default-1", now=at(72.9))["status"] == "approved"
    assert ws.status("default-1", now=at(73))["status"] == "expired"

    # An approval that lapsed before the second one came expires the request: it cannot be completed.
    late = ws.hitl("approve", "bank-2", "--by", "bob", now=at(26))
    assert late.returncode == 6 and "approval lifetime has passed" in late.stderr

    # check honours an approval only while it counts.
    plan_file = ws.write("check.yaml", [tier_manifest("single_approval", id="default-1")])
    check = ("check", plan_file, "--profile", "default", "--track-record", ws.trusted_record)
    assert ws.hitl(*check, now=at(72)).returncode == 0
    assert ws.hitl(*check, now=at(74)).returncode == 1

    # Submitting the same manifest again after expiry opens a new request.
    again = ws.submit([tier_manifest("single_approval", id="default-1")], now=at(74), name="again.yaml")
    assert again["default-1"]["id"] == "default-1~2" and again["default-1"]["status"] == "pending"
    assert ws.verify().returncode == 0


def test_an_override_expires_too(ws):
    ws.submit([tier_manifest("block")], now=at(0))
    ws.hitl("override", "m-block", "--by", "cto", "--reason", "one-off export", now=at(2))
    assert ws.status("m-block", now=at(73))["status"] == "overridden"
    assert ws.status("m-block", now=at(74))["status"] == "expired"


def test_a_changed_profile_makes_the_request_stale(ws):
    profile = copy_profile(ws, "default", "acme", {})
    ws.submit([tier_manifest("single_approval")], profile=str(profile))
    assert ws.hitl("approve", "m-single_approval", "--by", "alice").returncode == 0
    plan_file = ws.write("check.yaml", [tier_manifest("single_approval")])
    check = ("check", plan_file, "--profile", str(profile), "--track-record", ws.trusted_record)
    assert ws.hitl(*check).returncode == 0

    original = profile.read_text()
    profile.write_text(original.replace("per_action_usd: 100", "per_action_usd: 99"))
    stale = ws.status("m-single_approval")
    assert stale["status"] == "stale" and stale["may_run"] is False
    assert "changed" in stale["stale_reason"]
    assert ws.hitl(*check).returncode == 1
    refused = ws.hitl("reject", "m-single_approval", "--by", "bob", "--reason", "too late")
    assert refused.returncode == 6 and "submit the action again" in refused.stderr

    # Stale because of a revision, not a record: the same revision counts again.
    profile.write_text(original)
    assert ws.status("m-single_approval")["status"] == "approved"


def test_a_changed_policy_makes_the_request_stale(ws):
    ws.submit([tier_manifest("double_approval")])
    ws.hitl("approve", "m-double_approval", "--by", "alice")
    policy = ws.rego / "hitl" / "rules" / "budget.rego"
    policy.write_text(policy.read_text() + "\n# a policy edit\n")
    assert ws.status("m-double_approval")["status"] == "stale"
    refused = ws.hitl("approve", "m-double_approval", "--by", "bob")
    assert refused.returncode == 6 and "stale" in refused.stderr
    # Tests beside the policies are not part of its revision.
    policy.write_text(policy.read_text().removesuffix("\n# a policy edit\n"))
    (ws.rego / "hitl" / "extra_test.rego").write_text("package hitl.extra_test\n")
    assert ws.status("m-double_approval")["status"] == "pending"


def test_a_changed_manifest_is_not_what_was_approved(ws):
    ws.submit([tier_manifest("single_approval")])
    ws.hitl("approve", "m-single_approval", "--by", "alice")
    edited = tier_manifest("single_approval")
    edited["impact"]["rows_affected"] = 5_000_000
    check = ws.hitl("check", ws.write("edited.yaml", [edited]), "--profile", "default", "--track-record", ws.trusted_record)
    assert check.returncode == 1
    assert "NEEDS APPROVAL" in check.stdout


def _sox_folder(ws) -> Path:
    folder = ws.root / "org" / "rules"
    folder.mkdir(parents=True)
    for name in ("sox.rego", "sox.schema.json", "sox.defaults.yaml"):
        shutil.copyfile(ORG_RULES / name, folder / name)
    return folder.parent


def test_the_workflow_commands_take_the_org_folders_the_request_was_decided_with(ws):
    """The organisation folders are part of the policy revision: a request submitted with --policy is judged
    stale by a command run without it, and counts again on every command given the same folder."""
    folder = _sox_folder(ws)
    ws.submit([tier_manifest("double_approval")], "--policy", folder)
    with_folder = ("--policy", str(folder))
    assert ws.status("m-double_approval")["status"] == "stale"
    refused = ws.hitl("approve", "m-double_approval", "--by", "alice")
    assert refused.returncode == 6 and "stale" in refused.stderr

    assert ws.hitl("approve", "m-double_approval", "--by", "alice", *with_folder).returncode == 0
    assert ws.json("status", "m-double_approval", *with_folder, expect=1)["status"] == "pending"
    waiting = ws.json("queue", *with_folder)
    assert [view["id"] for view in waiting] == ["m-double_approval"]
    assert ws.json("queue") == []  # without the folder, the request no longer waits: it is stale
    refused = ws.hitl("reject", "m-double_approval", "--by", "bob", "--reason", "no")
    assert refused.returncode == 6 and "stale" in refused.stderr
    assert ws.hitl("approve", "m-double_approval", "--by", "bob", *with_folder).returncode == 0
    assert ws.json("status", "m-double_approval", *with_folder)["status"] == "approved"


def test_a_profile_setting_an_org_rule_needs_its_folder_on_the_workflow_commands(ws):
    folder = _sox_folder(ws)
    profile = copy_profile(ws, "default", "acme", {"rules": {"sox": {"tables": ["analytics.orders"]}}})
    submitted = ws.submit([tier_manifest("single_approval")], "--policy", folder, profile=str(profile))
    assert submitted["m-single_approval"]["decision"]["tier"] == "double_approval"  # the SOX tier
    refused = ws.hitl("approve", "m-single_approval", "--by", "alice")
    assert refused.returncode == 6 and "rules.sox: no organisation rule 'sox' is loaded" in refused.stderr
    assert ws.hitl("approve", "m-single_approval", "--by", "alice", "--policy", folder).returncode == 0
