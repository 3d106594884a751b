# METADATA
# title: Tests for hitl.rules.statement_type
# description: A statement whose operations are another type than the declared one takes that type's tier.
package hitl.rules.statement_type_test

import data.hitl.facts
import data.hitl.fixtures_test as fx
import data.hitl.rules.statement_type

_given(declared, environment, operations) := fx.input_facts(
	{"action": {"type": declared, "statement": "-"}, "target": {"environment": environment}},
	fx.statement_facts(operations),
)

_reasons(declared, environment, operations) := rs if {
	rs := statement_type.reasons with input as _given(declared, environment, operations)
		with data.hitl.profiles as fx.profiles
}

test_a_read_that_updates_is_a_write if {
	update := object.union(fx.operation("update", ["analytics.customers"]), {"detail": "UPDATE without WHERE"})
	_reasons("read", "production", [update]) == {{
		"code": "statement_type",
		"tier": "double_approval",
		"message": "statement update (UPDATE without WHERE) on analytics.customers: declared read, treated as write, which in production needs double_approval",
	}}
}

test_the_strictest_statement_type_counts if {
	ops := [fx.operation("select", []), fx.operation("insert", ["a"]), fx.operation("drop", ["b"])]
	[r.tier | some r in _reasons("read", "staging", ops)] == ["escalate"]
	f := facts with input as _given("read", "staging", ops) with data.hitl.profiles as fx.profiles
	f.effective_type == "drop"
}

test_ties_go_to_the_first_type_by_name if {
	# in dev the fixture gives delete and schema_migration both single_approval
	ops := [fx.operation("create", ["a"]), fx.operation("delete", ["b"])]
	f := facts with input as _given("read", "dev", ops) with data.hitl.profiles as fx.profiles
	f.effective_type == "delete"
}

test_a_read_operation_never_changes_a_declared_type if {
	_reasons("write", "production", [fx.operation("select", [])]) == set()
	_reasons("write", "production", [fx.operation("insert", ["a"]), fx.operation("select", [])]) == set()
}

test_an_unknown_environment_takes_the_novelty_tier if {
	[r.tier | some r in _reasons("read", "qa", [fx.operation("update", [])])] == ["escalate"]
}

test_a_type_the_profile_does_not_know_outranks_every_tier if {
	profiles := fx.profiles_with({"statements": {"kinds": {"vacuum": "maintenance", "update": "write"}}})
	ops := [fx.operation("update", ["a"]), fx.operation("vacuum", ["a"])]
	f := facts with input as _given("read", "production", ops) with data.hitl.profiles as profiles
	f.effective_type == "maintenance"
	not f.known_type
}
