# METADATA
# title: Reasons
# description: The one constructor for the reasons a rule contributes to a decision.
package hitl.lib.reason

# METADATA
# title: Make a reason
# description: |
#   A reason object {code, tier, message}. Every rule builds its reasons through this helper,
#   so the shape of a reason is defined in exactly one place.
make(code, tier, message) := {"code": code, "tier": tier, "message": message}

# METADATA
# title: What a tier asks for
# scope: document
# description: A short phrase for messages, e.g. "needs double_approval" or "is blocked (block)".
needs(tier) := phrase if {
	phrase := _needs[tier]
} else := sprintf("needs %s", [tier])

_needs := {"auto_approve": "may run at once (auto_approve)", "block": "is blocked (block)"}
