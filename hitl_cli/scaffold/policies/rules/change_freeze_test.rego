# METADATA
# title: Tests for hitl.rules.change_freeze
# description: Written with data.hitl.testing, as hitl decides, without hitl internals.
package hitl.rules.change_freeze_test

import data.hitl.testing

frozen := testing.profile({"rules": {"change_freeze": {"environments": ["production"], "tier": "escalate"}}})

test_a_write_in_a_frozen_environment_escalates if {
	decision := testing.decide(frozen, testing.manifest({"action": {"type": "write"}, "target": {"environment": "production"}}))
	decision.tier == "escalate"
	"change_freeze" in testing.codes(decision)
}

test_a_read_is_never_frozen if {
	decision := testing.decide(frozen, testing.manifest({"target": {"environment": "production"}}))
	not "change_freeze" in testing.codes(decision)
}

test_nothing_is_frozen_by_default if {
	decision := testing.decide(testing.profile({}), testing.manifest({"action": {"type": "write"}, "target": {"environment": "production"}}))
	not "change_freeze" in testing.codes(decision)
}
