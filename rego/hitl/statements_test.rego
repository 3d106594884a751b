# METADATA
# title: Tests for hitl.statements
# description: Statement types from the profile's kind mapping, written tables, and every unanalysable cause.
package hitl.statements_test

import data.hitl.fixtures_test as fx
import data.hitl.statements

_statement := {"action": {"statement": "SELECT 1"}}

_derived(operations, unanalysable) := {"dialect": "generic", "statements": operations, "unanalysable": unanalysable}

_with(given) := s if {
	s := statements with input as fx.input_facts(_statement, given) with data.hitl.profiles as fx.profiles
}

test_kinds_count_as_their_mapped_types if {
	s := _with(fx.statement_facts([fx.operation("select", []), fx.operation("update", ["a.b"])]))
	s.types == {"read", "write"}
	s.written_tables == {"a.b"}
	s.unanalysable == set()
}

test_a_kind_without_mapping_is_unanalysable if {
	grant := object.union(fx.operation("grant", ["a.b"]), {"detail": "GRANT ALL"})
	s := _with(fx.statement_facts([grant, fx.operation("set", [])]))
	s.types == set()
	s.unanalysable == {
		"statement kind grant (GRANT ALL) is not mapped to an action type",
		"statement kind set is not mapped to an action type",
	}
}

test_the_analysis_says_why_it_is_unanalysable if {
	s := _with(_derived([], ["character U+200B (ZERO WIDTH SPACE) at offset 2"]))
	s.unanalysable == {"character U+200B (ZERO WIDTH SPACE) at offset 2"}
}

test_a_statement_without_facts_is_unanalysable if {
	s := statements with input as fx.input_with(_statement) with data.hitl.profiles as fx.profiles
	s.unanalysable == {"the statement came without the facts hitl derives from it"}
	t := _with({"statements": "not a list"})
	t.unanalysable == {"the statement came without the facts hitl derives from it"}
}

test_no_statement_needs_no_facts if {
	s := statements with input as fx.input_with({}) with data.hitl.profiles as fx.profiles
	s.unanalysable == set()
	s.operations == []
}

test_a_pattern_opa_cannot_compile_is_unanalysable if {
	profiles := fx.profiles_with({"destructive_statements": [{"pattern": `(?=DROP)`, "treated_as": "drop"}]})
	s := statements with input as fx.input_facts(_statement, fx.statement_facts([]))
		with data.hitl.profiles as profiles
	s.unanalysable == {"destructive pattern (?=DROP) cannot be compiled by OPA (RE2)"}
}
