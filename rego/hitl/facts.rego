# METADATA
# title: Facts about the manifest
# description: |
#   Everything derived from input.manifest, the track record and the profile that more than one
#   rule needs: the effective action type after statement analysis (hitl.statements) and
#   destructive-pattern detection, whether the type
#   and environment are known, risk class, and the agent's effective autonomy level.
#   Rules use these facts and hitl.config, never the raw profile.
package hitl.facts

import data.hitl.config
import data.hitl.lib.levels
import data.hitl.lib.tiers
import data.hitl.statements

# METADATA
# title: Manifest
# description: The manifest under evaluation (input.manifest).
manifest := input.manifest

# METADATA
# title: Declared action type
# description: action.type as the agent declared it.
declared_type := manifest.action.type

# METADATA
# title: Environment
# description: target.environment.
environment := manifest.target.environment

# METADATA
# title: Agent id
# description: agent.id.
agent_id := manifest.agent.id

# METADATA
# title: Statement
# description: action.statement when the manifest carries one (undefined when null).
statement := s if {
	s := manifest.action.statement
	is_string(s)
}

# METADATA
# title: Matching destructive rules
# description: Indices (in profile order) of the destructive-statement rules whose pattern matches the statement.
destructive_matches contains i if {
	some i, rule in config.destructive_statements
	regex.match(rule.pattern, statement)
}

# METADATA
# title: Types the statement is treated as
# description: The treated_as types of every matching destructive-statement rule.
destructive_types contains config.destructive_statements[i].treated_as if some i in destructive_matches

# METADATA
# title: First matching destructive rule
# description: The first rule, in profile order, whose pattern matches the statement and treats it as the effective type.
destructive_rule := config.destructive_statements[min({i |
	some i in destructive_matches
	config.destructive_statements[i].treated_as == effective_type
})]

# METADATA
# title: Conflicting types
# description: |
#   The action types the statement shows it really is, other than the declared one: the type of each
#   operation hitl found in it (hitl.statements; a read-only type never conflicts, as any action may
#   read) and the treated_as type of each destructive pattern it matches.
conflicting_types contains t if {
	some t in statements.types
	t != declared_type
	not config.action_types[t].read_only == true
}

conflicting_types contains t if {
	some t in destructive_types
	t != declared_type
}

# METADATA
# title: Effective action type
# description: |
#   The declared type, unless the statement shows other types: then the strictest of those, by its
#   profile tier in the environment (ties, and an unknown environment, go to the first by name).
effective_type := declared_type if {
	count(conflicting_types) == 0
} else := t if {
	keys := {[0 - _tier_rank(c), c] | some c in conflicting_types}
	t := sort(keys)[0][1]
}

# A type the profile does not know ranks above every tier, so the novelty rule sees it; a known type in
# an unknown environment ranks below every tier.
_tier_rank(t) := count(tiers.order) if not config.action_types[t]

_tier_rank(t) := tiers.rank[config.action_types[t].tiers[environment]]

_tier_rank(t) := -1 if {
	config.action_types[t]
	not config.action_types[t].tiers[environment]
}

# METADATA
# title: Reclassified by its statement
# description: True when the statement made the effective type differ from the declared type.
reclassified if effective_type != declared_type

# METADATA
# title: Known action type
# description: True when the profile has a policy for the effective type.
known_type if config.action_types[effective_type]

# METADATA
# title: Known environment
# description: True when the profile lists the environment.
known_environment if environment in config.environments

# METADATA
# title: Policy of the effective type
# description: The profile's action_types entry for the effective type; undefined for an unknown type.
type_policy := config.action_types[effective_type]

# METADATA
# title: Read-only
# scope: document
# description: True when the effective type is read-only; false for unknown types.
default read_only := false

read_only if type_policy.read_only == true

# METADATA
# title: Post-hoc class
# scope: document
# description: True when the effective type is a post-hoc review class; false for unknown types.
default post_hoc_class := false

post_hoc_class if type_policy.post_hoc_review == true

# METADATA
# title: Reversible
# scope: document
# description: True only when the manifest says action.reversible is true (missing means false).
default reversible := false

reversible if manifest.action.reversible == true

# METADATA
# title: Profile tier
# description: The profile's tier for the effective type in the environment; undefined unless both are known.
profile_tier := type_policy.tiers[environment] if known_environment

# METADATA
# title: Declared type's profile tier
# description: |
#   The profile's tier for the declared type in the environment; undefined unless both are known.
#   A reclassified action keeps it, so detection can only make a decision stricter.
declared_profile_tier := config.action_types[declared_type].tiers[environment] if known_environment

# METADATA
# title: Risk class
# description: The profile's risk for the effective type in the environment; high when either is unknown.
risk := r if {
	known_environment
	r := type_policy.risk[environment]
} else := "high"

# METADATA
# title: New agent
# description: True when the agent has no entry in the track record (or there is no track record).
new_agent if not input.track_record.agents[agent_id]

# METADATA
# title: Invalid track-record entry
# description: |
#   True when the track record had an entry for the agent that did not validate: hitl left it out
#   (input.track_record.invalid_agents), so the agent is treated as new.
invalid_record if agent_id in input.track_record.invalid_agents

# METADATA
# title: Granted level
# description: The autonomy level a person granted the agent; suggestion for a new agent.
granted_level := level if {
	level := input.track_record.agents[agent_id].level
} else := levels.floor

# METADATA
# title: Reviewed actions
# description: How many of the agent's actions a human reviewed; 0 for a new agent.
reviewed := n if {
	n := input.track_record.agents[agent_id].reviewed
} else := 0

# METADATA
# title: Approved actions
# description: How many of the agent's reviewed actions were approved; 0 for a new agent.
approved := n if {
	n := input.track_record.agents[agent_id].approved
} else := 0

# METADATA
# title: Supported levels
# description: Levels the measured record supports; suggestion always is.
supported_levels := levels_supported(reviewed, approved)

# METADATA
# title: Effective agent level
# description: |
#   The highest level, up to the granted one, that the measured record supports (down to suggestion).
#   Undefined when the granted level is not a level (fail closed).
agent_level := effective_level(granted_level, supported_levels)

# METADATA
# title: Approval rate of a record
# description: approved_count / reviewed_count; 0 when nothing was reviewed.
rate(reviewed_count, approved_count) := approved_count / reviewed_count if {
	reviewed_count > 0
} else := 0

# METADATA
# title: Levels a measured record supports
# description: |
#   Suggestion always; each level whose trust minimum (reviewed actions and approval rate) the
#   counts reach. Shared by the per-manifest facts and by hitl.trust_levels.
levels_supported(reviewed_count, approved_count) := {levels.floor} | {level |
	some level, minimum in config.trust_minimums
	reviewed_count >= minimum.min_reviewed
	rate(reviewed_count, approved_count) >= minimum.min_approval_rate
}

# METADATA
# title: Effective level of a record
# description: |
#   The highest of the supported levels that is not above the granted one.
#   Undefined when granted is not a level (fail closed).
effective_level(granted, supported) := levels.order[max(ranks)] if {
	granted_rank := levels.rank[granted]
	ranks := {r | some level in supported; r := levels.rank[level]; r <= granted_rank}
}

# METADATA
# title: Demoted
# description: True when the effective level is below the granted level.
demoted if levels.rank[agent_level] < levels.rank[granted_level]

# METADATA
# title: Level the record fails
# description: When demoted, the level just above the effective one, whose minimum the record does not reach.
failed_level := levels.order[levels.rank[agent_level] + 1] if demoted
