# METADATA
# title: Tests for hitl.rules.unanalysable_statement
# description: A statement hitl cannot analyse takes the profile's unanalysable tier, naming every cause.
package hitl.rules.unanalysable_statement_test

import data.hitl.fixtures_test as fx
import data.hitl.rules.unanalysable_statement

_given := fx.input_facts(
	{"action": {"type": "read", "statement": "EXECUTE 'DR' || 'OP TABLE t'"}},
	{"dialect": "postgres", "statements": [], "unanalysable": ["statement 1: dynamic: EXECUTE (dynamic SQL)"]},
)

test_dynamic_sql_takes_the_unanalysable_tier if {
	rs := unanalysable_statement.reasons with input as _given with data.hitl.profiles as fx.profiles
	rs == {{
		"code": "unanalysable_statement",
		"tier": "escalate",
		"message": "statement cannot be analysed (statement 1: dynamic: EXECUTE (dynamic SQL)), which needs escalate",
	}}
}

test_the_tier_is_profile_data if {
	profiles := fx.profiles_with({"rules": {"unanalysable_statement": {"unanalysable_tier": "block"}}})
	rs := unanalysable_statement.reasons with input as _given with data.hitl.profiles as profiles
	[r.tier | some r in rs] == ["block"]
}

test_an_analysable_statement_gives_no_reason if {
	given := fx.input_facts({"action": {"statement": "SELECT 1"}}, fx.statement_facts([fx.operation("select", [])]))
	unanalysable_statement.reasons with input as given with data.hitl.profiles as fx.profiles == set()
}
