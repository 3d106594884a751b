# METADATA
# title: Waivers
# description: |
#   The one step between the rules and the decision tier. A waiver of the profile is in force while
#   input.now (RFC 3339, supplied by the caller) is before its expiry; without a valid input.now no
#   waiver is in force. It matches an action by agent id and target.resource (globs in which "."
#   separates segments: `*` stays within one, `**` crosses them; an action without a resource matches
#   no waiver, and the glob must cover every table its statement writes), by effective action type and, when it names one, by environment. When waivers match,
#   the strictest of their lower_to tiers is the cap: every reason stricter than the cap whose code is
#   not in the profile's waiver_policy.unwaivable is lowered to the cap (its message says from which
#   tier), and a `waiver` reason at the cap names each waiver applied, its approver and its expiry.
#   A waiver that would lower nothing is not applied. The decision tier is then, as always, the
#   strictest reason's - so a waiver never raises a tier and never lowers an unwaivable reason.
# custom:
#   code: waiver
package hitl.waivers

import data.hitl.config
import data.hitl.facts
import data.hitl.lib.reason
import data.hitl.lib.tiers
import data.hitl.statements

# Agent ids and resources are dotted names: "." separates glob segments.
_separators := ["."]

# METADATA
# title: Evaluation time
# description: input.now in nanoseconds since the epoch; undefined when missing or not RFC 3339.
now_ns := time.parse_rfc3339_ns(input.now)

# METADATA
# title: Waiver in force
# description: True when input.now is before the waiver's expiry.
in_force(w) if now_ns < time.parse_rfc3339_ns(w.expires)

# METADATA
# title: Waiver matches the action
# description: |
#   Agent and resource globs match, the action type is the effective one, and the environment is the
#   waiver's (or the waiver names none). The resource glob must also cover every table the statement
#   writes (hitl.statements.written_tables). An invalid glob matches nothing.
matches(w) if {
	glob.match(w.agent, _separators, facts.agent_id)
	w.action_type == facts.effective_type
	_environment_matches(w.environment)
	resource := facts.manifest.target.resource
	is_string(resource)
	glob.match(w.resource, _separators, resource)
	every table in statements.written_tables {
		glob.match(w.resource, _separators, table)
	}
}

_environment_matches(environment) if environment == null

_environment_matches(environment) if environment == facts.environment

# METADATA
# title: Matching waivers
# description: The profile's waivers that are in force and match the action.
matching contains w if {
	some w in config.waivers
	in_force(w)
	matches(w)
}

# METADATA
# title: Cap
# description: The strictest lower_to among the matching waivers; undefined when none matches.
cap := tiers.strictest({w.lower_to | some w in matching})

# METADATA
# title: Waivable reason
# description: True when the reason's code is not in the profile's waiver_policy.unwaivable.
waivable(r) if not r.code in config.unwaivable

# METADATA
# title: Lowered reasons
# description: The waivable reasons among rs that are stricter than the cap (none when no waiver matches).
lowered(rs) := {r |
	some r in rs
	waivable(r)
	tiers.rank[r.tier] > tiers.rank[cap]
}

# METADATA
# title: Applied waivers
# description: The matching waivers at the cap when the cap lowers at least one reason of rs; else none.
applied(rs) := {w | some w in matching; w.lower_to == cap} if {
	lowered(rs) != set()
} else := set()

# METADATA
# title: Reasons after waivers
# description: |
#   rs with every lowered reason capped and a `waiver` reason for each applied waiver; rs unchanged
#   when no waiver applies.
apply(rs) := ((rs - lowered_rs) | capped) | notes if {
	matching != set() # no waiver matches (the usual case): nothing to lower, so no reason is looked at
	lowered_rs := lowered(rs)
	lowered_rs != set()
	capped := {reason.make(r.code, cap, sprintf("%s [waived from %s]", [r.message, r.tier])) | some r in lowered_rs}
	codes := concat(", ", sort({r.code | some r in lowered_rs}))
	notes := {_waiver_reason(w, codes) | some w in applied(rs)}
} else := rs

_waiver_reason(w, codes) := reason.make("waiver", w.lower_to, sprintf(
	"waiver %s (approved by %s, expires %s) lowers %s to %s: %s",
	[w.id, w.approved_by, w.expires, codes, w.lower_to, w.reason],
))
