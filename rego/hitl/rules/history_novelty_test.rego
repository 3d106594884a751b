# METADATA
# title: Tests for hitl.rules.history_novelty
# description: No precedent escalates even for novel false; a precedent, no store or the rule off does not.
package hitl.rules.history_novelty_test

import data.hitl.fixtures_test as fx
import data.hitl.history_test as h
import data.hitl.rules.history_novelty

_precedent := {
	"agent": "agent-1", "action_type": "write", "environment": "dev",
	"system": "snowflake", "resource_type": "table", "resource": "analytics.orders",
}

test_no_precedent_escalates if {
	rs := history_novelty.reasons with input as h.with_history({"action": {"novel": false}}, [])
		with data.hitl.profiles as fx.profiles
	rs == {{
		"code": "no_precedent", "tier": "escalate",
		"message": "no approved action in the state store has the same agent, action_type, environment (agent-1, write, dev): it needs escalate",
	}}
}

test_a_precedent_does_not if {
	rs := history_novelty.reasons with input as h.with_history({}, [_precedent]) with data.hitl.profiles as fx.profiles
	rs == set()
}

test_no_store_does_not if {
	history_novelty.reasons == set() with input as fx.input_with({}) with data.hitl.profiles as fx.profiles
}

test_the_rule_can_be_turned_off if {
	off := fx.profiles_with({"rules": {"history_novelty": {"enabled": false, "fingerprint": ["agent"], "tier": "escalate"}}})
	history_novelty.reasons == set() with input as h.with_history({}, []) with data.hitl.profiles as off
}

test_fingerprint_fields_and_tier_are_data if {
	finer := fx.profiles_with({"rules": {"history_novelty": {"enabled": true, "fingerprint": ["agent", "resource"], "tier": "block"}}})
	patch := {"target": {"resource": "analytics.refunds"}}
	rs := history_novelty.reasons with input as h.with_history(patch, [_precedent]) with data.hitl.profiles as finer
	[r.tier | some r in rs] == ["block"]
	history_novelty.reasons == set() with input as h.with_history(patch, [_precedent]) with data.hitl.profiles as fx.profiles
}
