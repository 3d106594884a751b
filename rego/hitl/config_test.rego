# METADATA
# title: Tests for hitl.config
# description: Profile selection and completeness.
package hitl.config_test

import data.hitl.config
import data.hitl.fixtures_test as fx

test_selects_profile_by_key if {
	config.name == "fixture" with input as {"profile": "fx"} with data.hitl.profiles as fx.profiles
	config.rule_setting("budget").per_action_usd == 100 with input as {"profile": "fx"} with data.hitl.profiles as fx.profiles
}

test_unknown_key_has_no_profile if {
	not config.profile with input as {"profile": "nope"} with data.hitl.profiles as fx.profiles
	not config.complete with input as {"profile": "nope"} with data.hitl.profiles as fx.profiles
	not config.complete with input as {} with data.hitl.profiles as fx.profiles
}

# The settings two rules' schemas require, as hitl writes them beside the profiles (data.hitl.required_settings).
_required := {
	"budget": {"per_action_usd": true, "over_budget_tier": true},
	"pii_touch": {"touch_floor": true, "tables": true},
}

test_fixture_is_complete if {
	config.complete with input as {"profile": "fx"} with data.hitl.profiles as fx.profiles
	config.complete with input as {"profile": "fx"} with data.hitl.profiles as fx.profiles
		with data.hitl.required_settings as _required
}

test_null_touch_floor_is_complete if {
	config.complete with input as {"profile": "fx"}
		with data.hitl.profiles as fx.profiles_with({"rules": {"pii_touch": {"touch_floor": null}}})
		with data.hitl.required_settings as _required
}

test_missing_value_is_incomplete if {
	not config.complete with input as {"profile": "fx"}
		with data.hitl.profiles as {"fx": object.remove(fx.profile, ["delivery"])}
	not config.complete with input as {"profile": "fx"}
		with data.hitl.profiles as {"fx": json.remove(fx.profile, ["calibration/fallback"])}
}

test_rule_settings_their_schema_requires_and_the_profile_lacks_are_incomplete if {
	not config.complete with input as {"profile": "fx"}
		with data.hitl.profiles as {"fx": json.patch(fx.profile, [{"op": "replace", "path": "rules/budget", "value": "block"}])}
		with data.hitl.required_settings as _required
	not config.complete with input as {"profile": "fx"}
		with data.hitl.profiles as {"fx": json.remove(fx.profile, ["rules/pii_touch/touch_floor"])}
		with data.hitl.required_settings as _required
	not config.complete with input as {"profile": "fx"}
		with data.hitl.profiles as {"fx": json.remove(fx.profile, ["rules/budget"])}
		with data.hitl.required_settings as _required
}

test_rule_setting_is_the_profiles_entry if {
	profiles := {"p": {"rules": {"sox": {"tables": ["t"]}}}}
	config.rule_setting("sox") == {"tables": ["t"]} with data.hitl.profiles as profiles with input.profile as "p"
	not config.rule_setting("other") with data.hitl.profiles as profiles with input.profile as "p"
}
