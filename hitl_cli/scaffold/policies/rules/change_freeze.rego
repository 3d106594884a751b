# METADATA
# title: Change freeze
# description: |
#   During a change freeze, an action that is not a read, in one of the frozen environments, takes at
#   least the freeze tier. The profile says which environments are frozen (rules.change_freeze).
# custom:
#   code: change_freeze
package hitl.rules.change_freeze

import data.hitl.config
import data.hitl.facts
import data.hitl.lib.reason

settings := config.rule_setting("change_freeze")

# METADATA
# title: Change freeze reason
# description: A non-read action in an environment listed in rules.change_freeze.environments.
# custom:
#   code: change_freeze
reasons contains reason.make("change_freeze", settings.tier, message) if {
	facts.effective_type != "read"
	facts.environment in settings.environments
	message := sprintf("%s is frozen: a %s %s", [facts.environment, facts.effective_type, reason.needs(settings.tier)])
}
