# METADATA
# title: Tests for hitl.rules.destructive_statement
# description: A statement that really drops or deletes takes its destructive type's tier.
package hitl.rules.destructive_statement_test

import data.hitl.fixtures_test as fx
import data.hitl.rules.destructive_statement

_reasons(patch) := rs if {
	rs := destructive_statement.reasons with input as fx.input_with(patch) with data.hitl.profiles as fx.profiles
}

test_write_that_drops_takes_the_drop_tier if {
	_reasons({"action": {"type": "write", "statement": "ALTER TABLE x DROP COLUMN y"}, "target": {"environment": "staging"}}) == {{
		"code": "destructive_statement",
		"tier": "escalate",
		"message": `statement matches destructive pattern (?i)\bDROP\b: declared write, treated as drop, which in staging needs escalate`,
	}}
}

test_read_that_deletes_in_production_is_blocked if {
	rs := _reasons({"action": {"type": "read", "statement": "select 1; delete from t"}, "target": {"environment": "production"}})
	[r.tier | some r in rs] == ["block"]
}

test_unknown_environment_takes_the_novelty_tier if {
	rs := _reasons({"action": {"type": "write", "statement": "truncate t"}, "target": {"environment": "qa"}})
	[r.tier | some r in rs] == ["escalate"]
}

test_treated_as_type_unknown_to_the_profile_takes_the_novelty_tier if {
	profiles := fx.profiles_with({"destructive_statements": [{"pattern": `(?i)\bVACUUM\b`, "treated_as": "maintenance"}]})
	rs := destructive_statement.reasons with input as fx.input_with({"action": {"statement": "VACUUM t"}})
		with data.hitl.profiles as profiles
	[r.tier | some r in rs] == ["escalate"]
}

test_does_not_fire_without_reclassification if {
	_reasons({}) == set()
	_reasons({"action": {"statement": "INSERT INTO t VALUES (1)"}}) == set()
	_reasons({"action": {"type": "drop", "statement": "DROP TABLE t"}}) == set()
	_reasons({"action": {"statement": "UPDATE t SET dropped_at = now()"}}) == set()
}
