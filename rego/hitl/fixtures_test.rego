# METADATA
# title: Test fixtures
# description: |
#   A fixture profile (deliberately not one of the shipped ones, so tests prove the policies read
#   the profile rather than assume its values), a fully populated base manifest, and track records.
#   Inject with `with data.hitl.profiles as fixtures.profiles` and `with input as fixtures.input_with(...)`.
package hitl.fixtures_test

# METADATA
# title: Fixture profile
# description: Loaded as data.hitl.profiles.fx.
profile := {
	"apiVersion": "hitl/v1",
	"kind": "OrgProfile",
	"metadata": {"name": "fixture", "description": "test fixture"},
	"environments": ["dev", "staging", "production"],
	"action_types": {
		"read": {
			"read_only": true, "post_hoc_review": false,
			"tiers": {"dev": "auto_approve", "staging": "auto_approve", "production": "auto_approve"},
			"risk": {"dev": "low", "staging": "low", "production": "low"},
		},
		"catalog_update": {
			"read_only": false, "post_hoc_review": true,
			"tiers": {"dev": "auto_approve", "staging": "auto_approve", "production": "auto_approve"},
			"risk": {"dev": "low", "staging": "low", "production": "low"},
		},
		"write": {
			"read_only": false, "post_hoc_review": false,
			"tiers": {"dev": "auto_approve", "staging": "single_approval", "production": "double_approval"},
			"risk": {"dev": "medium", "staging": "medium", "production": "high"},
		},
		"schema_migration": {
			"read_only": false, "post_hoc_review": false,
			"tiers": {"dev": "single_approval", "staging": "single_approval", "production": "double_approval"},
			"risk": {"dev": "high", "staging": "high", "production": "high"},
		},
		"delete": {
			"read_only": false, "post_hoc_review": false,
			"tiers": {"dev": "single_approval", "staging": "double_approval", "production": "block"},
			"risk": {"dev": "high", "staging": "high", "production": "high"},
		},
		"drop": {
			"read_only": false, "post_hoc_review": false,
			"tiers": {"dev": "double_approval", "staging": "escalate", "production": "block"},
			"risk": {"dev": "high", "staging": "high", "production": "high"},
		},
	},
	"destructive_statements": [
		{"pattern": `(?i)\bDROP\b`, "treated_as": "drop"},
		{"pattern": `(?i)\bTRUNCATE\b`, "treated_as": "delete"},
		{"pattern": `(?i)\bDELETE\b`, "treated_as": "delete"},
	],
	"statements": {
		"kinds": {
			"select": "read", "insert": "write", "update": "write", "merge": "write", "delete": "delete",
			"truncate": "delete", "drop": "drop", "create": "schema_migration", "create_or_replace": "drop",
			"alter_add": "schema_migration", "alter_drop": "drop", "comment": "catalog_update",
		},
	},
	"trust": {"minimums": {
		"low": {"min_reviewed": 50, "min_approval_rate": 0.95},
		"medium": {"min_reviewed": 200, "min_approval_rate": 0.97},
	}},
	"delivery": {
		"auto_approve": "none", "post_hoc_review": "digest", "single_approval": "digest",
		"double_approval": "interrupt", "escalate": "interrupt", "block": "interrupt",
	},
	"approvals": {
		"required": {"auto_approve": 0, "single_approval": 1, "double_approval": 2, "escalate": 1, "block": 0},
		"lifetime_hours": 72,
		"unsigned_verdicts_count": false,
	},
	"waiver_policy": {"unwaivable": ["pii_exposure"]},
	"waivers": [],
	"calibration": {
		"enabled": true, "bin_edges": [0, 0.5, 0.8, 0.9, 1],
		"min_samples_per_bin": 10, "min_samples_per_action_type": 50,
		"fallback": {"mode": "agent_accuracy"},
	},
	"templates": null,
	# Every rule's settings, as hitl loads them (hitl_cli/policy_set.py): the fixture has only this form of
	# them, so a rule that read its settings anywhere else would fail its tests.
	"rules": {
		"budget": {"per_action_usd": 100, "over_budget_tier": "block"},
		"confidence": {"threshold": 0.8, "below_threshold_tier": "escalate"},
		"daily_budget": {"per_agent_usd": 5000, "agents": {"agent-2": 50}, "organisation_usd": 8000, "over_budget_tier": "block"},
		"history_novelty": {"enabled": true, "fingerprint": ["agent", "action_type", "environment"], "tier": "escalate"},
		"irreversible_post_hoc": {"irreversible_floor": "single_approval"},
		"novelty": {"tier": "escalate"},
		"pii_exposure": {"exposure_tier": "block"},
		"pii_touch": {"touch_floor": "single_approval", "tables": ["analytics.customers", "crm.lead*"]},
		"trust": {
			"autonomous_risks": {"suggestion": [], "low": ["low"], "medium": ["low", "medium"]},
			"supervised_floor": "single_approval",
		},
		"unanalysable_statement": {"unanalysable_tier": "escalate"},
	},
}

# METADATA
# title: Fixture profiles
# description: The value for data.hitl.profiles.
profiles := {"fx": profile}

# METADATA
# title: Profiles with one profile changed
# description: The fixture profile deep-merged with patch, as data.hitl.profiles.
profiles_with(patch) := {"fx": object.union(profile, patch)}

# METADATA
# title: Base manifest
# description: |
#   ActionManifest.model_dump(mode="json") of a confident, reversible, non-novel write in dev
#   without PII and with negligible cost, by agent-1.
manifest := {
	"apiVersion": "hitl/v1",
	"kind": "ActionManifest",
	"metadata": {"id": "act-1", "created": null},
	"agent": {"id": "agent-1"},
	"action": {
		"type": "write", "summary": "Backfill a day", "statement": null,
		"confidence": 0.99, "reversible": true, "novel": false,
	},
	"target": {"environment": "dev", "system": null, "resource": null, "resource_type": null},
	"impact": {"pii": false, "exposes_pii": false, "rows_affected": null, "estimated_cost_usd": 0.01},
	"context": {"why": null, "read": null, "risks": null, "plan": null, "rollback": null},
}

# METADATA
# title: Manifest with changes
# description: The base manifest deep-merged with patch.
manifest_with(patch) := object.union(manifest, patch)

# METADATA
# title: Fully trusted track record
# description: agent-1 granted medium with a record far above every minimum.
trusted := {"agents": {"agent-1": {"level": "medium", "reviewed": 1000, "approved": 1000, "rejected": 0}}}

# METADATA
# title: Input for a changed manifest
# description: Single-manifest input for the fixture profile and the trusted record.
input_with(patch) := {"profile": "fx", "track_record": trusted, "manifest": manifest_with(patch)}

# METADATA
# title: Input with statement facts
# description: input_with(patch) plus the statement facts hitl would derive (input.statement_facts).
input_facts(patch, statement_facts) := object.union(input_with(patch), {"statement_facts": statement_facts})

# METADATA
# title: Statement facts
# description: input.statement_facts for the given operations ({kind, detail, has_where, writes, reads}).
statement_facts(operations) := {"dialect": "generic", "statements": operations, "unanalysable": []}

# METADATA
# title: One operation
# description: An operation of the given kind writing the given tables.
operation(kind, writes) := {"kind": kind, "detail": "", "has_where": null, "writes": writes, "reads": []}

# METADATA
# title: Input with a track record
# description: Single-manifest input for the fixture profile with the given track record.
input_record(patch, record) := {"profile": "fx", "track_record": record, "manifest": manifest_with(patch)}

# METADATA
# title: Record for agent-1
# description: A track record holding only agent-1 with the given numbers.
record(level, reviewed, approved) := {"agents": {"agent-1": {
	"level": level, "reviewed": reviewed,
	"approved": approved, "rejected": reviewed - approved,
}}}
