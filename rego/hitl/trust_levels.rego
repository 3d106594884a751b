# METADATA
# title: Trust levels of agents
# description: |
#   For every agent of input.track_record, under the profile named by input.profile: the level a
#   person granted, the highest level its measured record supports, the level it runs at, and the
#   levels above the granted one a person may promote it to now. `hitl trust offers` and
#   `hitl trust promote` ask this package; it reuses the level logic of hitl.facts, so an offer and
#   the decisions made for the agent can never disagree. Nothing is defined for an incomplete profile.
package hitl.trust_levels

import data.hitl.config
import data.hitl.facts
import data.hitl.lib.levels as autonomy

# METADATA
# title: Levels per agent
# description: |
#   agent id -> {granted, supported, effective, promotable}: supported is the highest level the record
#   supports whatever was granted; effective the highest supported level not above the granted one;
#   promotable the supported levels above the granted one, least autonomous first.
levels[agent_id] := standing if {
	config.complete
	some agent_id, record in input.track_record.agents
	supported := facts.levels_supported(record.reviewed, record.approved)
	standing := {
		"granted": record.level,
		"supported": _highest(supported),
		"effective": facts.effective_level(record.level, supported),
		"promotable": [level |
			some level in autonomy.order
			level in supported
			autonomy.rank[level] > autonomy.rank[record.level]
		],
	}
}

_highest(supported) := autonomy.order[max({autonomy.rank[level] | some level in supported})]
