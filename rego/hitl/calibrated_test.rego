# METADATA
# title: Tests for hitl.calibrated
# description: Bin lookup, per-type tables, thin bins and both fallbacks, and when calibration does not apply.
package hitl.calibrated_test

import data.hitl.calibrated
import data.hitl.fixtures_test as fx

_bin(lower, upper, n, accuracy) := {"lower": lower, "upper": upper, "count": n, "mean_confidence": upper, "accuracy": accuracy}

# METADATA
# title: Calibration data
# description: agent-1, over-confident at the top overall; its write table is well calibrated.
calibration := {"agents": {"agent-1": {
	"overall": {"samples": 200, "accuracy": 0.7, "bins": [
		_bin(0, 0.5, 5, 0.2), _bin(0.5, 0.8, 50, 0.9),
		_bin(0.8, 0.9, 3, 1), _bin(0.9, 1, 142, 0.6),
	]},
	"action_types": {
		"write": {"samples": 60, "accuracy": 0.95, "bins": [_bin(0, 0.9, 0, null), _bin(0.9, 1, 60, 0.95)]},
		"drop": {"samples": 10, "accuracy": 1, "bins": [_bin(0, 0.9, 0, null), _bin(0.9, 1, 10, 1)]},
	},
}}}

_with(patch, profiles) := {"value": v, "explanation": e} if {
	v := calibrated.value with input as fx.input_with(patch) with data.hitl.profiles as profiles
		with data.hitl.calibration as calibration
	e := calibrated.explanation with input as fx.input_with(patch) with data.hitl.profiles as profiles
		with data.hitl.calibration as calibration
}

_of(type, confidence) := _with({"action": {"type": type, "confidence": confidence}}, fx.profiles)

test_overall_table_bin_accuracy if {
	_of("schema_migration", 0.95) == {"value": 0.6, "explanation": "from agent-1's record: 142 outcomes in bin 0.9-1"}
}

test_top_edge_is_in_the_last_bin if {
	_of("schema_migration", 1).value == 0.6
}

test_under_confident_bin_raises if {
	_of("schema_migration", 0.6).value == 0.9
}

test_type_table_with_enough_outcomes if {
	_of("write", 0.95) == {"value": 0.95, "explanation": "from agent-1 write's record: 60 outcomes in bin 0.9-1"}
}

test_type_table_with_too_few_outcomes_uses_the_agent_table if {
	_of("drop", 0.95).value == 0.6
}

test_thin_bin_falls_back_to_agent_accuracy_capped_by_the_stated_value if {
	_of("schema_migration", 0.85) == {
		"value": 0.7,
		"explanation": "agent-1's record has 3 outcomes in bin 0.8-0.9, under 10: fallback agent_accuracy",
	}
	_of("schema_migration", 0.3).value == 0.3
	calibrated.thin with input as fx.input_with({"action": {"type": "schema_migration", "confidence": 0.85}})
		with data.hitl.profiles as fx.profiles with data.hitl.calibration as calibration
}

test_penalty_fallback if {
	profiles := fx.profiles_with({"calibration": object.union(
		fx.profile.calibration,
		{"fallback": {"mode": "penalty", "penalty": 0.25}},
	)})
	_with({"action": {"type": "schema_migration", "confidence": 0.85}}, profiles).value == 0.6
	_with({"action": {"type": "schema_migration", "confidence": 0.1}}, profiles).value == 0
}

test_no_bin_falls_back if {
	gap := {"agents": {"agent-1": {"overall": {"samples": 9, "accuracy": 0.5, "bins": [_bin(0, 0.5, 9, 0.5)]}}}}
	v := calibrated.value with input as fx.input_with({"action": {"confidence": 0.9}})
		with data.hitl.profiles as fx.profiles with data.hitl.calibration as gap
	v == 0.5
	e := calibrated.explanation with input as fx.input_with({"action": {"confidence": 0.9}})
		with data.hitl.profiles as fx.profiles with data.hitl.calibration as gap
	e == "agent-1's record has no bin for it: fallback agent_accuracy"
}

test_does_not_apply_without_data_confidence_or_when_off if {
	not calibrated.applies with input as fx.input_with({"agent": {"id": "agent-9"}})
		with data.hitl.profiles as fx.profiles with data.hitl.calibration as calibration
	not calibrated.applies with input as fx.input_with({"action": {"confidence": null}})
		with data.hitl.profiles as fx.profiles with data.hitl.calibration as calibration
	off := fx.profiles_with({"calibration": object.union(fx.profile.calibration, {"enabled": false})})
	not calibrated.applies with input as fx.input_with({}) with data.hitl.profiles as off
		with data.hitl.calibration as calibration
	not calibrated.applies with input as fx.input_with({}) with data.hitl.profiles as fx.profiles
}
