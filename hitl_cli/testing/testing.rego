# METADATA
# title: Testing helpers for organisation rules
# description: |
#   What an organisation's Rego tests use instead of hitl's internals; `hitl test` loads it beside the
#   policies (a decision run never does). data.hitl.profiles holds the shipped profiles as hitl loads
#   them: every rule's settings under rules.<rule>, the organisation rules' defaults filled in.
package hitl.testing

import data.hitl.main

# METADATA
# title: Fixture profile
# description: |
#   The shipped default profile deep-merged with patch, e.g. profile({"rules": {"sox": {"tables": ["t"]}}}).
#   A profile object for decide.
profile(patch) := object.union(data.hitl.profiles["default"], patch)

# METADATA
# title: Fixture manifest
# description: |
#   A confident, reversible, non-novel read in dev by agent-1, without PII and with negligible cost,
#   deep-merged with patch, e.g. manifest({"action": {"type": "write"}}).
manifest(patch) := object.union(_manifest, patch)

_manifest := {
	"apiVersion": "hitl/v1",
	"kind": "ActionManifest",
	"metadata": {"id": "test-1", "created": null},
	"agent": {"id": "agent-1"},
	"action": {
		"type": "read", "summary": "A test action", "statement": null,
		"confidence": 0.99, "reversible": true, "novel": false,
	},
	"target": {"environment": "dev", "system": null, "resource": null, "resource_type": null},
	"impact": {"pii": false, "exposes_pii": false, "rows_affected": null, "estimated_cost_usd": 0.01},
	"context": {"why": null, "read": null, "risks": null, "plan": null, "rollback": null},
}

# METADATA
# title: Decide
# description: |
#   The decision hitl's policies (shipped and organisation rules together) make for manifest under the
#   profile object, for an agent the track record does not know (so it runs in suggestion mode), with no
#   waiver in force. Undefined when no decision can be made.
decide(profile, manifest) := decision if {
	decision := main.decision with data.hitl.profiles as {"testing": profile}
		with input as {"profile": "testing", "manifest": manifest, "track_record": {"agents": {}}, "now": null}
}

# METADATA
# title: Reason codes
# description: The reason codes of a decision, as a set.
codes(decision) := {r.code | some r in decision.reasons}
