# Bench-only: conftest runs hitl's own decision (data.hitl.main.decision) over each file it is given.
# The profile and the track record reach conftest as data (bench/run.py passes them with --data):
# data.hitl.profiles is what `hitl_cli.engine.write_policy_data` produces; data.bench names the profile
# and holds the track record and the statement facts hitl derives for each manifest (by id). A JSON file may hold an array of manifests, a YAML file one per document.
# One rule (deny), so conftest runs one query per file and each decision is made once.
package main

manifests := input if is_array(input)

manifests := [input] if is_object(input)

decisions := [d |
	some m in manifests
	d := data.hitl.main.decision with input as {
		"profile": data.bench.profile,
		"track_record": data.bench.track_record,
		"manifest": m,
		"statement_facts": data.bench.statement_facts[m.metadata.id],
	}
]

# Like `hitl check`: every action that may not run now fails the check, as "<id> <tier>".
deny contains sprintf("%s %s", [d.id, d.tier]) if {
	some d in decisions
	d.tier != "auto_approve"
}

# Fail closed like hitl: a manifest the policy cannot decide is a failure, never a pass.
deny contains "a manifest got no decision" if count(decisions) != count(manifests)
