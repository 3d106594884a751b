# METADATA
# title: Profile tier
# description: |
#   Every action of a known type in a known environment takes the tier the profile's matrix gives
#   for that type and environment (the tier for a fully trusted agent).
# custom:
#   code: <environment>_<effective_type>
package hitl.rules.profile_tier

import data.hitl.config
import data.hitl.facts
import data.hitl.lib.reason

# METADATA
# title: Profile tier reason
# description: The matrix tier of the effective type in the environment, coded <environment>_<effective_type>.
# custom:
#   code: <environment>_<effective_type>
reasons contains reason.make(code, tier, message) if {
	tier := facts.profile_tier
	code := sprintf("%s_%s", [facts.environment, facts.effective_type])
	message := sprintf(
		"%s in %s %s under profile %s",
		[facts.effective_type, facts.environment, reason.needs(tier), config.name],
	)
}

# METADATA
# title: Declared type's tier
# description: |
#   When the statement reclassified the action, the declared type's matrix tier still applies,
#   so reclassification never lowers a tier. Coded <environment>_<declared_type>.
# custom:
#   code: <environment>_<declared_type>
reasons contains reason.make(code, tier, message) if {
	facts.reclassified
	tier := facts.declared_profile_tier
	code := sprintf("%s_%s", [facts.environment, facts.declared_type])
	message := sprintf(
		"%s in %s %s under profile %s (as declared; its statement is treated as %s)",
		[facts.declared_type, facts.environment, reason.needs(tier), config.name, facts.effective_type],
	)
}
