# METADATA
# title: Tests for hitl.rules.pii_exposure
# description: Exposing PII takes the exposure tier.
package hitl.rules.pii_exposure_test

import data.hitl.fixtures_test as fx
import data.hitl.rules.pii_exposure

test_exposure_fires if {
	rs := pii_exposure.reasons with input as fx.input_with({"impact": {"pii": true, "exposes_pii": true}})
		with data.hitl.profiles as fx.profiles
	rs == {{
		"code": "pii_exposure", "tier": "block",
		"message": "the action exposes PII outside its governed boundary: it is blocked (block)",
	}}
}

test_no_exposure_does_not_fire if {
	rs := pii_exposure.reasons with input as fx.input_with({"impact": {"pii": true}})
		with data.hitl.profiles as fx.profiles
	rs == set()
}

test_tier_comes_from_the_profile if {
	rs := pii_exposure.reasons with input as fx.input_with({"impact": {"exposes_pii": true}})
		with data.hitl.profiles as fx.profiles_with({"rules": {"pii_exposure": {"exposure_tier": "escalate"}}})
	[r.tier | some r in rs] == ["escalate"]
}
