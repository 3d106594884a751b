# METADATA
# title: PII touch
# description: |
#   An action that touches PII takes at least the profile's touch floor, if it sets one: when impact.pii
#   says so, and for each table it touches that the profile classifies as PII (pii.tables), whatever
#   impact.pii says. The tables it touches are target.resource and every table its statement writes or
#   reads (hitl.statements).
# custom:
#   code: pii_touch
package hitl.rules.pii_touch

import data.hitl.config
import data.hitl.facts
import data.hitl.lib.reason
import data.hitl.statements

_settings := config.rule_setting("pii_touch")

# METADATA
# title: PII touch reason
# description: impact.pii is true and the profile's pii.touch_floor is not null.
# custom:
#   code: pii_touch
reasons contains reason.make("pii_touch", tier, message) if {
	facts.manifest.impact.pii == true
	tier := _settings.touch_floor
	tier != null
	message := sprintf("the action touches PII: it needs at least %s", [tier])
}

# METADATA
# title: PII table reason
# description: A table the action touches is classified as PII and the profile's pii.touch_floor is not null.
# custom:
#   code: pii_touch
reasons contains reason.make("pii_touch", tier, message) if {
	count(_settings.tables) > 0 # most profiles classify no table: then no table is looked at
	some table in touched_tables
	classified(table)
	tier := _settings.touch_floor
	tier != null
	message := sprintf("the action touches %s, classified as PII: it needs at least %s", [table, tier])
}

# METADATA
# title: Touched tables
# description: target.resource and every table the statement writes or reads.
touched_tables := (statements.written_tables | statements.read_tables) | {r |
	r := facts.manifest.target.resource
	is_string(r)
}

# METADATA
# title: Classified as PII
# description: |
#   True when a pii.tables glob covers the name, compared without quotes and case (a quoted
#   "ANALYTICS"."CUSTOMERS" is analytics.customers in Snowflake). A name with more parts is judged by its
#   last parts (db.analytics.customers), one with fewer parts against the glob's last parts (customers
#   may reach analytics.customers through the search path): wrongly classifying a table only asks for a
#   person, missing one would not.
classified(table) if {
	some pattern in _settings.tables
	_covers(split(lower(pattern), "."), split(_plain(table), "."))
}

_plain(name) := lower(strings.replace_n({"\"": "", "`": "", "[": "", "]": ""}, name))

_covers(pattern, name) if {
	n := min([count(pattern), count(name)])
	glob.match(_last(pattern, n), ["."], _last(name, n))
}

_last(parts, n) := concat(".", array.slice(parts, count(parts) - n, count(parts)))
