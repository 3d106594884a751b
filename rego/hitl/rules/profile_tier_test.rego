# METADATA
# title: Tests for hitl.rules.profile_tier
# description: The matrix tier of the effective type in the environment.
package hitl.rules.profile_tier_test

import data.hitl.fixtures_test as fx
import data.hitl.rules.profile_tier

_reasons(patch) := rs if {
	rs := profile_tier.reasons with input as fx.input_with(patch) with data.hitl.profiles as fx.profiles
}

test_known_type_in_known_environment if {
	_reasons({"action": {"type": "schema_migration"}, "target": {"environment": "production"}}) == {{
		"code": "production_schema_migration",
		"tier": "double_approval",
		"message": "schema_migration in production needs double_approval under profile fixture",
	}}
}

test_auto_approve_and_block_messages if {
	_reasons({}) == {{
		"code": "dev_write", "tier": "auto_approve",
		"message": "write in dev may run at once (auto_approve) under profile fixture",
	}}
	_reasons({"action": {"type": "delete"}, "target": {"environment": "production"}}) == {{
		"code": "production_delete", "tier": "block",
		"message": "delete in production is blocked (block) under profile fixture",
	}}
}

test_uses_the_effective_type_and_keeps_the_declared_one if {
	rs := _reasons({"action": {"type": "write", "statement": "drop table t"}, "target": {"environment": "staging"}})
	{r.code: r.tier | some r in rs} == {"staging_drop": "escalate", "staging_write": "single_approval"}
}

test_reclassification_never_lowers_the_declared_tier if {
	rs := profile_tier.reasons with input as fx.input_with({
		"action": {"type": "drop", "statement": "DELETE FROM t"},
		"target": {"environment": "staging"},
	})
		with data.hitl.profiles as fx.profiles_with({"action_types": {
			"drop": {"tiers": {"staging": "block"}},
			"delete": {"tiers": {"staging": "single_approval"}},
		}})
	{r.code: r.tier | some r in rs} == {"staging_delete": "single_approval", "staging_drop": "block"}
}

test_unknown_type_has_no_profile_tier if {
	_reasons({"action": {"type": "frobnicate"}}) == set()
}

test_unknown_environment_has_no_profile_tier if {
	_reasons({"target": {"environment": "qa"}}) == set()
}

test_matrix_comes_from_the_profile if {
	rs := profile_tier.reasons with input as fx.input_with({})
		with data.hitl.profiles as fx.profiles_with({"action_types": {"write": {"tiers": {"dev": "escalate"}}}})
	[r.tier | some r in rs] == ["escalate"]
}
