# METADATA
# title: Tests for hitl.lib.reason
# description: The reason constructor and tier phrases.
package hitl.lib.reason_test

import data.hitl.lib.reason

test_make if {
	reason.make("c", "block", "m") == {"code": "c", "tier": "block", "message": "m"}
}

test_needs if {
	reason.needs("auto_approve") == "may run at once (auto_approve)"
	reason.needs("single_approval") == "needs single_approval"
	reason.needs("escalate") == "needs escalate"
	reason.needs("block") == "is blocked (block)"
}
