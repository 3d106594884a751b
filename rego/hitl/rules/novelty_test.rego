# METADATA
# title: Tests for hitl.rules.novelty
# description: Novel actions, unknown types and unknown environments each take the novelty tier.
package hitl.rules.novelty_test

import data.hitl.fixtures_test as fx
import data.hitl.rules.novelty

_reasons(patch) := rs if {
	rs := novelty.reasons with input as fx.input_with(patch) with data.hitl.profiles as fx.profiles
}

test_known_and_not_novel_does_not_fire if {
	_reasons({}) == set()
}

test_novel_flag if {
	_reasons({"action": {"novel": true}}) == {{
		"code": "novel_action", "tier": "escalate",
		"message": "the agent flagged this action as novel: it needs escalate",
	}}
}

test_unknown_action_type if {
	_reasons({"action": {"type": "frobnicate"}}) == {{
		"code": "unknown_action_type", "tier": "escalate",
		"message": "action type frobnicate is not known to profile fixture: it needs escalate",
	}}
}

test_unknown_environment if {
	_reasons({"target": {"environment": "qa"}}) == {{
		"code": "unknown_environment", "tier": "escalate",
		"message": "environment qa is not known to profile fixture: it needs escalate",
	}}
}

test_each_condition_is_its_own_reason if {
	rs := _reasons({"action": {"type": "frobnicate", "novel": true}, "target": {"environment": "qa"}})
	{r.code | some r in rs} == {"novel_action", "unknown_action_type", "unknown_environment"}
}

test_tier_comes_from_the_profile if {
	rs := novelty.reasons with input as fx.input_with({"action": {"novel": true}})
		with data.hitl.profiles as fx.profiles_with({"rules": {"novelty": {"tier": "block"}}})
	[r.tier | some r in rs] == ["block"]
}
