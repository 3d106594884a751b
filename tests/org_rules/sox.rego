# METADATA
# title: SOX tables
# description: A write to a table tagged SOX needs at least the profile's SOX tier.
# custom:
#   code: sox_table
package hitl.rules.sox

import data.hitl.config
import data.hitl.facts
import data.hitl.lib.reason

settings := config.rule_setting("sox")

# METADATA
# title: SOX table reason
# description: The target resource is one of the SOX tables, and the action is not a read.
# custom:
#   code: sox_table
reasons contains reason.make("sox_table", settings.tier, message) if {
	facts.manifest.target.resource in settings.tables
	message := sprintf("%s is a SOX table: it %s", [facts.manifest.target.resource, reason.needs(settings.tier)])
}
