# METADATA
# title: Statement type
# description: |
#   The declared action type is checked against what the statement does (hitl.statements): a statement
#   whose operations count as a type other than the declared one (a read-only declared type accepts only
#   read operations) is treated as that type, the strictest when there are several, and takes its tier.
# custom:
#   code: statement_type
package hitl.rules.statement_type

import data.hitl.config
import data.hitl.facts
import data.hitl.lib.reason
import data.hitl.statements

# METADATA
# title: Statement type reason
# description: |
#   The statement's operations made the effective type differ from the declared one: the tier of the
#   effective type in the environment, or the novelty tier when the profile has no tier for it there.
# custom:
#   code: statement_type
reasons contains reason.make("statement_type", tier, message) if {
	facts.reclassified
	facts.effective_type in statements.types
	tier := _tier
	message := sprintf(
		"statement %s: declared %s, treated as %s, which in %s %s",
		[concat("; ", sort(_described)), facts.declared_type, facts.effective_type, facts.environment, reason.needs(tier)],
	)
}

_described contains sprintf("%s%s%s", [op.kind, statements.detail(op), _tables(op)]) if {
	some op in statements.operations
	config.statement_kinds[op.kind] == facts.effective_type
}

_tables(op) := sprintf(" on %s", [concat(", ", op.writes)]) if count(op.writes) > 0

_tables(op) := "" if count(op.writes) == 0

_tier := facts.profile_tier

_tier := config.rule_setting("novelty").tier if not facts.profile_tier
