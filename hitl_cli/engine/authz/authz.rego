# METADATA
# title: hitl serve access
# description: |
#   OPA's authorization policy under `hitl serve` (opa run --authorization=basic). Served: the health
#   check, and reads and queries (GET, POST) under /v1/data/hitl, which is where decisions are asked for.
#   Also served: GET /v1/data/hitl_instance, the server's instance name.
#   Refused: every policy or data write (PUT, PATCH, DELETE) and every other path. With a token configured,
#   every request must carry it (Authorization: Bearer); data.system.hitl_serve.token_sha256 is its
#   SHA-256, null for none. OPA answers a refused request with 401 and the reason below.
# custom:
#   code: serve_access
package system.authz

# METADATA
# title: Allow
# description: Whether OPA serves the request, with the reason when it does not.
# custom:
#   code: serve_access
default allow := {"allowed": false, "reason": "hitl serve refuses this request: it serves GET /health and reads and queries under /v1/data/hitl; policy and data writes are refused"}

allow := {"allowed": false, "reason": "hitl serve requires its bearer token (Authorization: Bearer TOKEN)"} if {
	not _token_accepted
} else := {"allowed": true} if {
	_served
}

_token_accepted if data.system.hitl_serve.token_sha256 == null

_token_accepted if crypto.sha256(input.identity) == data.system.hitl_serve.token_sha256

_served if {
	input.method == "GET"
	input.path == ["health"]
}

# The server's instance name (hitl_cli.engine.server), which tells it apart from another server on its port.
_served if {
	input.method == "GET"
	input.path == ["v1", "data", "hitl_instance"]
}

_served if {
	input.method in {"GET", "POST"}
	array.slice(input.path, 0, 3) == ["v1", "data", "hitl"]
}
