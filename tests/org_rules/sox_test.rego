# METADATA
# title: Tests for hitl.rules.sox
# description: A change to a SOX table takes the profile's SOX tier, written with data.hitl.testing.
package hitl.rules.sox_test

import data.hitl.testing

sox := testing.profile({"rules": {"sox": {"tables": ["analytics.ledger"], "tier": "escalate"}}})

test_a_sox_table_takes_the_sox_tier if {
	decision := testing.decide(sox, testing.manifest({"target": {"resource": "analytics.ledger"}}))
	decision.tier == "escalate"
	"sox_table" in testing.codes(decision)
}

test_another_table_does_not if {
	decision := testing.decide(sox, testing.manifest({"target": {"resource": "analytics.orders"}}))
	not "sox_table" in testing.codes(decision)
}
