# METADATA
# title: OPA runtime
# description: |
#   What the OPA evaluating these policies says about itself, so hitl can refuse a remote OPA older than
#   the release it supports (hitl_cli/opa.version) through the same REST API it asks decisions of.
package hitl.runtime

# METADATA
# title: OPA version
# description: The version of the OPA evaluating the policies, e.g. "1.22.2".
opa_version := opa.runtime().version
