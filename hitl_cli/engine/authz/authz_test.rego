package system.authz_test

import data.system.authz

token_hash := crypto.sha256("s3cret")

decide(request, hash) := answer if {
	answer := authz.allow with input as request with data.system.hitl_serve.token_sha256 as hash
}

query := {"method": "POST", "path": ["v1", "data", "hitl", "main", "decisions"], "identity": "s3cret"}

test_queries_and_reads_of_hitl_data_are_served_with_the_token if {
	decide(query, token_hash).allowed
	decide(object.union(query, {"method": "GET"}), token_hash).allowed
	decide({"method": "GET", "path": ["health"], "identity": "s3cret"}, token_hash).allowed
}

test_without_a_configured_token_no_identity_is_needed if {
	decide(object.remove(query, ["identity"]), null).allowed
}

test_a_missing_or_wrong_token_is_refused if {
	not decide(object.remove(query, ["identity"]), token_hash).allowed
	not decide(object.union(query, {"identity": "guess"}), token_hash).allowed
	contains(decide(object.remove(query, ["identity"]), token_hash).reason, "bearer token")
}

test_writes_are_refused_even_with_the_token if {
	every method in ["PUT", "PATCH", "DELETE"] {
		every path in [["v1", "policies", "hitl", "main"], ["v1", "data", "hitl", "waivers"], ["v1", "data"]] {
			answer := decide({"method": method, "path": path, "identity": "s3cret"}, token_hash)
			not answer.allowed
			contains(answer.reason, "writes are refused")
		}
	}
}

test_other_paths_are_refused if {
	every path in [["v1", "policies"], ["v1", "data", "system", "hitl_serve"], ["v1", "query"], ["v1", "config"], ["v1", "data"]] {
		not decide({"method": "GET", "path": path, "identity": "s3cret"}, token_hash).allowed
	}
}

test_the_instance_name_is_read_but_never_written if {
	decide({"method": "GET", "path": ["v1", "data", "hitl_instance"], "identity": "s3cret"}, token_hash).allowed
	not decide({"method": "GET", "path": ["v1", "data", "hitl_instance"]}, token_hash).allowed
	not decide({"method": "PUT", "path": ["v1", "data", "hitl_instance"], "identity": "s3cret"}, token_hash).allowed
	not decide({"method": "GET", "path": ["v1", "data", "hitl_instance", "name", "x"], "identity": "s3cret"}, token_hash).allowed
}
