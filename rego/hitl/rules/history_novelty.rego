# METADATA
# title: Novelty from history
# description: |
#   An action whose fingerprint (the profile's history_novelty.fingerprint fields) matches no approved or
#   overridden action in the state store takes history_novelty.tier, whatever action.novel says. Judged
#   only when the run read a store (input.history) and the profile turns the rule on.
# custom:
#   code: no_precedent
package hitl.rules.history_novelty

import data.hitl.config
import data.hitl.history
import data.hitl.lib.reason

_settings := config.rule_setting("history_novelty")

# METADATA
# title: No precedent reason
# description: history_novelty.enabled, a store was read, and no precedent has the candidate's fingerprint.
# custom:
#   code: no_precedent
reasons contains reason.make("no_precedent", tier, message) if {
	_settings.enabled == true
	history.known
	not history.precedented
	tier := _settings.tier
	fields := _settings.fingerprint
	message := sprintf(
		"no approved action in the state store has the same %s (%s): it %s",
		[concat(", ", fields), concat(", ", [sprintf("%v", [v]) | some v in history.fingerprint(history.candidate)]), reason.needs(tier)],
	)
}
