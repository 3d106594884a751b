# METADATA
# title: Tests for hitl.rules.daily_budget
# description: Spend approved today plus this action over the agent's or the organisation's daily budget blocks.
package hitl.rules.daily_budget_test

import data.hitl.fixtures_test as fx
import data.hitl.history_test as h
import data.hitl.rules.daily_budget

# The fixture spend: agent-1 300 (100 of it act-1 itself), agent-2 40, organisation 340.
_reasons(patch, profiles) := rs if {
	rs := daily_budget.reasons with input as h.with_history(object.union({"metadata": {"id": "act-9"}}, patch), [])
		with data.hitl.profiles as profiles
}

_budgets(agent, organisation) := fx.profiles_with({"rules": {"daily_budget": {
	"per_agent_usd": agent, "agents": {"agent-2": 50}, "organisation_usd": organisation, "over_budget_tier": "block",
}}})

test_agent_budget_blocks_with_the_numbers if {
	_reasons({"impact": {"estimated_cost_usd": 250}}, _budgets(500, null)) == {{
		"code": "daily_agent_budget", "tier": "block",
		"message": "agent agent-1 has 300 USD approved today (2026-11-24 UTC); with this action's 250 USD that is 550 USD, over its daily budget of 500 USD: it is blocked (block)",
	}}
}

test_at_the_budget_does_not if {
	_reasons({"impact": {"estimated_cost_usd": 200}}, _budgets(500, 540)) == set()
}

test_organisation_budget_blocks_with_the_numbers if {
	_reasons({"impact": {"estimated_cost_usd": 100}}, _budgets(null, 400)) == {{
		"code": "daily_organisation_budget", "tier": "block",
		"message": "the organisation has 340 USD approved today (2026-11-24 UTC); with this action's 100 USD that is 440 USD, over its daily budget of 400 USD: it is blocked (block)",
	}}
}

test_per_agent_override if {
	rs := _reasons({"agent": {"id": "agent-2"}, "impact": {"estimated_cost_usd": 20}}, _budgets(500, null))
	[r.code | some r in rs] == ["daily_agent_budget"]
}

test_this_manifest_is_not_counted_twice if {
	rs := daily_budget.reasons with input as h.with_history({"impact": {"estimated_cost_usd": 250}}, [])
		with data.hitl.profiles as _budgets(500, null)
	rs == set()
}

test_no_cost_or_no_budget_does_not if {
	_reasons({"impact": {"estimated_cost_usd": null}}, _budgets(1, 1)) == set()
	_reasons({"impact": {"estimated_cost_usd": 10000}}, _budgets(null, null)) == set()
}

test_without_a_store_the_action_alone_counts if {
	rs := daily_budget.reasons with input as fx.input_with({"impact": {"estimated_cost_usd": 600}})
		with data.hitl.profiles as _budgets(500, null)
	[r.message | some r in rs] == ["agent agent-1 has 0 USD approved today (no state store was read); with this action's 600 USD that is 600 USD, over its daily budget of 500 USD: it is blocked (block)"]
}
