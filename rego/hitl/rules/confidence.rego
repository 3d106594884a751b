# METADATA
# title: Confidence
# description: |
#   A non-read action whose confidence is under the profile's threshold, or that gives no
#   confidence at all, takes the below-threshold tier. Unknown action types count as non-read.
#   With calibration data for the agent (hitl.calibrated), the calibrated confidence is compared,
#   and the message shows both the stated and the calibrated value.
# custom:
#   code: low_confidence
package hitl.rules.confidence

import data.hitl.calibrated
import data.hitl.config
import data.hitl.facts
import data.hitl.lib.reason

_settings := config.rule_setting("confidence")

# METADATA
# title: Low confidence reason
# description: Not read-only, and action.confidence (calibrated when possible) is null or under confidence.threshold.
# custom:
#   code: low_confidence
reasons contains reason.make("low_confidence", tier, message) if {
	not facts.read_only
	some stated in _below_threshold
	tier := _settings.below_threshold_tier
	message := sprintf("%s: it %s", [stated, reason.needs(tier)])
}

_confidence := facts.manifest.action.confidence

_below_threshold contains message if {
	not is_number(_confidence)
	message := sprintf(
		"no confidence was given, and non-read actions need at least %v",
		[_settings.threshold],
	)
}

_below_threshold contains message if {
	is_number(_confidence)
	not calibrated.applies
	_confidence < _settings.threshold
	message := sprintf(
		"confidence %v is under the threshold %v for non-read actions",
		[_confidence, _settings.threshold],
	)
}

_below_threshold contains message if {
	calibrated.value < _settings.threshold
	message := sprintf(
		"confidence %v, calibrated to %v (%s), is under the threshold %v for non-read actions",
		[_confidence, calibrated.value, calibrated.explanation, _settings.threshold],
	)
}
