# METADATA
# title: Tier ordering
# description: |
#   The five decision tiers in order of strictness, and helpers to compare them.
#   The order is the tier vocabulary itself (spec/cli.md), not profile data.
package hitl.lib.tiers

# METADATA
# title: Tiers, least strict first
# description: auto_approve < single_approval < double_approval < escalate < block.
order := ["auto_approve", "single_approval", "double_approval", "escalate", "block"]

# METADATA
# title: Strictness rank of each tier
# description: Maps a tier to its position in order; undefined for anything that is not a tier.
rank := {tier: i | some i, tier in order}

# METADATA
# title: Least strict tier
# description: The tier that lets an action run at once.
lowest := order[0]

# METADATA
# title: Strictest tier of a collection
# description: |
#   The strictest tier among the given tiers (a set or array). Undefined when the collection is
#   empty or holds a value that is not a tier, so a caller fails closed.
strictest(ts) := order[max(ranks)] if {
	ranks := [rank[t] | some t in ts]
	count(ranks) == count(ts)
}
