# METADATA
# title: Tests for hitl.rules.trust
# description: Suggestion mode and graduated trust.
package hitl.rules.trust_test

import data.hitl.fixtures_test as fx
import data.hitl.rules.trust

_reasons(patch, record) := rs if {
	rs := trust.reasons with input as fx.input_record(patch, record) with data.hitl.profiles as fx.profiles
}

_staging := {"target": {"environment": "staging"}}

test_trusted_agent_runs_medium_risk_unsupervised if {
	_reasons(_staging, fx.trusted) == set()
}

test_trusted_agent_is_supervised_for_high_risk if {
	_reasons({"target": {"environment": "production"}}, fx.trusted) == {{
		"code": "trust_level", "tier": "single_approval",
		"message": "agent agent-1 runs at medium (granted medium; 1000 of 1000 approved): high-risk actions need at least single_approval",
	}}
}

test_new_agent_is_in_suggestion_mode if {
	_reasons(_staging, {"agents": {}}) == {{
		"code": "suggestion_mode", "tier": "single_approval",
		"message": "agent agent-1 runs at suggestion (new: not in the track record): medium-risk actions need at least single_approval",
	}}
}

test_agent_with_an_invalid_entry_is_told_so if {
	_reasons(_staging, {"agents": {}, "invalid_agents": ["agent-1"]}) == {{
		"code": "suggestion_mode", "tier": "single_approval",
		"message": "agent agent-1 runs at suggestion (its track-record entry is invalid, so it is treated as new): medium-risk actions need at least single_approval",
	}}
}

test_suggestion_mode_covers_low_risk_non_read_actions if {
	rs := _reasons({"action": {"type": "catalog_update"}}, {"agents": {}})
	[r.code | some r in rs] == ["suggestion_mode"]
}

test_read_actions_are_never_supervised if {
	_reasons({"action": {"type": "read"}, "target": {"environment": "production"}}, {"agents": {}}) == set()
}

test_demoted_agent_names_the_minimum_it_misses if {
	_reasons(_staging, fx.record("medium", 260, 241)) == {{
		"code": "suggestion_mode", "tier": "single_approval",
		"message": "agent agent-1 runs at suggestion (granted medium; 241 of 260 approved is under the minimum for low of 50 reviewed at approval rate 0.95): medium-risk actions need at least single_approval",
	}}
}

test_demoted_to_low if {
	_reasons(_staging, fx.record("medium", 150, 147)) == {{
		"code": "trust_level", "tier": "single_approval",
		"message": "agent agent-1 runs at low (granted medium; 147 of 150 approved is under the minimum for medium of 200 reviewed at approval rate 0.97): medium-risk actions need at least single_approval",
	}}
}

test_low_level_runs_low_risk_unsupervised if {
	_reasons({"action": {"type": "catalog_update"}}, fx.record("low", 100, 100)) == set()
	count(_reasons(_staging, fx.record("low", 100, 100))) == 1
}

test_unknown_type_is_supervised if {
	rs := _reasons({"action": {"type": "frobnicate"}}, fx.trusted)
	[r.code | some r in rs] == ["trust_level"]
}

test_autonomy_comes_from_the_profile if {
	rs := trust.reasons with input as fx.input_record({"target": {"environment": "production"}}, fx.trusted)
		with data.hitl.profiles as fx.profiles_with({"rules": {"trust": {
			"autonomous_risks": {"medium": ["low", "medium", "high"]},
			"supervised_floor": "double_approval",
		}}})
	rs == set()
	ss := trust.reasons with input as fx.input_record(_staging, {"agents": {}})
		with data.hitl.profiles as fx.profiles_with({"rules": {"trust": {"supervised_floor": "double_approval"}}})
	[r.tier | some r in ss] == ["double_approval"]
}
