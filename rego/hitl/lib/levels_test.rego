# METADATA
# title: Tests for hitl.lib.levels
# description: Level ordering.
package hitl.lib.levels_test

import data.hitl.lib.levels

test_order if {
	levels.rank.suggestion < levels.rank.low
	levels.rank.low < levels.rank.medium
	levels.floor == "suggestion"
	not levels.rank.high
}
