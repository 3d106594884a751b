# METADATA
# title: Novelty
# description: |
#   A novel situation escalates: the agent flags the action as novel, or the profile does not know
#   its (effective) type or its environment. Each condition is its own reason.
# custom:
#   code: [novel_action, unknown_action_type, unknown_environment]
package hitl.rules.novelty

import data.hitl.config
import data.hitl.facts
import data.hitl.lib.reason

_settings := config.rule_setting("novelty")

# METADATA
# title: Novelty reasons
# description: One reason for each of action.novel, an unknown action type and an unknown environment.
# scope: document
# custom:
#   code: [novel_action, unknown_action_type, unknown_environment]
reasons contains reason.make("novel_action", _settings.tier, message) if {
	facts.manifest.action.novel == true
	message := sprintf("the agent flagged this action as novel: it %s", [reason.needs(_settings.tier)])
}

reasons contains reason.make("unknown_action_type", _settings.tier, message) if {
	not facts.known_type
	message := sprintf(
		"action type %s is not known to profile %s: it %s",
		[facts.effective_type, config.name, reason.needs(_settings.tier)],
	)
}

reasons contains reason.make("unknown_environment", _settings.tier, message) if {
	not facts.known_environment
	message := sprintf(
		"environment %s is not known to profile %s: it %s",
		[facts.environment, config.name, reason.needs(_settings.tier)],
	)
}
