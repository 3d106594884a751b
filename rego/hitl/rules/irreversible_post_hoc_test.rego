# METADATA
# title: Tests for hitl.rules.irreversible_post_hoc
# description: A post-hoc class action that is not reversible takes at least the irreversible floor.
package hitl.rules.irreversible_post_hoc_test

import data.hitl.fixtures_test as fx
import data.hitl.rules.irreversible_post_hoc

_reasons(patch) := rs if {
	rs := irreversible_post_hoc.reasons with input as fx.input_with(patch) with data.hitl.profiles as fx.profiles
}

test_irreversible_post_hoc_action_fires if {
	_reasons({"action": {"type": "catalog_update", "reversible": false}}) == {{
		"code": "irreversible_post_hoc", "tier": "single_approval",
		"message": "catalog_update is reviewed after the fact only when reversible, and this action is not marked reversible: it needs at least single_approval",
	}}
}

test_reversible_post_hoc_action_does_not_fire if {
	_reasons({"action": {"type": "catalog_update"}}) == set()
}

test_other_classes_do_not_fire if {
	_reasons({"action": {"reversible": false}}) == set()
	_reasons({"action": {"type": "frobnicate", "reversible": false}}) == set()
}
