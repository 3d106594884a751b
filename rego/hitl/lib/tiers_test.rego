# METADATA
# title: Tests for hitl.lib.tiers
# description: Tier ordering and strictest.
package hitl.lib.tiers_test

import data.hitl.lib.tiers

test_order_and_rank if {
	tiers.rank.auto_approve < tiers.rank.single_approval
	tiers.rank.single_approval < tiers.rank.double_approval
	tiers.rank.double_approval < tiers.rank.escalate
	tiers.rank.escalate < tiers.rank.block
	tiers.lowest == "auto_approve"
}

test_strictest_of_set if {
	tiers.strictest({"single_approval", "block", "auto_approve"}) == "block"
	tiers.strictest({"double_approval", "escalate"}) == "escalate"
	tiers.strictest({"auto_approve"}) == "auto_approve"
}

test_strictest_of_array if {
	tiers.strictest(["single_approval", "double_approval", "single_approval"]) == "double_approval"
}

test_strictest_of_nothing_is_undefined if {
	not tiers.strictest(set())
	not tiers.strictest([])
}

test_strictest_with_a_non_tier_is_undefined if {
	not tiers.strictest({"auto_approve", "maybe"})
}
