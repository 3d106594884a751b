# METADATA
# title: Tests for hitl.rules.sox
# description: A write to a SOX table takes the profile's SOX tier.
package hitl.rules.sox_test

import data.hitl.rules.sox

test_a_sox_table_takes_the_sox_tier if {
	profiles := {"p": {"rules": {"sox": {"tables": ["ledger"], "tier": "escalate"}}}}
	some r in sox.reasons with data.hitl.profiles as profiles
		with input as {"profile": "p", "manifest": {"target": {"resource": "ledger"}}}
	r.tier == "escalate"
}
