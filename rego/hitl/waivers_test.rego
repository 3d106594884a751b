# METADATA
# title: Tests for hitl.waivers
# description: |
#   Matching, expiry against input.now, the cap (strictest lower_to), unwaivable codes, and the
#   decision a waiver leads to.
package hitl.waivers_test

import data.hitl.fixtures_test as fx
import data.hitl.main
import data.hitl.waivers

_now := "2026-06-01T12:00:00Z"

_waiver := {
	"id": "WVR-1",
	"agent": "agent-*",
	"action_type": "write",
	"resource": "analytics.*",
	"environment": "production",
	"lower_to": "single_approval",
	"approved_by": "alice",
	"reason": "backfill reviewed in CHG-1",
	"expires": "2026-12-31T23:59:59Z",
}

# A confident write to analytics.orders in production by agent-1: double_approval under the fixture.
_patch := {"target": {"environment": "production", "resource": "analytics.orders"}}

_input(patch) := object.union(fx.input_with(object.union(_patch, patch)), {"now": _now})

_decide(patch, ws) := d if {
	d := main.decision with input as _input(patch) with data.hitl.profiles as fx.profiles_with({"waivers": ws})
}

_codes(d) := {r.code | some r in d.reasons}

test_waiver_lowers_the_tier_and_is_a_reason if {
	d := _decide({}, [_waiver])
	d.tier == "single_approval"
	d.approvals_required == 1
	d.reasons == [
		{
			"code": "production_write", "tier": "single_approval",
			"message": "write in production needs double_approval under profile fixture [waived from double_approval]",
		},
		{
			"code": "trust_level", "tier": "single_approval",
			"message": "agent agent-1 runs at medium (granted medium; 1000 of 1000 approved): high-risk actions need at least single_approval",
		},
		{
			"code": "waiver", "tier": "single_approval",
			"message": "waiver WVR-1 (approved by alice, expires 2026-12-31T23:59:59Z) lowers production_write to single_approval: backfill reviewed in CHG-1",
		},
	]
}

test_without_waivers_the_decision_is_unchanged if {
	_decide({}, []).tier == "double_approval"
	not "waiver" in _codes(_decide({}, []))
}

test_an_expired_waiver_is_ignored if {
	expired := object.union(_waiver, {"expires": "2026-06-01T11:59:59Z"})
	_decide({}, [expired]).tier == "double_approval"

	# at the very moment of expiry it no longer applies
	at_expiry := object.union(_waiver, {"expires": _now})
	_decide({}, [at_expiry]).tier == "double_approval"
}

test_expiry_with_an_offset_is_compared_as_an_instant if {
	# 13:00+02:00 is 11:00Z: expired at 12:00Z
	offset := object.union(_waiver, {"expires": "2026-06-01T13:00:00+02:00"})
	_decide({}, [offset]).tier == "double_approval"
}

test_without_a_valid_now_no_waiver_is_in_force if {
	d := main.decision with input as fx.input_with(_patch)
		with data.hitl.profiles as fx.profiles_with({"waivers": [_waiver]})
	d.tier == "double_approval"
	bad := main.decision with input as object.union(fx.input_with(_patch), {"now": "yesterday"})
		with data.hitl.profiles as fx.profiles_with({"waivers": [_waiver]})
	bad.tier == "double_approval"
}

test_each_criterion_must_match if {
	_decide({"agent": {"id": "other-agent"}}, [_waiver]).tier == "double_approval"
	_decide({"target": {"resource": "finance.ledger"}}, [_waiver]).tier == "double_approval"
	_decide({"target": {"resource": null}}, [_waiver]).tier == "double_approval"
	_decide({"target": {"environment": "staging"}}, [object.union(_waiver, {"lower_to": "auto_approve"})]).tier == "single_approval"
	_decide({}, [object.union(_waiver, {"action_type": "schema_migration"})]).tier == "double_approval"
}

test_resource_glob_segments if {
	# `*` stays within one dotted segment, `**` crosses segments
	_decide({"target": {"resource": "analytics.orders.eu"}}, [_waiver]).tier == "double_approval"
	deep := object.union(_waiver, {"resource": "analytics.**"})
	_decide({"target": {"resource": "analytics.orders.eu"}}, [deep]).tier == "single_approval"
}

test_an_invalid_glob_matches_nothing if {
	_decide({}, [object.union(_waiver, {"resource": "analytics.[orders"})]).tier == "double_approval"
}

test_a_waiver_without_environment_matches_every_environment if {
	anywhere := object.union(_waiver, {"environment": null, "lower_to": "auto_approve"})
	_decide({"target": {"environment": "staging"}}, [anywhere]).tier == "auto_approve"
	_decide({}, [anywhere]).tier == "auto_approve"
}

test_the_effective_type_is_matched if {
	# a write whose statement deletes is a delete: a waiver for writes does not cover it
	d := _decide({"action": {"statement": "DELETE FROM analytics.orders"}}, [_waiver])
	d.tier == "block"
	not "waiver" in _codes(d)
}

test_pii_exposure_is_never_lowered if {
	d := _decide({"impact": {"pii": true, "exposes_pii": true}}, [object.union(_waiver, {"lower_to": "auto_approve"})])
	d.tier == "block"
	some r in d.reasons
	r.code == "pii_exposure"
	r.tier == "block"
	"waiver" in _codes(d)
}

test_unwaivable_codes_are_profile_data if {
	over := {"impact": {"estimated_cost_usd": 500}}
	lenient := fx.profiles_with({"waivers": [_waiver]})
	main.decision.tier == "single_approval" with input as _input(over) with data.hitl.profiles as lenient
	strict := fx.profiles_with({"waivers": [_waiver], "waiver_policy": {"unwaivable": ["pii_exposure", "over_budget"]}})
	main.decision.tier == "block" with input as _input(over) with data.hitl.profiles as strict
}

test_the_strictest_lower_to_is_the_cap if {
	lower := object.union(_waiver, {"id": "WVR-2", "lower_to": "auto_approve"})
	d := _decide({}, [lower, _waiver])
	d.tier == "single_approval"
	[r.message | some r in d.reasons; r.code == "waiver"] == [
		"waiver WVR-1 (approved by alice, expires 2026-12-31T23:59:59Z) lowers production_write to single_approval: backfill reviewed in CHG-1",
	]
}

test_waivers_at_the_same_cap_are_all_named if {
	twin := object.union(_waiver, {"id": "WVR-3", "approved_by": "bob"})
	d := _decide({}, [_waiver, twin])
	count([r | some r in d.reasons; r.code == "waiver"]) == 2
}

test_a_waiver_never_raises_a_tier if {
	# dev write is auto_approve: a waiver "to" single_approval lowers nothing and is not applied
	d := _decide({"target": {"environment": "dev"}}, [object.union(_waiver, {"environment": null})])
	d.tier == "auto_approve"
	not "waiver" in _codes(d)
	waivers.applied(main.rule_reasons) == set() with input as _input({"target": {"environment": "dev"}})
		with data.hitl.profiles as fx.profiles_with({"waivers": [object.union(_waiver, {"environment": null})]})
}

test_batches_carry_now if {
	ds := main.decisions with input as {
		"profile": "fx", "track_record": fx.trusted, "now": _now,
		"manifests": [fx.manifest_with(_patch), fx.manifest_with(object.union(_patch, {"metadata": {"id": "act-2"}, "agent": {"id": "x"}}))],
	}
		with data.hitl.profiles as fx.profiles_with({"waivers": [_waiver]})
	[d.tier | some d in ds] == ["single_approval", "double_approval"]
}

_decide_facts(patch, operations, ws) := d if {
	given := object.union(_input(patch), {"statement_facts": fx.statement_facts(operations)})
	d := main.decision with input as given with data.hitl.profiles as fx.profiles_with({"waivers": ws})
}

test_a_waiver_covers_every_table_the_statement_writes if {
	statement := {"action": {"statement": "UPDATE analytics.orders SET a = 1 WHERE b"}}
	covered := [fx.operation("update", ["analytics.orders"]), fx.operation("insert", ["analytics.events"])]
	_decide_facts(statement, covered, [_waiver]).tier == "single_approval"
}

test_a_waiver_does_not_cover_a_written_table_outside_its_glob if {
	statement := {"action": {"statement": "UPDATE analytics.orders SET a = 1; UPDATE finance.ledger SET a = 1"}}
	outside := [fx.operation("update", ["analytics.orders"]), fx.operation("update", ["finance.ledger"])]
	d := _decide_facts(statement, outside, [_waiver])
	d.tier == "double_approval"
	not "waiver" in _codes(d)
}
