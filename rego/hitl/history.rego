# METADATA
# title: History from the state store
# description: |
#   What the state store says about the past, as the Python side gathered it into input.history:
#   precedents (one object per distinct approved or overridden action, with the fields a fingerprint may
#   use: agent, action_type, environment, system, resource_type, resource) and spent_today (day, spend per
#   agent, organisation total, and each counted manifest's own spend). Absent when the run reads no store.
#   A request carries the part that concerns its manifests: the precedents that agree with one of them on
#   each fingerprint field but action_type (hitl_cli.policy_history.STATED_FIELDS), the spend of their
#   agents and of themselves, the organisation's total.
#   The fingerprint is computed here, from the profile's field list, for both sides.
package hitl.history

import data.hitl.config
import data.hitl.facts

# METADATA
# title: Known
# description: True when the run read a state store (input.history is present).
known if is_object(input.history)

# METADATA
# title: Fingerprint of an action
# description: The values of the profile's history_novelty.fingerprint fields, in order (null when missing).
fingerprint(action) := [object.get(action, field, null) | some field in config.rule_setting("history_novelty").fingerprint]

# METADATA
# title: Candidate
# description: The action under evaluation described with the fingerprint fields.
candidate := {
	"agent": facts.agent_id,
	"action_type": facts.effective_type,
	"environment": facts.environment,
	"system": object.get(facts.manifest, ["target", "system"], null),
	"resource_type": object.get(facts.manifest, ["target", "resource_type"], null),
	"resource": object.get(facts.manifest, ["target", "resource"], null),
}

# METADATA
# title: Precedented
# description: True when some precedent in the store has the candidate's fingerprint.
precedented if {
	mine := fingerprint(candidate)
	some precedent in input.history.precedents
	fingerprint(precedent) == mine
}

_spent := input.history.spent_today

# The spend the store already counts for this very manifest (a resubmission or a re-check of it), which
# must not be counted twice.
_own := object.get(_spent, ["manifests", facts.manifest.metadata.id], {"agent": null, "usd": 0})

_own_for_agent := _own.usd if _own.agent == facts.agent_id

else := 0

# METADATA
# title: Day
# description: The UTC day spend is counted for, for messages; says so when no store was read.
day := sprintf("%s UTC", [_spent.day]) if known

else := "no state store was read"

# METADATA
# title: Agent's spend today
# description: USD of the agent's actions approved today, other than this manifest; 0 without a store.
agent_spent := object.get(_spent, ["agents", facts.agent_id], 0) - _own_for_agent if known

else := 0

# METADATA
# title: Organisation's spend today
# description: USD of every action approved today, other than this manifest; 0 without a store.
organisation_spent := object.get(_spent, "organisation", 0) - _own.usd if known

else := 0
