# METADATA
# title: PII exposure
# description: An action whose PII leaves its governed boundary takes the profile's exposure tier.
# custom:
#   code: pii_exposure
package hitl.rules.pii_exposure

import data.hitl.config
import data.hitl.facts
import data.hitl.lib.reason

_settings := config.rule_setting("pii_exposure")

# METADATA
# title: PII exposure reason
# description: impact.exposes_pii is true.
# custom:
#   code: pii_exposure
reasons contains reason.make("pii_exposure", tier, message) if {
	facts.manifest.impact.exposes_pii == true
	tier := _settings.exposure_tier
	message := sprintf("the action exposes PII outside its governed boundary: it %s", [reason.needs(tier)])
}
