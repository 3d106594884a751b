package hitl.trust_levels_test

import data.hitl.fixtures_test as fixtures
import data.hitl.trust_levels

# The shared fixture profile with trust minimums small enough to reach in a table of agents.
_minimums := {"trust": {"minimums": {
	"low": {"min_reviewed": 10, "min_approval_rate": 0.9},
	"medium": {"min_reviewed": 20, "min_approval_rate": 0.95},
}}}

_agents := {
	"fresh": {"level": "suggestion", "reviewed": 0, "approved": 0, "rejected": 0},
	"ready-for-low": {"level": "suggestion", "reviewed": 10, "approved": 9, "rejected": 1},
	"ready-for-medium": {"level": "suggestion", "reviewed": 20, "approved": 19, "rejected": 1},
	"low-at-low": {"level": "low", "reviewed": 15, "approved": 14, "rejected": 1},
	"medium-slipping": {"level": "medium", "reviewed": 40, "approved": 37, "rejected": 3},
	"medium-failing": {"level": "medium", "reviewed": 40, "approved": 30, "rejected": 10},
}

_levels_under(patch, agents) := result if {
	result := trust_levels.levels with input as {"profile": "fx", "track_record": {"agents": agents}}
		with data.hitl.profiles as fixtures.profiles_with(object.union(_minimums, patch))
}

_levels := _levels_under({}, _agents)

test_nothing_reviewed_supports_only_suggestion if {
	_levels.fresh == {"granted": "suggestion", "supported": "suggestion", "effective": "suggestion", "promotable": []}
}

test_minimums_reached_exactly_support_the_level if {
	_levels["ready-for-low"] == {"granted": "suggestion", "supported": "low", "effective": "suggestion", "promotable": ["low"]}
}

test_every_supported_level_above_the_grant_is_promotable if {
	_levels["ready-for-medium"].promotable == ["low", "medium"]
	_levels["ready-for-medium"].supported == "medium"
}

test_a_granted_level_the_record_supports_is_effective if {
	_levels["low-at-low"] == {"granted": "low", "supported": "low", "effective": "low", "promotable": []}
}

test_a_record_under_the_granted_minimum_demotes if {
	_levels["medium-slipping"] == {"granted": "medium", "supported": "low", "effective": "low", "promotable": []}
	_levels["medium-failing"].effective == "suggestion"
}

test_only_agents_whose_record_outgrew_their_grant_have_promotable_levels if {
	promotable := {agent | some agent, standing in _levels; count(standing.promotable) > 0}
	promotable == {"ready-for-low", "ready-for-medium"}
}

test_thresholds_come_from_the_profile if {
	stricter := _levels_under({"trust": {"minimums": {"low": {"min_reviewed": 11}}}}, _agents)
	stricter["ready-for-low"].promotable == []
	stricter["ready-for-medium"].promotable == ["low", "medium"]
}

test_an_unknown_profile_defines_nothing if {
	levels := trust_levels.levels with input as {"profile": "nope", "track_record": {"agents": _agents}}
		with data.hitl.profiles as fixtures.profiles
	levels == {}
}

test_an_incomplete_profile_defines_nothing if {
	levels := trust_levels.levels with input as {"profile": "fx", "track_record": {"agents": _agents}}
		with data.hitl.profiles as {"fx": json.remove(fixtures.profile, ["/delivery"])}
	levels == {}
}

test_a_granted_value_that_is_not_a_level_gets_no_standing if {
	levels := _levels_under({}, {"odd": {"level": "root", "reviewed": 50, "approved": 50, "rejected": 0}})
	not levels.odd
}
