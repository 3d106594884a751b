# METADATA
# title: Tests for hitl.facts
# description: Destructive statement detection, known types and environments, risk, and trust levels.
package hitl.facts_test

import data.hitl.facts
import data.hitl.fixtures_test as fx

_facts(patch) := f if {
	f := facts with input as fx.input_with(patch) with data.hitl.profiles as fx.profiles
}

_recorded(record) := f if {
	f := facts with input as fx.input_record({}, record) with data.hitl.profiles as fx.profiles
}

_statement(declared, statement) := _facts({"action": {"type": declared, "statement": statement}}).effective_type

# --- destructive statements ---

test_no_statement_keeps_the_declared_type if {
	f := _facts({})
	f.effective_type == "write"
	f.declared_type == "write"
	not f.reclassified
	not f.statement
	count(f.destructive_matches) == 0
}

test_harmless_statement_keeps_the_declared_type if {
	_statement("write", "INSERT INTO t SELECT * FROM s") == "write"
	_statement("schema_migration", "ALTER TABLE analytics.orders ADD COLUMN discount_code VARCHAR") == "schema_migration"
}

test_drop_is_detected if {
	_statement("write", "DROP TABLE analytics.orders") == "drop"
}

test_lowercase_is_detected if {
	_statement("write", "drop table analytics.orders") == "drop"
	_statement("write", "truncate analytics.orders") == "delete"
	_statement("write", "delete from analytics.orders where id = 1") == "delete"
}

test_alter_drop_column_is_detected if {
	_statement("schema_migration", "ALTER TABLE x DROP COLUMN y") == "drop"
}

test_destructive_statement_anywhere_in_a_multi_statement_string if {
	_statement("write", "INSERT INTO a SELECT * FROM b;\nDELETE FROM b WHERE day = '2026-11-20'") == "delete"
	_statement("write", "SELECT 1; select 2; Truncate staging.tmp") == "delete"
}

test_a_column_named_dropped_at_is_not_a_drop if {
	_statement("write", "UPDATE t SET dropped_at = now() WHERE id = 1") == "write"
	_statement("write", "SELECT deleted_flag, truncated FROM t") == "write"
}

test_first_matching_rule_in_profile_order_wins if {
	f := _facts({"action": {"type": "write", "statement": "TRUNCATE a; DROP TABLE b"}})
	f.destructive_matches == {0, 1}
	f.destructive_types == {"drop", "delete"}
	f.destructive_rule.treated_as == "drop"
	f.effective_type == "drop"
	f.reclassified
}

test_declared_type_is_kept_unless_a_stricter_one_shows if {
	_statement("delete", "TRUNCATE a; DROP TABLE b") == "drop"
	_statement("drop", "DROP TABLE b") == "drop"
	_statement("delete", "delete from t") == "delete"
}

test_patterns_come_from_the_profile if {
	profiles := fx.profiles_with({"destructive_statements": [{"pattern": `(?i)\bMERGE\b`, "treated_as": "write"}]})
	f := facts with input as fx.input_with({"action": {"type": "read", "statement": "merge into t using s"}})
		with data.hitl.profiles as profiles
	f.effective_type == "write"
	g := facts with input as fx.input_with({"action": {"type": "read", "statement": "DROP TABLE t"}})
		with data.hitl.profiles as profiles
	g.effective_type == "read"
}

# --- known types, environments, classes, risk ---

test_known_type_and_environment if {
	f := _facts({})
	f.known_type
	f.known_environment
	f.profile_tier == "auto_approve"
	f.risk == "medium"
	not f.read_only
	not f.post_hoc_class
	f.reversible
	f.agent_id == "agent-1"
	f.environment == "dev"
}

test_read_only_and_post_hoc_classes if {
	_facts({"action": {"type": "read"}}).read_only
	_facts({"action": {"type": "catalog_update"}}).post_hoc_class
	not _facts({"action": {"type": "catalog_update"}}).read_only
}

test_unknown_type_is_not_read_only_and_high_risk if {
	f := _facts({"action": {"type": "frobnicate"}})
	not f.known_type
	not f.read_only
	not f.post_hoc_class
	not f.profile_tier
	f.risk == "high"
}

test_unknown_environment_is_high_risk if {
	f := _facts({"action": {"type": "read"}, "target": {"environment": "qa"}})
	f.known_type
	not f.known_environment
	not f.profile_tier
	f.risk == "high"
}

test_risk_comes_from_the_profile if {
	_facts({"target": {"environment": "production"}}).risk == "high"
	_facts({"action": {"type": "read"}, "target": {"environment": "production"}}).risk == "low"
}

test_missing_or_false_reversible_is_not_reversible if {
	not _facts({"action": {"reversible": false}}).reversible
	not _facts({"action": {"reversible": null}}).reversible
}

# --- trust ---

test_trusted_agent_runs_at_medium if {
	f := _facts({})
	f.granted_level == "medium"
	f.agent_level == "medium"
	not f.demoted
	not f.new_agent
	facts.rate(f.reviewed, f.approved) == 1
}

test_agent_absent_from_the_record_is_new if {
	f := _recorded({"agents": {}})
	f.new_agent
	f.granted_level == "suggestion"
	f.agent_level == "suggestion"
	f.reviewed == 0
	f.approved == 0
	facts.rate(f.reviewed, f.approved) == 0
	not f.demoted
}

test_no_track_record_at_all_is_new if {
	f := facts with input as {"profile": "fx", "manifest": fx.manifest} with data.hitl.profiles as fx.profiles
	f.new_agent
	f.agent_level == "suggestion"
}

test_granted_level_is_a_ceiling if {
	_recorded(fx.record("low", 1000, 1000)).agent_level == "low"
	_recorded(fx.record("suggestion", 1000, 1000)).agent_level == "suggestion"
}

test_demotion_to_the_highest_supported_level if {
	# 241/260 = 0.927: under both minimums of the fixture (0.95 and 0.97)
	f := _recorded(fx.record("medium", 260, 241))
	f.agent_level == "suggestion"
	f.demoted
	f.failed_level == "low"

	# 147/150 = 0.98 but only 150 reviewed: low holds, medium does not
	g := _recorded(fx.record("medium", 150, 147))
	g.agent_level == "low"
	g.failed_level == "medium"

	# enough reviewed for medium, rate 0.96 only good for low
	_recorded(fx.record("medium", 500, 480)).agent_level == "low"
}

test_minimums_are_inclusive if {
	_recorded(fx.record("medium", 200, 194)).agent_level == "medium"
	_recorded(fx.record("medium", 199, 199)).agent_level == "low"
	_recorded(fx.record("low", 50, 48)).agent_level == "low"
	_recorded(fx.record("low", 50, 47)).agent_level == "suggestion"
	_recorded(fx.record("low", 49, 49)).agent_level == "suggestion"
}

test_nothing_reviewed_supports_nothing if {
	f := _recorded(fx.record("medium", 0, 0))
	facts.rate(f.reviewed, f.approved) == 0
	f.agent_level == "suggestion"
}

test_trust_minimums_come_from_the_profile if {
	f := facts with input as fx.input_record({}, fx.record("medium", 30, 30))
		with data.hitl.profiles as fx.profiles_with({"trust": {"minimums": {"medium": {"min_reviewed": 30}}}})
	f.agent_level == "medium"
}

test_a_granted_value_that_is_not_a_level_has_no_effective_level if {
	f := _recorded(fx.record("root", 1000, 1000))
	not f.agent_level
}
