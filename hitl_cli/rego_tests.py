"""`hitl test`: the shipped policies' Rego tests and the organisation's, run together by `opa test`.

OPA is given the shipped policy folder (its tests included), the test helpers (data.hitl.testing, in
hitl_cli/testing), every `.rego` file of the organisation folders (hitl_cli.policy_set checks them first) and
the shipped profiles as hitl loads them (the organisation rules' default settings filled in), under
data.hitl.profiles. When every test passes, a second run measures the coverage of each organisation file.
"""

import json
import tempfile
from dataclasses import dataclass
from pathlib import Path

from hitl_cli import engine, paths, policy_set
from hitl_cli.engine.binary import run_opa
from hitl_cli.engine.rego_errors import rego_error
from hitl_cli.errors import EngineError
from hitl_cli.inputs import load_all_profiles
from hitl_cli.policy_files import ignore_options

TESTING = paths.PACKAGE / "testing"
TEST_TIMEOUT_SECONDS = 600


@dataclass(frozen=True)
class TestRun:
    passed: int
    failed: list[str]  # `file:row: package.name` of each failing test
    coverage: dict[str, float]  # organisation file -> percent of its lines covered (only when every test passed)


def _opa_test(sources: list[Path], *options: str) -> object:
    done = run_opa(["test", "--format", "json", *ignore_options(tests=False), *options, *map(str, sources)], TEST_TIMEOUT_SECONDS)
    try:
        return json.loads(done.stdout)
    except ValueError:
        raise EngineError(f"opa test failed: {rego_error(done.stderr or done.stdout)}") from None


def run() -> TestRun:
    """The tests of the shipped policies and of the configured organisation folders (EngineError: OPA could not
    load them)."""
    policies = policy_set.current()
    org_files = sorted(path for files in policies.org for path in files.folder.rglob("*.rego"))
    with tempfile.TemporaryDirectory(prefix="hitl-test-") as folder:
        data = Path(folder) / "data.json"
        document = engine.policy_data(load_all_profiles(), None)
        # hitl's own tests inject profiles of their own, which hold no organisation rule's settings: the settings a
        # decision checks every rule's settings against would make those profiles incomplete.
        del document["hitl"]["required_settings"]
        data.write_text(json.dumps(document))
        sources = [policies.shipped, TESTING, data, *org_files]
        results = _opa_test(sources)
        if not isinstance(results, list):
            raise EngineError("opa test gave no list of results")
        failed = [
            f"{result['location']['file']}:{result['location']['row']}: {result['package']}.{result['name']}"
            for result in results if result.get("fail") or result.get("error")
        ]
        coverage: dict[str, float] = {}
        if not failed:
            covered = _opa_test(sources, "--coverage")
            files = covered.get("files", {}) if isinstance(covered, dict) else {}
            coverage = {
                str(path): files.get(str(path), {}).get("coverage", 0.0)
                for path in org_files if not path.name.endswith("_test.rego")
            }
    return TestRun(len(results) - len(failed), failed, coverage)
