# METADATA
# title: PII touch
# description: An action that touches PII columns takes at least the profile's touch floor, if it sets one.
# custom:
#   code: pii_touch
package hitl.rules.pii_touch

import data.hitl.config
import data.hitl.facts
import data.hitl.lib.reason

# METADATA
# title: PII touch reason
# description: impact.pii is true and the profile's pii.touch_floor is not null.
# custom:
#   code: pii_touch
reasons contains reason.make("pii_touch", tier, message) if {
	facts.manifest.impact.pii == true
	tier := config.pii_touch_floor
	tier != null
	message := sprintf("the action touches PII: it needs at least %s", [tier])
}
