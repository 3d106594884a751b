# METADATA
# title: Budget
# description: An action whose estimated cost is over the profile's per-action budget takes the over-budget tier.
# custom:
#   code: over_budget
package hitl.rules.budget

import data.hitl.config
import data.hitl.facts
import data.hitl.lib.reason

_settings := config.rule_setting("budget")

# METADATA
# title: Over-budget reason
# description: impact.estimated_cost_usd is greater than budget.per_action_usd.
# custom:
#   code: over_budget
reasons contains reason.make("over_budget", tier, message) if {
	cost := facts.manifest.impact.estimated_cost_usd
	is_number(cost)
	cost > _settings.per_action_usd
	tier := _settings.over_budget_tier
	message := sprintf(
		"estimated cost %v USD is over the per-action budget of %v USD: it %s",
		[cost, _settings.per_action_usd, reason.needs(tier)],
	)
}
