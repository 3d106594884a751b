# METADATA
# title: Irreversible post-hoc action
# description: |
#   Post-hoc review is for reversible actions: a post-hoc class action that is not reversible
#   (or does not say it is) takes at least the profile's irreversible floor.
# custom:
#   code: irreversible_post_hoc
package hitl.rules.irreversible_post_hoc

import data.hitl.config
import data.hitl.facts
import data.hitl.lib.reason

_settings := config.rule_setting("irreversible_post_hoc")

# METADATA
# title: Irreversible post-hoc reason
# description: The effective type is a post-hoc class and action.reversible is not true.
# custom:
#   code: irreversible_post_hoc
reasons contains reason.make("irreversible_post_hoc", tier, message) if {
	facts.post_hoc_class
	not facts.reversible
	tier := _settings.irreversible_floor
	message := sprintf(
		"%s is reviewed after the fact only when reversible, and this action is not marked reversible: it needs at least %s",
		[facts.effective_type, tier],
	)
}
