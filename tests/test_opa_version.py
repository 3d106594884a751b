"""hitl refuses an OPA older than the release it supports (hitl_cli/opa.version), naming both versions, exit 5.

The local binary is asked (`opa version`) while it starts, and judged before it is asked anything; an --opa-url
OPA is asked through the REST API hitl uses for decisions (data.hitl.runtime.opa_version). The old binaries and
servers here are FAULT INJECTION ONLY: a shell script that claims an old version, and a loopback stub that does;
the rest is the real CLI and OPA.
"""

import json
import stat

import pytest

from conftest import assert_failed_closed, hitl, make_manifest, write_manifests
from fault_proxy import LoopbackServer, QuietHandler, data_path, truthful_get
from hitl_cli.engine.binary import require_supported, supported_opa_version
from hitl_cli.engine.client import OPA_VERSION_WHAT
from hitl_cli.errors import EngineError

SUPPORTED = supported_opa_version()


@pytest.fixture
def plan(tmp_path):
    return write_manifests(tmp_path, [make_manifest(id="read-1", type="read")])


def old_opa(folder, version: str, real_opa):
    """A binary that says it is `version` and otherwise is the real OPA (so only the version check can stop it)."""
    script = folder / "opa"
    script.write_text(
        "#!/bin/sh\n"
        f'if [ "$1" = version ]; then echo "Version: {version}"; exit 0; fi\n'
        f'exec "{real_opa}" "$@"\n'
    )
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    return script


@pytest.mark.parametrize("command", ["evaluate", "check"])
def test_an_old_local_opa_is_refused_naming_both_versions(plan, tmp_path, opa_bin, command):
    binary = old_opa(tmp_path, "0.68.0", opa_bin)
    result = hitl(command, plan, "--profile", "default", env={"HITL_OPA_BIN": str(binary)})
    assert_failed_closed(result, "v0.68.0")
    assert SUPPORTED in result.stderr


def test_a_newer_local_opa_is_used(plan, tmp_path, opa_bin):
    binary = old_opa(tmp_path, "9.0.0", opa_bin)
    result = hitl("evaluate", plan, "--profile", "default", "--format", "json", env={"HITL_OPA_BIN": str(binary)})
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)[0]["tier"] == "auto_approve"


class VersionStub(LoopbackServer):
    """FAULT INJECTION ONLY: answers hitl's look-ups truthfully except its OPA version, and counts decision requests."""

    def __init__(self, version):
        self.posts = 0
        stub = self

        class Handler(QuietHandler):
            def do_GET(self):
                if self.path == data_path(OPA_VERSION_WHAT):
                    self._answer(200, json.dumps({} if version is None else {"result": version}).encode())
                else:
                    self._answer(200, truthful_get(self.path))

            def do_POST(self):
                stub.posts += 1
                self._answer(500, b"{}")

        self._listen(Handler)


@pytest.mark.parametrize("version, shown", [("0.55.0", "v0.55.0"), (None, "none"), ({"major": 9}, "major")])
def test_an_old_or_silent_remote_opa_is_refused_before_any_decision(plan, version, shown):
    with VersionStub(version) as stub:
        result = hitl("check", plan, "--profile", "default", "--opa-url", stub.url)
    assert_failed_closed(result, shown)
    assert SUPPORTED in result.stderr
    assert stub.posts == 0


@pytest.mark.parametrize("version", ["1.3.0", "v1.3.0", "1.9.99"])
def test_versions_compare_as_numbers_not_text(version):
    # "1.3.0" > "1.22.2" as text: a string comparison would let this old release through.
    assert SUPPORTED == "v1.22.2"
    with pytest.raises(EngineError, match="older than v1.22.2"):
        require_supported(version, "OPA at test")


def test_the_supported_release_and_newer_ones_pass():
    for version in [SUPPORTED, SUPPORTED.removeprefix("v"), "1.22.10", "1.100.0", "2.0.0-dev"]:
        require_supported(version, "OPA at test")
