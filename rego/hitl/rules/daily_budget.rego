# METADATA
# title: Daily budgets
# description: |
#   The estimated cost of an action, added to the spend already approved today (UTC) in the state store,
#   over the agent's daily budget (daily_budget.agents[agent], else per_agent_usd) or the organisation's
#   (organisation_usd) takes daily_budget.over_budget_tier. Without a store the spend so far counts as 0.
#   A null budget is no budget; an action with no cost estimate adds nothing.
# custom:
#   code: [daily_agent_budget, daily_organisation_budget]
package hitl.rules.daily_budget

import data.hitl.config
import data.hitl.facts
import data.hitl.history
import data.hitl.lib.reason

_settings := config.rule_setting("daily_budget")

_cost := c if {
	c := facts.manifest.impact.estimated_cost_usd
	is_number(c)
}

_agent_budget := object.get(_settings.agents, facts.agent_id, _settings.per_agent_usd)

# METADATA
# title: Daily budget reasons
# scope: document
# description: One reason for the agent's budget and one for the organisation's, each showing the numbers.
# custom:
#   code: [daily_agent_budget, daily_organisation_budget]
reasons contains reason.make("daily_agent_budget", tier, message) if {
	is_number(_agent_budget)
	total := history.agent_spent + _cost
	total > _agent_budget
	tier := _settings.over_budget_tier
	message := sprintf(
		"agent %s has %v USD approved today (%s); with this action's %v USD that is %v USD, over its daily budget of %v USD: it %s",
		[facts.agent_id, history.agent_spent, history.day, _cost, total, _agent_budget, reason.needs(tier)],
	)
}

reasons contains reason.make("daily_organisation_budget", tier, message) if {
	budget := _settings.organisation_usd
	is_number(budget)
	total := history.organisation_spent + _cost
	total > budget
	tier := _settings.over_budget_tier
	message := sprintf(
		"the organisation has %v USD approved today (%s); with this action's %v USD that is %v USD, over its daily budget of %v USD: it %s",
		[history.organisation_spent, history.day, _cost, total, budget, reason.needs(tier)],
	)
}
