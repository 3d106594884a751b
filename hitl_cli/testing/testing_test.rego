# METADATA
# title: Tests for hitl.testing
# description: The helpers decide as hitl does.
package hitl.testing_test

import data.hitl.fixtures_test as fx
import data.hitl.testing

test_a_dev_read_is_auto_approved if {
	d := testing.decide(testing.profile({}), testing.manifest({})) with data.hitl.profiles as {"default": fx.profile}
	d.tier == "auto_approve"
	"dev_read" in testing.codes(d)
}

test_the_patches_are_deep_merged if {
	m := testing.manifest({"action": {"type": "write"}, "target": {"environment": "production"}})
	p := testing.profile({"metadata": {"name": "patched"}}) with data.hitl.profiles as {"default": fx.profile}
	d := testing.decide(p, m) with data.hitl.profiles as {"default": fx.profile}
	d.profile == "patched"
	d.tier == "double_approval"
	m.action.confidence == 0.99
}
