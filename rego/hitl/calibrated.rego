# METADATA
# title: Calibrated confidence
# description: |
#   The agent's stated confidence read through its calibration data (data.hitl.calibration, written by
#   `hitl calibrate`): the observed accuracy of the reliability-table bin the confidence falls in. The
#   table is the agent's table for the effective action type when that holds at least
#   calibration.min_samples_per_action_type outcomes, else the agent's overall table. A bin with fewer
#   than calibration.min_samples_per_bin outcomes takes the profile's fallback. Undefined (the stated
#   confidence is used as it is) when calibration is off, the confidence is missing or the agent has no
#   calibration data.
package hitl.calibrated

import data.hitl.config
import data.hitl.facts

_stated := facts.manifest.action.confidence

_agent := data.hitl.calibration.agents[facts.agent_id]

# METADATA
# title: Applies
# description: Calibration is on, the action states a confidence and the agent has calibration data.
applies if {
	config.calibration.enabled == true
	is_number(_stated)
	is_object(_agent.overall)
}

_type_table := t if {
	t := _agent.action_types[facts.effective_type]
	t.samples >= config.calibration.min_samples_per_action_type
}

# METADATA
# title: Table
# description: The reliability table used - per action type when it has enough outcomes, else the agent's.
table := _type_table if applies

else := _agent.overall if applies

# METADATA
# title: Scope
# description: Whose record the table is, for messages ("agent-1" or "agent-1 write").
scope := sprintf("%s %s", [facts.agent_id, facts.effective_type]) if {
	applies
	_type_table
} else := facts.agent_id if applies

_top := max({b.upper | some b in table.bins})

_in_bin(c, b) if {
	c >= b.lower
	c < b.upper
}

_in_bin(c, b) if {
	c == b.upper
	b.upper == _top
}

# METADATA
# title: Bin
# description: The first bin of the table whose range holds the stated confidence (the top edge is in the last bin).
bin := table.bins[min({i | some i, b in table.bins; _in_bin(_stated, b)})]

# METADATA
# title: Thin bin
# description: There is no bin for the confidence, or it has fewer outcomes than calibration.min_samples_per_bin.
thin if {
	applies
	not _enough
}

_enough if bin.count >= config.calibration.min_samples_per_bin

# METADATA
# title: Calibrated confidence
# description: The bin's observed accuracy, or the fallback for a thin bin.
value := bin.accuracy if {
	applies
	_enough
} else := fallback if applies

# METADATA
# title: Fallback
# scope: document
# description: |
#   agent_accuracy: the table's overall observed accuracy, never above the stated confidence;
#   penalty: the stated confidence minus calibration.fallback.penalty, not below zero.
fallback := min([_stated, table.accuracy]) if config.calibration.fallback.mode == "agent_accuracy"

fallback := max([_stated - config.calibration.fallback.penalty, 0]) if config.calibration.fallback.mode == "penalty"

# METADATA
# title: How it was calibrated
# description: A phrase for messages naming the table, the bin and its sample count, and the fallback when used.
explanation := sprintf("from %s's record: %v outcomes in bin %v-%v", [scope, bin.count, bin.lower, bin.upper]) if {
	applies
	_enough
} else := sprintf(
	"%s's record has %v outcomes in bin %v-%v, under %v: fallback %s",
	[scope, bin.count, bin.lower, bin.upper, config.calibration.min_samples_per_bin, config.calibration.fallback.mode],
) if {
	applies
	bin
} else := sprintf("%s's record has no bin for it: fallback %s", [scope, config.calibration.fallback.mode]) if applies
