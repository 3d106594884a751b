# METADATA
# title: Tests for hitl.runtime
# description: The OPA version is the running OPA's own.
package hitl.runtime_test

import data.hitl.runtime

test_opa_version_is_a_release if {
	regex.match(`^[0-9]+\.[0-9]+\.[0-9]+`, runtime.opa_version)
}
