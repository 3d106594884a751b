# METADATA
# title: Facts about the statement
# description: |
#   What hitl derived from action.statement (hitl_cli/statements: input.statement_facts, beside the
#   manifest, never in it): the action types its operations count as under the profile's
#   statements.kinds, the tables it writes, and why it cannot be analysed. A manifest with a statement
#   but no facts, a kind the profile does not map, or a destructive pattern OPA cannot compile is
#   unanalysable: it never passes as harmless (fail closed).
package hitl.statements

import data.hitl.config
import data.hitl.facts

# METADATA
# title: Derived facts
# description: input.statement_facts when it is an object; undefined otherwise.
derived := f if {
	f := input.statement_facts
	is_object(f)
}

# METADATA
# title: Operations
# description: Every operation found in the statement, in order ({kind, detail, has_where, writes, reads}).
operations := ops if {
	ops := derived.statements
	is_array(ops)
} else := []

# METADATA
# title: Statement types
# description: The action type each operation's kind counts as, per the profile's statements.kinds.
types contains config.statement_kinds[op.kind] if some op in operations

# METADATA
# title: Written tables
# description: Every table an operation writes (data, schema or access); waivers must cover each one.
written_tables contains table if {
	some op in operations
	some table in op.writes
}

# METADATA
# title: Read tables
# description: Every table an operation reads without writing it.
read_tables contains table if {
	some op in operations
	some table in op.reads
}

# METADATA
# title: Why the statement is unanalysable
# description: |
#   Each reason hitl cannot trust the statement to do only what its operations say; empty when it can.
unanalysable contains why if {
	some why in derived.unanalysable
}

unanalysable contains sprintf("statement kind %s%s is not mapped to an action type", [op.kind, detail(op)]) if {
	some op in operations
	not config.statement_kinds[op.kind]
}

# METADATA
# title: Operation detail
# description: The operation's detail in parentheses after a space, for messages; empty when it has none.
detail(op) := sprintf(" (%s)", [op.detail]) if op.detail != ""

detail(op) := "" if op.detail == ""

unanalysable contains "the statement came without the facts hitl derives from it" if {
	facts.statement
	not _well_formed
}

unanalysable contains sprintf("destructive pattern %s cannot be compiled by OPA (RE2)", [rule.pattern]) if {
	facts.statement
	some rule in config.destructive_statements
	not regex.is_valid(rule.pattern)
}

_well_formed if {
	is_array(derived.statements)
	is_array(derived.unanalysable)
}
