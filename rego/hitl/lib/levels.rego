# METADATA
# title: Agent autonomy levels
# description: |
#   The autonomy levels an agent can hold, least autonomous first (spec/track-record.md).
#   The order is vocabulary, not profile data.
package hitl.lib.levels

# METADATA
# title: Levels, least autonomous first
# description: suggestion < low < medium.
order := ["suggestion", "low", "medium"]

# METADATA
# title: Rank of each level
# description: Maps a level to its position in order; undefined for anything that is not a level.
rank := {level: i | some i, level in order}

# METADATA
# title: Level every agent may run at
# description: Suggestion mode needs no measured record.
floor := order[0]
