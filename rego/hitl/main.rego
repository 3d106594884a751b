# METADATA
# title: hitl entry point
# description: |
#   Builds the decision for one manifest (decision, from input.manifest) or for many in one request
#   (decisions, from input.manifests, same order). Reasons come from every package under
#   hitl.rules, then pass the waiver step (hitl.waivers); the decision's tier is the strictest
#   reason tier. Anything missing - an unknown profile, an incomplete profile, no reason at all, a
#   value that is not a tier - leaves the decision undefined, which callers treat as a failure
#   (fail closed). input.now (RFC 3339) is the moment waivers are judged at; without it none applies.
package hitl.main

import data.hitl.config
import data.hitl.facts
import data.hitl.lib.tiers
import data.hitl.waivers

# METADATA
# title: Rule reasons
# description: Every reason contributed by a rule package (data.hitl.rules.<name>.reasons), before waivers.
rule_reasons contains r if {
	some r in data.hitl.rules[_].reasons
}

# METADATA
# title: Reasons
# description: |
#   The rule reasons after the waiver step (hitl.waivers): a waiver in force that matches the action caps
#   its waivable reasons and adds a `waiver` reason. The decision shows these and takes its tier from them.
reasons := waivers.apply(rule_reasons)

# METADATA
# title: Sorted reasons
# description: Reasons, strictest tier first, then by code, then by message.
sorted_reasons := [r | some key in sort(keys); r := key[3]] if {
	keys := {[0 - tiers.rank[r.tier], r.code, r.message, r] | some r in reasons}
}

# METADATA
# title: Decision tier
# description: The strictest tier among the reasons; undefined when there is no reason.
tier := tiers.strictest(reasons_tiers) if {
	reasons_tiers := [r.tier | some r in reasons]
	count(reasons_tiers) > 0
}

# METADATA
# title: Post-hoc review
# scope: document
# description: An auto-approved action of a post-hoc review class runs at once and is queued for review.
default post_hoc_review := false

post_hoc_review if {
	tier == tiers.lowest
	facts.post_hoc_class
}

# METADATA
# title: Delivery
# description: How the reviewer is reached, from the profile's delivery table.
delivery := config.delivery.post_hoc_review if {
	post_hoc_review
} else := config.delivery[tier]

# METADATA
# title: Decision
# description: |
#   The decision object for input.manifest (spec/cli.md JSON output, plus context fields).
#   Undefined for an unknown or incomplete profile.
decision := _decision if config.complete

# The decision, without the profile completeness check (decisions checks it once for the batch).
# tier is undefined when there is no reason or a reason's tier is not a tier, and so is this.
_decision := {
	"id": facts.manifest.metadata.id,
	"tier": tier,
	"approvals_required": config.approvals_required[tier],
	"post_hoc_review": post_hoc_review,
	"delivery": delivery,
	"agent_level": facts.agent_level,
	"profile": config.name,
	"reasons": sorted_reasons,
	"agent": facts.agent_id,
	"action_type": facts.effective_type,
	"declared_type": facts.declared_type,
	"environment": facts.environment,
	"risk": facts.risk,
} if {
	_matrices_complete
	count(_undeclared) == 0
}

# A known type in a known environment must have both matrix cells (the Python side checks this too).
_matrices_complete if not _missing_cell

_missing_cell if {
	facts.known_type
	facts.known_environment
	not facts.profile_tier
}

_missing_cell if {
	facts.known_type
	facts.known_environment
	not facts.type_policy.risk[facts.environment]
}

# The whole input is replaced for each manifest: `with input.manifest as m` would copy the batch
# (all manifests) once per manifest, which is quadratic.
_track_record := object.get(input, "track_record", {})

_now := object.get(input, "now", null)

# input.history (hitl.history) is only present when the run read a state store.
_history := object.get(input, "history", null)

# METADATA
# title: Decisions
# description: |
#   One decision per element of input.manifests, in the same order. Undefined as a whole when any
#   manifest gets no decision, so a caller never pairs a decision with the wrong manifest.
#   input.statement_facts[i] is what hitl derived from manifest i's statement (hitl.statements).
#   The other input keys (profile, now, history) apply to every manifest; of input.track_record,
#   each decision gets its own agent's part (its entry, and whether it was invalid), what hitl
#   sends with a single manifest: a decision is the same whatever batch it is asked in.
decisions := ds if {
	config.complete
	ds := [d |
		some i, m in input.manifests
		d := _decision with input as _manifest_input(i, m)
	]
	count(ds) == count(input.manifests)
}

# The input of manifest i of the batch.
_manifest_input(i, m) := {
	"profile": input.profile, "track_record": _agent_record(m.agent.id), "now": _now, "history": _history,
	"manifest": m, "statement_facts": object.get(input, ["statement_facts", i], null),
}

_agent_record(agent) := {
	"agents": object.filter(object.get(_track_record, "agents", {}), {agent}),
	"invalid_agents": [a | some a in object.get(_track_record, "invalid_agents", []); a == agent],
}

# METADATA
# title: Reasons without a tier
# description: |
#   For the batch in input.manifests: each reason whose tier is not a tier, with the rule package that gave it
#   ({rule, reason}). No decision can be made then (decisions is undefined); hitl asks this to name the rule.
untiered contains found if {
	some i, m in input.manifests
	some found in _untiered with input as _manifest_input(i, m)
}

_untiered contains {"rule": name, "reason": r} if {
	some name
	some r in data.hitl.rules[name].reasons
	not tiers.rank[object.get(r, "tier", null)]
}

# METADATA
# title: Reasons of undeclared codes
# description: |
#   For the batch in input.manifests: each reason an organisation rule gave with a code its METADATA
#   custom.code does not declare (data.hitl.org_rule_codes, written by hitl beside the profiles), or with a
#   code of the profile's matrix (<environment>_<type>), which is hitl's profile_tier rule's ({rule, code}).
#   Reason codes are what docs, reports and waivers name, so no decision can be made then; hitl asks this
#   to name the rule. hitl's own rules are held to their METADATA by their tests.
undeclared contains found if {
	some i, m in input.manifests
	some found in _undeclared with input as _manifest_input(i, m)
}

default _org_rule_codes := {}

_org_rule_codes := data.hitl.org_rule_codes

_undeclared contains {"rule": name, "code": r.code} if {
	some name, declared in _org_rule_codes
	some r in data.hitl.rules[name].reasons
	not _declared(declared, r.code)
}

_declared(declared, code) if {
	code in declared
	not _matrix_code(code)
}

_matrix_code(code) if {
	some environment in config.environments
	some action_type, _ in config.action_types
	code == sprintf("%s_%s", [environment, action_type])
}
