# METADATA
# title: Tests for hitl.rules.pii_touch
# description: Touching PII takes at least the touch floor, when the profile sets one.
package hitl.rules.pii_touch_test

import data.hitl.fixtures_test as fx
import data.hitl.rules.pii_touch

test_touch_fires if {
	rs := pii_touch.reasons with input as fx.input_with({"impact": {"pii": true}})
		with data.hitl.profiles as fx.profiles
	rs == {{"code": "pii_touch", "tier": "single_approval", "message": "the action touches PII: it needs at least single_approval"}}
}

test_no_pii_does_not_fire if {
	rs := pii_touch.reasons with input as fx.input_with({}) with data.hitl.profiles as fx.profiles
	rs == set()
}

test_null_floor_does_not_fire if {
	rs := pii_touch.reasons with input as fx.input_with({"impact": {"pii": true}})
		with data.hitl.profiles as fx.profiles_with({"pii": {"touch_floor": null}})
	rs == set()
}
