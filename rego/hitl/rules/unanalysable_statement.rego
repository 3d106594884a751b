# METADATA
# title: Unanalysable statement
# description: |
#   A statement hitl cannot analyse - unparsable, dynamic SQL (EXECUTE, EXEC, DO, CALL), a kind the
#   profile does not map, invisible or look-alike characters, no derived facts, or a destructive
#   pattern OPA cannot compile - never auto-approves: it takes the profile's unanalysable tier.
# custom:
#   code: unanalysable_statement
package hitl.rules.unanalysable_statement

import data.hitl.config
import data.hitl.lib.reason
import data.hitl.statements

_settings := config.rule_setting("unanalysable_statement")

# METADATA
# title: Unanalysable statement reason
# description: One reason at statements.unanalysable_tier naming every cause (hitl.statements.unanalysable).
# custom:
#   code: unanalysable_statement
reasons contains reason.make("unanalysable_statement", tier, message) if {
	count(statements.unanalysable) > 0
	tier := _settings.unanalysable_tier
	message := sprintf(
		"statement cannot be analysed (%s), which %s",
		[concat("; ", sort(statements.unanalysable)), reason.needs(tier)],
	)
}
