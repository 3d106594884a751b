# METADATA
# title: Destructive statement
# description: |
#   The declared action type is not trusted blindly: a statement matching one of the profile's
#   destructive patterns is treated as the destructive type it really is, and takes that type's tier.
# custom:
#   code: destructive_statement
package hitl.rules.destructive_statement

import data.hitl.config
import data.hitl.facts
import data.hitl.lib.reason

# METADATA
# title: Destructive statement reason
# description: |
#   The statement made the effective type differ from the declared one: the tier of the effective
#   type in the environment, or the novelty tier when the profile has no tier for it there.
# custom:
#   code: destructive_statement
reasons contains reason.make("destructive_statement", tier, message) if {
	facts.reclassified
	facts.destructive_rule
	tier := _tier
	message := sprintf(
		"statement matches destructive pattern %s: declared %s, treated as %s, which in %s %s",
		[facts.destructive_rule.pattern, facts.declared_type, facts.effective_type, facts.environment, reason.needs(tier)],
	)
}

_tier := facts.profile_tier

_tier := config.rule_setting("novelty").tier if not facts.profile_tier
