# METADATA
# title: Profile configuration
# description: |
#   The one place policies read the organisation's profile from. The profile is loaded at
#   data.hitl.profiles[<key>] (hitl_cli/policy_set.py PolicySet.policy_data) and selected by
#   input.profile. A rule reads its own settings through one accessor, rule_setting(<rule name>),
#   for hitl's rules as for an organisation's; the other accessors are the profile's shared
#   structure (environments, action types, statements, trust minimums, delivery, approvals, waivers,
#   calibration). Rules never read the profile themselves. A profile that lacks a value makes
#   `complete` false, so no decision is made (fail closed).
package hitl.config

# METADATA
# title: Selected profile
# description: The profile named by input.profile; undefined when no such profile is loaded.
profile := data.hitl.profiles[input.profile]

# METADATA
# title: Profile name
# description: metadata.name of the selected profile.
name := profile.metadata.name

# METADATA
# title: Known environments
# description: The environments the profile knows; any other environment is novel.
environments := profile.environments

# METADATA
# title: Action type policies
# description: For each known action type, read_only, post_hoc_review and the tiers and risk matrices per environment.
action_types := profile.action_types

# METADATA
# title: Destructive statement rules
# description: Ordered list of {pattern (RE2), treated_as}; a matching statement is treated as that type.
destructive_statements := profile.destructive_statements

# METADATA
# title: Statement kinds
# description: |
#   For each statement kind hitl tells apart (hitl_cli/statements), the action type it counts as
#   (statements.kinds). A kind the profile does not map is unanalysable.
statement_kinds := profile.statements.kinds

# METADATA
# title: Trust minimums
# description: For each promotable level, min_reviewed and min_approval_rate the measured record must reach.
trust_minimums := profile.trust.minimums

# METADATA
# title: Delivery per tier
# description: How a reviewer is reached for each tier, plus post_hoc_review for auto-approved post-hoc actions.
delivery := profile.delivery

# METADATA
# title: Approvals per tier
# description: Number of approvals each tier needs.
approvals_required := profile.approvals.required

# METADATA
# title: Waivers
# description: |
#   The profile's waivers, each {id, agent, action_type, resource, environment, lower_to, approved_by,
#   reason, expires}; hitl.waivers decides which are in force and match.
waivers := profile.waivers

# METADATA
# title: Unwaivable reason codes
# description: Reason codes no waiver ever lowers (waiver_policy.unwaivable).
unwaivable := profile.waiver_policy.unwaivable

# METADATA
# title: Profile is complete
# description: |
#   True when the selected profile holds every value the policies read: the sections read here, with
#   the right JSON type, and each rule's settings (rules.<name>) with every setting the JSON Schema
#   beside the rule requires (data.hitl.required_settings). The decision is only made for a complete profile.
complete if {
	is_string(name)
	is_array(environments)
	is_object(action_types)
	is_array(destructive_statements)
	is_object(statement_kinds)
	is_object(trust_minimums)
	is_object(delivery)
	is_object(approvals_required)
	is_array(waivers)
	is_array(unwaivable)
	_calibration_complete
	_rule_settings_complete
}

# METADATA
# title: Calibration settings
# description: |
#   calibration.{enabled, bin_edges, min_samples_per_bin, min_samples_per_action_type, fallback}: how the
#   confidence rule uses the calibration data (hitl.calibrated); fallback is {mode: agent_accuracy} or
#   {mode: penalty, penalty}.
calibration := profile.calibration

_calibration_complete if {
	is_boolean(calibration.enabled)
	is_array(calibration.bin_edges)
	is_number(calibration.min_samples_per_bin)
	is_number(calibration.min_samples_per_action_type)
	_fallback_complete
}

_fallback_complete if calibration.fallback.mode == "agent_accuracy"

_fallback_complete if {
	calibration.fallback.mode == "penalty"
	is_number(calibration.fallback.penalty)
}

# Every rule that takes settings has each one its schema requires. hitl writes data.hitl.required_settings beside
# the profiles (hitl_cli/engine): for each rule with a settings schema, an object whose keys are the settings the
# schema requires (its values mean nothing). hitl checked every value against the schemas when it loaded the
# profile; json.match_schema here would cost more than the rest of a decision. A policy test that does not inject
# the required settings checks the profile's other sections only.
default _required_settings := {}

_required_settings := data.hitl.required_settings

# One set comparison per rule (`every` over each setting cost a third of a single decision), counting the rules
# whose settings are an object holding every required setting. Stated positively, so a value of the wrong type
# leaves the rule out, and the profile incomplete.
_rule_settings_complete if {
	rules := object.get(profile, "rules", {})
	found := {name |
		some name, required in _required_settings
		object.subset(object.keys(rules[name]), object.keys(required))
	}
	count(found) == count(_required_settings)
}

# METADATA
# title: Rule settings
# description: |
#   The settings of the rule `name` (a package hitl.rules.<name>, hitl's own or an organisation's): the
#   profile's rules.<name>, resolved when the profile was loaded (hitl_cli/policy_set.py): an organisation
#   rule's over the defaults beside it, a shipped rule's from the documented profile fields its schema
#   names; checked against the rule's JSON Schema. Undefined for a rule that takes no settings.
rule_setting(name) := profile.rules[name]
