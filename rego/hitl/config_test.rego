# METADATA
# title: Tests for hitl.config
# description: Profile selection and completeness.
package hitl.config_test

import data.hitl.config
import data.hitl.fixtures_test as fx

test_selects_profile_by_key if {
	config.name == "fixture" with input as {"profile": "fx"} with data.hitl.profiles as fx.profiles
	config.budget_per_action_usd == 100 with input as {"profile": "fx"} with data.hitl.profiles as fx.profiles
}

test_unknown_key_has_no_profile if {
	not config.profile with input as {"profile": "nope"} with data.hitl.profiles as fx.profiles
	not config.complete with input as {"profile": "nope"} with data.hitl.profiles as fx.profiles
	not config.complete with input as {} with data.hitl.profiles as fx.profiles
}

test_fixture_is_complete if {
	config.complete with input as {"profile": "fx"} with data.hitl.profiles as fx.profiles
}

test_null_touch_floor_is_complete if {
	config.complete with input as {"profile": "fx"}
		with data.hitl.profiles as fx.profiles_with({"pii": {"touch_floor": null}})
}

test_missing_value_is_incomplete if {
	not config.complete with input as {"profile": "fx"}
		with data.hitl.profiles as {"fx": object.remove(fx.profile, ["novelty"])}
	not config.complete with input as {"profile": "fx"}
		with data.hitl.profiles as {"fx": json.remove(fx.profile, ["pii/touch_floor"])}
	not config.complete with input as {"profile": "fx"}
		with data.hitl.profiles as fx.profiles_with({"budget": {"per_action_usd": "100"}})
}

test_rule_setting_is_the_profiles_entry if {
	profiles := {"p": {"rules": {"sox": {"tables": ["t"]}}}}
	config.rule_setting("sox") == {"tables": ["t"]} with data.hitl.profiles as profiles with input.profile as "p"
	not config.rule_setting("other") with data.hitl.profiles as profiles with input.profile as "p"
}
