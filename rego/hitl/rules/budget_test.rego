# METADATA
# title: Tests for hitl.rules.budget
# description: Over the per-action budget takes the over-budget tier.
package hitl.rules.budget_test

import data.hitl.fixtures_test as fx
import data.hitl.rules.budget

_reasons(cost) := rs if {
	rs := budget.reasons with input as fx.input_with({"impact": {"estimated_cost_usd": cost}})
		with data.hitl.profiles as fx.profiles
}

test_over_budget_fires_and_shows_both_numbers if {
	_reasons(150.5) == {{
		"code": "over_budget", "tier": "block",
		"message": "estimated cost 150.5 USD is over the per-action budget of 100 USD: it is blocked (block)",
	}}
}

test_at_or_under_budget_does_not_fire if {
	_reasons(100) == set()
	_reasons(0) == set()
	_reasons(99.99) == set()
}

test_unknown_cost_does_not_fire if {
	_reasons(null) == set()
}

test_budget_comes_from_the_profile if {
	rs := budget.reasons with input as fx.input_with({"impact": {"estimated_cost_usd": 20}})
		with data.hitl.profiles as fx.profiles_with({"rules": {"budget": {"per_action_usd": 10, "over_budget_tier": "escalate"}}})
	[r.tier | some r in rs] == ["escalate"]
}
