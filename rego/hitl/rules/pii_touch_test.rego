# METADATA
# title: Tests for hitl.rules.pii_touch
# description: Touching PII takes at least the touch floor, when the profile sets one.
package hitl.rules.pii_touch_test

import data.hitl.fixtures_test as fx
import data.hitl.rules.pii_touch

test_touch_fires if {
	rs := pii_touch.reasons with input as fx.input_with({"impact": {"pii": true}})
		with data.hitl.profiles as fx.profiles
	rs == {{"code": "pii_touch", "tier": "single_approval", "message": "the action touches PII: it needs at least single_approval"}}
}

test_no_pii_does_not_fire if {
	rs := pii_touch.reasons with input as fx.input_with({}) with data.hitl.profiles as fx.profiles
	rs == set()
}

test_null_floor_does_not_fire if {
	rs := pii_touch.reasons with input as fx.input_with({"impact": {"pii": true}})
		with data.hitl.profiles as fx.profiles_with({"rules": {"pii_touch": {"touch_floor": null}}})
	rs == set()
}

test_written_pii_table_fires_without_impact_pii if {
	facts := fx.statement_facts([fx.operation("delete", ["analytics.customers"])])
	rs := pii_touch.reasons with input as fx.input_facts({"target": {"resource": "analytics.orders"}}, facts)
		with data.hitl.profiles as fx.profiles
	rs == {{"code": "pii_touch", "tier": "single_approval", "message": "the action touches analytics.customers, classified as PII: it needs at least single_approval"}}
}

test_pii_target_fires if {
	rs := pii_touch.reasons with input as fx.input_with({"target": {"resource": "crm.leads_eu"}})
		with data.hitl.profiles as fx.profiles
	count(rs) == 1
}

test_read_pii_table_fires if {
	facts := fx.statement_facts([object.union(fx.operation("select", []), {"reads": ["crm.leads"]})])
	rs := pii_touch.reasons with input as fx.input_facts({}, facts) with data.hitl.profiles as fx.profiles
	count(rs) == 1
}

test_classified_ignores_quotes_case_and_qualification if {
	every name in ["\"ANALYTICS\".\"Customers\"", "prod_db.analytics.customers", "customers", "`crm`.leads", "[crm].[leads_2]"] {
		pii_touch.classified(name) with data.hitl.profiles as fx.profiles with input as fx.input_with({})
	}
}

test_unclassified_table_does_not_fire if {
	every name in ["analytics.orders", "sales.customers_summary", "crm_archive.leads"] {
		not pii_touch.classified(name) with data.hitl.profiles as fx.profiles with input as fx.input_with({})
	}
}
