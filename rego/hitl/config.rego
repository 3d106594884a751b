# METADATA
# title: Profile configuration
# description: |
#   The one place policies read the organisation's profile from. The profile is loaded at
#   data.hitl.profiles[<key>] (Profile.model_dump(mode="json")) and selected by input.profile.
#   Every threshold, list and matrix a rule needs is exposed here; rules never read the profile
#   themselves. There are no defaults: a profile states every value (hitl_cli/models/profile.py),
#   and a profile that lacks one makes `complete` false, so no decision is made (fail closed).
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
# title: Unanalysable statement tier
# description: Tier for a statement hitl cannot analyse (statements.unanalysable_tier).
unanalysable_tier := profile.statements.unanalysable_tier

# METADATA
# title: PII exposure tier
# description: Tier for an action whose PII leaves its governed boundary.
pii_exposure_tier := profile.pii.exposure_tier

# METADATA
# title: PII touch floor
# description: Minimum tier for an action that touches PII; null when the profile sets no floor.
pii_touch_floor := profile.pii.touch_floor

# METADATA
# title: PII tables
# description: |
#   Globs ("." separates segments) of the tables the organisation classifies as PII (pii.tables): an action
#   whose target or statement touches one touches PII, whatever its impact.pii says.
pii_tables := profile.pii.tables

# METADATA
# title: Per-action budget
# description: Estimated cost in USD above which an action is over budget.
budget_per_action_usd := profile.budget.per_action_usd

# METADATA
# title: Over-budget tier
# description: Tier for an action whose estimated cost is over the per-action budget.
over_budget_tier := profile.budget.over_budget_tier

# METADATA
# title: Confidence threshold
# description: Non-read actions with a confidence under this (or none) are below threshold.
confidence_threshold := profile.confidence.threshold

# METADATA
# title: Below-threshold tier
# description: Tier for a non-read action whose confidence is under the threshold or missing.
below_threshold_tier := profile.confidence.below_threshold_tier

# METADATA
# title: Novelty tier
# description: Tier for a novel action, an unknown action type or an unknown environment.
novelty_tier := profile.novelty.tier

# METADATA
# title: Irreversible post-hoc floor
# description: Minimum tier for a post-hoc class action that is not reversible.
irreversible_floor := profile.post_hoc.irreversible_floor

# METADATA
# title: Trust minimums
# description: For each promotable level, min_reviewed and min_approval_rate the measured record must reach.
trust_minimums := profile.trust.minimums

# METADATA
# title: Autonomous risks
# description: For each effective level, the risk classes whose actions take their profile tier unsupervised.
autonomous_risks := profile.trust.autonomous_risks

# METADATA
# title: Supervised floor
# description: Minimum tier for a non-read action whose risk is not autonomous at the agent's level.
supervised_floor := profile.trust.supervised_floor

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
#   True when the selected profile holds every value the policies read, with the right JSON type.
#   The decision is only made for a complete profile.
complete if {
	is_string(name)
	is_array(environments)
	is_object(action_types)
	is_array(destructive_statements)
	is_object(statement_kinds)
	is_string(unanalysable_tier)
	is_string(pii_exposure_tier)
	_nullable_string(pii_touch_floor)
	is_array(pii_tables)
	is_number(budget_per_action_usd)
	is_string(over_budget_tier)
	is_number(confidence_threshold)
	is_string(below_threshold_tier)
	is_string(novelty_tier)
	is_string(irreversible_floor)
	is_object(trust_minimums)
	is_object(autonomous_risks)
	is_string(supervised_floor)
	is_object(delivery)
	is_object(approvals_required)
	is_array(waivers)
	is_array(unwaivable)
	_learning_complete
}

_nullable_string(x) if is_null(x)

_nullable_string(x) if is_string(x)

# METADATA
# title: Calibration settings
# description: |
#   calibration.{enabled, bin_edges, min_samples_per_bin, min_samples_per_action_type, fallback}: how the
#   confidence rule uses the calibration data (hitl.calibrated); fallback is {mode: agent_accuracy} or
#   {mode: penalty, penalty}.
calibration := profile.calibration

# METADATA
# title: History novelty settings
# description: history_novelty.{enabled, fingerprint (field names), tier} for hitl.rules.history_novelty.
history_novelty := profile.history_novelty

# METADATA
# title: Daily budgets
# description: daily_budget.{per_agent_usd, agents (per-agent overrides), organisation_usd, over_budget_tier}; null is no budget.
daily_budget := profile.daily_budget

# The calibration, history novelty and daily budget sections are complete.
_learning_complete if {
	is_boolean(calibration.enabled)
	is_array(calibration.bin_edges)
	is_number(calibration.min_samples_per_bin)
	is_number(calibration.min_samples_per_action_type)
	_fallback_complete(calibration.fallback)
	is_boolean(history_novelty.enabled)
	is_array(history_novelty.fingerprint)
	is_string(history_novelty.tier)
	_nullable_number(daily_budget.per_agent_usd)
	is_object(daily_budget.agents)
	_nullable_number(daily_budget.organisation_usd)
	is_string(daily_budget.over_budget_tier)
}

_fallback_complete(fallback) if fallback.mode == "agent_accuracy"

_fallback_complete(fallback) if {
	fallback.mode == "penalty"
	is_number(fallback.penalty)
}

_nullable_number(x) if is_null(x)

_nullable_number(x) if is_number(x)

# METADATA
# title: Rule settings
# description: |
#   The settings of the organisation rule `name` (a package hitl.rules.<name> in a --policy folder): the
#   profile's rules.<name> over the defaults beside the rule, checked against the rule's JSON Schema before
#   OPA sees them. Undefined for a rule that takes no settings.
rule_setting(name) := profile.rules[name]
