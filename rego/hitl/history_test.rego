# METADATA
# title: Tests for hitl.history
# description: Fingerprints from the profile's fields, precedents, and today's spend without double counting.
package hitl.history_test

import data.hitl.fixtures_test as fx
import data.hitl.history

_precedent := {
	"agent": "agent-1", "action_type": "write", "environment": "dev",
	"system": null, "resource_type": null, "resource": null,
}

_spent := {
	"day": "2026-11-24", "agents": {"agent-1": 300, "agent-2": 40}, "organisation": 340,
	"manifests": {"act-1": {"agent": "agent-1", "usd": 100}, "act-2": {"agent": "agent-2", "usd": 40}},
}

# METADATA
# title: Input with history
# description: The fixture input with an input.history of the given precedents and the fixed spend.
with_history(patch, precedents) := object.union(fx.input_with(patch), {"history": {
	"precedents": precedents,
	"spent_today": _spent,
}})

test_fingerprint_follows_the_profile_fields if {
	fp := history.fingerprint(_precedent) with input as fx.input_with({}) with data.hitl.profiles as fx.profiles
	fp == ["agent-1", "write", "dev"]
	more := fx.profiles_with({"rules": {"history_novelty": {"enabled": true, "fingerprint": ["resource", "agent"], "tier": "escalate"}}})
	history.fingerprint({"agent": "a"}) == [null, "a"] with input as fx.input_with({}) with data.hitl.profiles as more
}

test_precedented if {
	history.precedented with input as with_history({}, [_precedent]) with data.hitl.profiles as fx.profiles
	not history.precedented with input as with_history({"target": {"environment": "staging"}}, [_precedent])
		with data.hitl.profiles as fx.profiles
	not history.precedented with input as with_history({}, []) with data.hitl.profiles as fx.profiles
}

test_spend_excludes_this_manifest if {
	history.agent_spent == 200 with input as with_history({}, []) with data.hitl.profiles as fx.profiles
	history.organisation_spent == 240 with input as with_history({}, []) with data.hitl.profiles as fx.profiles
	history.day == "2026-11-24 UTC" with input as with_history({}, []) with data.hitl.profiles as fx.profiles
	other := {"metadata": {"id": "act-9"}}
	history.agent_spent == 300 with input as with_history(other, []) with data.hitl.profiles as fx.profiles
	history.organisation_spent == 340 with input as with_history(other, []) with data.hitl.profiles as fx.profiles
}

test_spend_of_this_manifest_by_another_agent_only_leaves_the_organisation if {
	patch := {"metadata": {"id": "act-2"}}
	history.agent_spent == 300 with input as with_history(patch, []) with data.hitl.profiles as fx.profiles
	history.organisation_spent == 300 with input as with_history(patch, []) with data.hitl.profiles as fx.profiles
}

test_without_a_store if {
	not history.known with input as fx.input_with({}) with data.hitl.profiles as fx.profiles
	history.agent_spent == 0 with input as fx.input_with({}) with data.hitl.profiles as fx.profiles
	history.organisation_spent == 0 with input as fx.input_with({}) with data.hitl.profiles as fx.profiles
	history.day == "no state store was read" with input as fx.input_with({}) with data.hitl.profiles as fx.profiles
}
