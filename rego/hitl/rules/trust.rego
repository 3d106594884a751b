# METADATA
# title: Graduated trust
# description: |
#   An agent's effective autonomy level (granted, and supported by its measured record) decides which
#   risk classes take their profile tier unsupervised. Any other non-read action takes at least the
#   profile's supervised floor. A new or demoted-to-suggestion agent is in suggestion mode.
# custom:
#   code: [suggestion_mode, trust_level]
package hitl.rules.trust

import data.hitl.config
import data.hitl.facts
import data.hitl.lib.levels
import data.hitl.lib.reason

_settings := config.rule_setting("trust")

# METADATA
# title: Trust reason
# description: |
#   Not read-only, and the action's risk is not in trust.autonomous_risks for the effective level.
#   Coded suggestion_mode at the suggestion level, trust_level above it.
# custom:
#   code: [suggestion_mode, trust_level]
reasons contains reason.make(_code, tier, message) if {
	not facts.read_only
	not facts.risk in _settings.autonomous_risks[facts.agent_level]
	tier := _settings.supervised_floor
	message := sprintf(
		"agent %s runs at %s (%s): %s-risk actions need at least %s",
		[facts.agent_id, facts.agent_level, _standing, facts.risk, tier],
	)
}

_code := "suggestion_mode" if facts.agent_level == levels.floor

_code := "trust_level" if facts.agent_level != levels.floor

_standing := "new: not in the track record" if {
	facts.new_agent
	not facts.invalid_record
}

_standing := "its track-record entry is invalid, so it is treated as new" if facts.invalid_record

_standing := sprintf(
	"granted %s; %v of %v approved is under the minimum for %s of %v reviewed at approval rate %v",
	[
		facts.granted_level, facts.approved, facts.reviewed, facts.failed_level,
		config.trust_minimums[facts.failed_level].min_reviewed,
		config.trust_minimums[facts.failed_level].min_approval_rate,
	],
) if {
	not facts.new_agent
	facts.demoted
}

_standing := sprintf("granted %s; %v of %v approved", [facts.granted_level, facts.approved, facts.reviewed]) if {
	not facts.new_agent
	not facts.demoted
}
