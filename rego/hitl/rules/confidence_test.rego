# METADATA
# title: Tests for hitl.rules.confidence
# description: Non-read actions under the threshold, or without a confidence, take the below-threshold tier.
package hitl.rules.confidence_test

import data.hitl.calibrated_test as cal
import data.hitl.fixtures_test as fx
import data.hitl.rules.confidence

_reasons(patch) := rs if {
	rs := confidence.reasons with input as fx.input_with(patch) with data.hitl.profiles as fx.profiles
}

test_under_threshold_fires if {
	_reasons({"action": {"confidence": 0.5}}) == {{
		"code": "low_confidence", "tier": "escalate",
		"message": "confidence 0.5 is under the threshold 0.8 for non-read actions: it needs escalate",
	}}
}

test_missing_confidence_fires if {
	_reasons({"action": {"confidence": null}}) == {{
		"code": "low_confidence", "tier": "escalate",
		"message": "no confidence was given, and non-read actions need at least 0.8: it needs escalate",
	}}
}

test_at_or_over_threshold_does_not_fire if {
	_reasons({"action": {"confidence": 0.8}}) == set()
	_reasons({"action": {"confidence": 0.99}}) == set()
}

test_read_actions_are_exempt if {
	_reasons({"action": {"type": "read", "confidence": null}}) == set()
	_reasons({"action": {"type": "read", "confidence": 0.1}}) == set()
}

test_unknown_types_are_not_exempt if {
	count(_reasons({"action": {"type": "frobnicate", "confidence": null}})) == 1
}

test_a_read_that_drops_is_not_exempt if {
	count(_reasons({"action": {"type": "read", "statement": "DROP TABLE t", "confidence": 0.5}})) == 1
}

test_threshold_comes_from_the_profile if {
	rs := confidence.reasons with input as fx.input_with({"action": {"confidence": 0.99}})
		with data.hitl.profiles as fx.profiles_with({"rules": {"confidence": {"threshold": 1}}})
	count(rs) == 1
}

test_calibrated_confidence_is_compared_and_shown if {
	rs := confidence.reasons with input as fx.input_with({"action": {"type": "schema_migration", "confidence": 0.95}})
		with data.hitl.profiles as fx.profiles with data.hitl.calibration as cal.calibration
	rs == {{
		"code": "low_confidence", "tier": "escalate",
		"message": "confidence 0.95, calibrated to 0.6 (from agent-1's record: 142 outcomes in bin 0.9-1), is under the threshold 0.8 for non-read actions: it needs escalate",
	}}
}

test_under_confident_agent_is_not_escalated if {
	rs := confidence.reasons with input as fx.input_with({"action": {"type": "schema_migration", "confidence": 0.6}})
		with data.hitl.profiles as fx.profiles with data.hitl.calibration as cal.calibration
	rs == set()
	count(_reasons({"action": {"type": "schema_migration", "confidence": 0.6}})) == 1
}
