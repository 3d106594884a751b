# METADATA
# title: Tests for hitl.main
# description: The decision object, reason order, fail-closed cases and batches.
package hitl.main_test

import data.hitl.fixtures_test as fx
import data.hitl.main

_decide(patch) := d if {
	d := main.decision with input as fx.input_with(patch) with data.hitl.profiles as fx.profiles
}

test_decision_object if {
	_decide({"target": {"environment": "production"}}) == {
		"id": "act-1",
		"tier": "double_approval",
		"approvals_required": 2,
		"post_hoc_review": false,
		"delivery": "interrupt",
		"agent_level": "medium",
		"profile": "fixture",
		"reasons": [
			{
				"code": "production_write", "tier": "double_approval",
				"message": "write in production needs double_approval under profile fixture",
			},
			{
				"code": "trust_level", "tier": "single_approval",
				"message": "agent agent-1 runs at medium (granted medium; 1000 of 1000 approved): high-risk actions need at least single_approval",
			},
		],
		"agent": "agent-1",
		"action_type": "write",
		"declared_type": "write",
		"environment": "production",
		"risk": "high",
	}
}

test_auto_approve if {
	d := _decide({})
	d.tier == "auto_approve"
	d.approvals_required == 0
	d.delivery == "none"
	not d.post_hoc_review
	[r.code | some r in d.reasons] == ["dev_write"]
}

test_post_hoc_review_goes_to_the_digest if {
	d := _decide({"action": {"type": "catalog_update"}, "target": {"environment": "production"}})
	d.tier == "auto_approve"
	d.post_hoc_review
	d.delivery == "digest"
	d.risk == "low"
}

test_no_post_hoc_review_when_not_auto_approved if {
	d := _decide({"action": {"type": "catalog_update", "reversible": false}})
	d.tier == "single_approval"
	not d.post_hoc_review
	d.delivery == "digest"
	d.approvals_required == 1
}

test_tier_is_the_strictest_reason_and_reasons_are_sorted if {
	patch := {
		"action": {"type": "write", "statement": "DELETE FROM t", "confidence": null, "novel": true},
		"target": {"environment": "staging"},
		"impact": {"pii": true, "exposes_pii": true, "estimated_cost_usd": 1000},
	}
	facts := fx.statement_facts([fx.operation("delete", ["t"])])
	d := main.decision with input as fx.input_facts(patch, facts) with data.hitl.profiles as fx.profiles
	d.tier == "block"
	d.approvals_required == 0
	d.delivery == "interrupt"
	d.action_type == "delete"
	d.declared_type == "write"
	[[r.tier, r.code] | some r in d.reasons] == [
		["block", "over_budget"],
		["block", "pii_exposure"],
		["escalate", "low_confidence"],
		["escalate", "novel_action"],
		["double_approval", "destructive_statement"],
		["double_approval", "staging_delete"],
		["double_approval", "statement_type"],
		["single_approval", "pii_touch"],
		["single_approval", "staging_write"],
		["single_approval", "trust_level"],
	]
}

test_reasons_with_the_same_tier_and_code_sort_by_message if {
	sorted := main.sorted_reasons with main.reasons as {
		{"code": "a", "tier": "escalate", "message": "z"},
		{"code": "a", "tier": "escalate", "message": "b"},
		{"code": "b", "tier": "block", "message": "a"},
	}
	sorted == [
		{"code": "b", "tier": "block", "message": "a"},
		{"code": "a", "tier": "escalate", "message": "b"},
		{"code": "a", "tier": "escalate", "message": "z"},
	]
}

test_unknown_type_and_environment_escalate if {
	d := _decide({"action": {"type": "frobnicate"}, "target": {"environment": "qa"}})
	d.tier == "escalate"
	d.risk == "high"
	d.approvals_required == 1
	{r.code | some r in d.reasons} == {"unknown_action_type", "unknown_environment", "trust_level"}
}

test_examples_export_customers_is_blocked if {
	d := main.decision with input as {
		"profile": "fx",
		"track_record": {"agents": {}},
		"manifest": fx.manifest_with({
			"agent": {"id": "analytics-agent"},
			"action": {"type": "read", "confidence": 0.88, "reversible": false},
			"target": {"environment": "production"},
			"impact": {"pii": true, "exposes_pii": true, "rows_affected": 52000, "estimated_cost_usd": null},
		}),
	}
		with data.hitl.profiles as fx.profiles
	d.tier == "block"
	d.agent_level == "suggestion"
}

# --- fail closed ---

test_unknown_profile_has_no_decision if {
	not main.decision with input as object.union(fx.input_with({}), {"profile": "nope"})
		with data.hitl.profiles as fx.profiles
	not main.decisions with input as {"profile": "nope", "manifests": [fx.manifest]}
		with data.hitl.profiles as fx.profiles
}

test_incomplete_profile_has_no_decision if {
	not main.decision with input as fx.input_with({}) with data.hitl.profiles as {"fx": object.remove(fx.profile, ["delivery"])}
	not main.decisions with input as {"profile": "fx", "manifests": [fx.manifest]}
		with data.hitl.profiles as {"fx": object.remove(fx.profile, ["delivery"])}
	no_budget := {"fx": json.remove(fx.profile, ["rules/budget"])}
	not main.decisions with input as {"profile": "fx", "manifests": [fx.manifest]} with data.hitl.profiles as no_budget
		with data.hitl.required_settings as {"budget": {}}
}

test_missing_matrix_cell_has_no_decision if {
	no_tier := json.remove(fx.profile, ["action_types/write/tiers/dev"])
	not main.decision with input as fx.input_with({}) with data.hitl.profiles as {"fx": no_tier}
	no_risk := json.remove(fx.profile, ["action_types/write/risk/dev"])
	not main.decision with input as fx.input_with({}) with data.hitl.profiles as {"fx": no_risk}
}

test_no_reason_means_no_decision if {
	not main.tier with main.reasons as set()
	not main.decision with input as fx.input_with({}) with data.hitl.profiles as fx.profiles with main.reasons as set()
}

test_a_reason_tier_that_is_not_a_tier_means_no_decision if {
	bad := fx.profiles_with({"action_types": {"write": {"tiers": {"dev": "approve"}}}})
	not main.decision with input as fx.input_with({}) with data.hitl.profiles as bad
}

test_a_granted_level_that_is_not_a_level_means_no_decision if {
	not main.decision with input as fx.input_record({}, fx.record("root", 10, 10))
		with data.hitl.profiles as fx.profiles
}

# --- batches ---

_batch := [
	fx.manifest_with({"metadata": {"id": "b-1"}, "action": {"type": "read"}}),
	fx.manifest_with({"metadata": {"id": "b-2"}, "target": {"environment": "production"}}),
	fx.manifest_with({"metadata": {"id": "b-3"}, "agent": {"id": "someone-new"}, "target": {"environment": "staging"}}),
	fx.manifest_with({"metadata": {"id": "b-4"}, "impact": {"exposes_pii": true}}),
	fx.manifest_with({"metadata": {"id": "b-5"}, "action": {"type": "catalog_update"}}),
]

test_batch_keeps_order_and_matches_single_decisions if {
	ds := main.decisions with input as {"profile": "fx", "track_record": fx.trusted, "manifests": _batch}
		with data.hitl.profiles as fx.profiles
	[d.id | some d in ds] == ["b-1", "b-2", "b-3", "b-4", "b-5"]
	[d.tier | some d in ds] == ["auto_approve", "double_approval", "single_approval", "block", "auto_approve"]
	[d.agent_level | some d in ds] == ["medium", "medium", "suggestion", "medium", "medium"]
	every i, m in _batch {
		ds[i] == main.decision with input as {"profile": "fx", "track_record": fx.trusted, "manifest": m}
			with data.hitl.profiles as fx.profiles
	}
}

test_batch_without_track_record if {
	ds := main.decisions with input as {"profile": "fx", "manifests": _batch} with data.hitl.profiles as fx.profiles
	[d.agent_level | some d in ds] == ["suggestion", "suggestion", "suggestion", "suggestion", "suggestion"]
}

test_empty_batch if {
	ds := main.decisions with input as {"profile": "fx", "manifests": []} with data.hitl.profiles as fx.profiles
	ds == []
}

test_batch_with_a_manifest_without_decision_is_undefined if {
	no_tier := json.remove(fx.profile, ["action_types/write/tiers/production"])
	not main.decisions with input as {"profile": "fx", "track_record": fx.trusted, "manifests": _batch}
		with data.hitl.profiles as {"fx": no_tier}
}

test_a_reason_without_a_tier_is_named_with_its_rule if {
	batch := {"profile": "fx", "track_record": fx.trusted, "manifests": [fx.manifest]}
	odd := {{"code": "odd", "tier": "maybe", "message": "m"}}
	not main.decisions with input as batch with data.hitl.profiles as fx.profiles with data.hitl.rules.odd.reasons as odd
	found := main.untiered with input as batch with data.hitl.profiles as fx.profiles with data.hitl.rules.odd.reasons as odd
	found == {{"rule": "odd", "reason": {"code": "odd", "tier": "maybe", "message": "m"}}}
}

test_no_reason_without_a_tier if {
	batch := {"profile": "fx", "track_record": fx.trusted, "manifests": [fx.manifest]}
	count(main.untiered) == 0 with input as batch with data.hitl.profiles as fx.profiles
}

# An organisation rule `evil`, declaring the code `evil_code`, that gives a reason of the given code.
_evil(code) := {{"code": code, "tier": "single_approval", "message": "m"}}

test_an_org_rule_gives_only_the_codes_its_metadata_declares if {
	declared := main.decisions with input as {"profile": "fx", "manifests": [fx.manifest], "track_record": fx.trusted}
		with data.hitl.profiles as fx.profiles
		with data.hitl.org_rule_codes as {"evil": ["evil_code"]}
		with data.hitl.rules.evil.reasons as _evil("evil_code")
	"evil_code" in {r.code | some r in declared[0].reasons}
}

test_an_org_rule_giving_an_undeclared_code_leaves_no_decision if {
	batch := {"profile": "fx", "manifests": [fx.manifest], "track_record": fx.trusted}
	not main.decisions with input as batch
		with data.hitl.profiles as fx.profiles
		with data.hitl.org_rule_codes as {"evil": ["evil_code"]}
		with data.hitl.rules.evil.reasons as _evil("pii_exposure")
	found := main.undeclared with input as batch
		with data.hitl.profiles as fx.profiles
		with data.hitl.org_rule_codes as {"evil": ["evil_code"]}
		with data.hitl.rules.evil.reasons as _evil("pii_exposure")
	found == {{"rule": "evil", "code": "pii_exposure"}}
}

test_an_org_rule_may_not_give_a_matrix_code_even_declared if {
	not main.decision with input as fx.input_with({})
		with data.hitl.profiles as fx.profiles
		with data.hitl.org_rule_codes as {"evil": ["dev_write"]}
		with data.hitl.rules.evil.reasons as _evil("dev_write")
}

test_each_decision_of_a_batch_gets_only_its_own_agents_part_of_the_track_record if {
	entry := {"level": "medium", "reviewed": 10, "approved": 9, "rejected": 1}
	record := {"agents": {"agent-1": entry, "agent-2": entry}, "invalid_agents": ["agent-3", "agent-1"]}
	given := main._manifest_input(0, {"agent": {"id": "agent-1"}}) with input as {"profile": "fx", "track_record": record}
	given.track_record == {"agents": {"agent-1": entry}, "invalid_agents": ["agent-1"]}
	stranger := main._manifest_input(0, {"agent": {"id": "agent-9"}}) with input as {"profile": "fx", "track_record": record}
	stranger.track_record == {"agents": {}, "invalid_agents": []}
}
