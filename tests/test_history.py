"""Novelty and daily budgets from the state store's history, end to end: the real CLI, the real OPA, real
SQLite; time pinned with the runners' now= (tests/launch_hitl.py)."""

from workflow.support import at, copy_profile, make_workspace, manifest


def reasons(ws, plan_file, profile, now=None) -> dict[str, dict]:
    """Evaluate with the workspace's store (only read): each decision's tier and reason messages by code."""
    found = ws.json("evaluate", plan_file, "--profile", profile, "--track-record", ws.trusted_record,
                    now=now, expect=(0,))
    return {d["id"]: {"tier": d["tier"], **{r["code"]: r["message"] for r in d["reasons"]}} for d in found}


def test_novelty_from_history(tmp_path):
    ws = make_workspace(tmp_path)
    on = copy_profile(ws, "default", "novelty-on", {"history_novelty.enabled": True})
    by_resource = copy_profile(ws, "default", "by-resource", {
        "history_novelty.enabled": True, "history_novelty.fingerprint": ["agent", "action_type", "resource"],
    })
    first = manifest("w-1", type="write", env="dev")  # auto_approve for the trusted agent; novel: false
    again = manifest("w-2", type="write", env="dev")
    elsewhere = manifest("w-3", type="write", env="dev")
    elsewhere["target"]["resource"] = "analytics.refunds"
    plan = ws.write("plan.yaml", [again, elsewhere])

    # No store yet: evaluate has no history to judge, so nothing is novel.
    assert "no_precedent" not in reasons(ws, plan, on)["w-2"]
    # submit records into a store that has no precedent: the never-seen fingerprint escalates.
    submitted = ws.submit([first], name="first.yaml", profile=on)
    assert submitted["w-1"]["decision"]["tier"] == "escalate"
    codes = {r["code"]: r["message"] for r in submitted["w-1"]["decision"]["reasons"]}
    assert codes["no_precedent"] == ("no approved action in the state store has the same agent, action_type, "
                                     "environment, resource (trusted-agent, write, dev, analytics.orders): it needs escalate")
    # Still only escalated (not approved): it is no precedent yet.
    assert "no_precedent" in reasons(ws, plan, on)["w-2"]
    assert ws.hitl("approve", "w-1", "--by", "data-platform-lead").returncode == 0

    after = reasons(ws, plan, on)
    assert "no_precedent" not in after["w-2"] and after["w-2"]["tier"] == "auto_approve"
    assert "analytics.refunds" in after["w-3"]["no_precedent"] and after["w-3"]["tier"] == "escalate"
    # Different fingerprint fields, different outcome: by agent, type and resource only, w-3 is still novel,
    # and an action in another environment on the same resource is not.
    staging = manifest("w-4", type="write", env="staging")
    fields = reasons(ws, ws.write("fields.yaml", [elsewhere, staging]), by_resource)
    assert "no_precedent" in fields["w-3"] and "no_precedent" not in fields["w-4"]
    assert "no_precedent" in reasons(ws, ws.write("s.yaml", [staging]), on)["w-4"]
    # The shipped default profile turns the rule off: nothing is novel there, store or not.
    assert all("no_precedent" not in d for d in reasons(ws, plan, "default").values())


def test_daily_budgets(tmp_path):
    ws = make_workspace(tmp_path)
    budget = copy_profile(ws, "default", "budget", {
        "daily_budget.per_agent_usd": 100, "daily_budget.organisation_usd": 150,
    })
    day1, day1_later, day2 = at(0), at(5), at(24)
    spent = manifest("b-1", type="write", env="dev", cost=60)  # auto-approved: 60 USD spent on day 1
    submitted = ws.submit([spent], name="spent.yaml", profile=budget, now=day1)
    assert submitted["b-1"]["status"] == "approved"

    second = manifest("b-2", type="write", env="dev", cost=50)
    other_small = manifest("b-3", type="write", env="dev", agent="other-agent", cost=50)
    other_large = manifest("b-4", type="write", env="dev", agent="other-agent", cost=95)
    plan = ws.write("plan.yaml", [spent, second, other_small, other_large])
    found = reasons(ws, plan, budget, now=day1_later)

    assert found["b-2"]["tier"] == "block"
    assert found["b-2"]["daily_agent_budget"] == (
        "agent trusted-agent has 60 USD approved today (2026-11-24 UTC); with this action's 50 USD that is "
        "110 USD, over its daily budget of 100 USD: it is blocked (block)"
    )
    assert "daily_organisation_budget" not in found["b-2"]  # 110 <= 150
    assert "daily_agent_budget" not in found["b-3"] and "daily_organisation_budget" not in found["b-3"]
    assert found["b-4"]["daily_organisation_budget"] == (
        "the organisation has 60 USD approved today (2026-11-24 UTC); with this action's 95 USD that is "
        "155 USD, over its daily budget of 150 USD: it is blocked (block)"
    )
    # The approved action itself is not counted twice when it is decided again.
    assert "daily_agent_budget" not in found["b-1"]

    # Yesterday's spend does not count.
    next_day = reasons(ws, plan, budget, now=day2)
    assert all("daily_agent_budget" not in d and "daily_organisation_budget" not in d for d in next_day.values())
    # An action that is not approved (blocked here, escalated or pending) spends nothing.
    ws.submit([second], name="second.yaml", profile=budget, now=day1_later, expect=(3,))
    assert "daily_agent_budget" not in reasons(ws, ws.write("b3.yaml", [other_small]), budget, now=day1_later)["b-3"]
