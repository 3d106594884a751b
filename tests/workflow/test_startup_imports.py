"""What a command imports: the libraries a command does not use stay unimported, so it does not pay for them
(bench/single_evaluate.py, bench/signed_approve.py). A later change that imports one of them at module level
again fails here, not only in a bench.

The real CLI in its own process, with Python's own import log (PYTHONPROFILEIMPORTTIME, what `python -X
importtime` writes to stderr): every module an import statement brought in, on any thread, is named there
(one that importlib.import_module loads is not, but what it imports is). And every model of hitl's is built at
its first use, not when its module is imported (pydantic's defer_build, through models.common.DeferredModel).
"""

import importlib
import pkgutil
import re

from pydantic import BaseModel

import hitl_cli
from conftest import hitl, write_manifests
from .support import make_workspace, tier_manifest

# The OPA client's package also holds an asyncio client (aiohttp, aiofiles) that hitl never uses.
ASYNC_OPA_CLIENT = {"aiohttp", "aiofiles", "opa_client.opa_async"}
# What only deciding needs: the statement parser, the OPA client and its HTTP library.
DECIDING = {"sqlglot", "opa_client", "requests", *ASYNC_OPA_CLIENT}
# "import time: SELF | CUMULATIVE | NAME"; imports on several threads can make the times negative
# What only other commands use: the workflow's core and templates, impact analysis, the policies' documentation,
# the Rego test runner, the JUnit and SARIF reporters.
OTHER_COMMANDS = {
    "hitl_cli.workflow.verdicts", "hitl_cli.workflow.views", "hitl_cli.rendering", "hitl_cli.audit", "hitl_cli.impact",
    "hitl_cli.profile_changes", "hitl_cli.docs", "hitl_cli.rego_tests", "xml.etree.ElementTree",
}
_LOGGED = re.compile(r"^import time:\s+-?\d+ \|\s+-?\d+ \|\s*(\S+)$", re.MULTILINE)


def imported(stderr: str) -> set[str]:
    return set(_LOGGED.findall(stderr))


def test_evaluate_imports_the_synchronous_opa_client_only_and_nothing_of_other_commands(tmp_path):
    plan = write_manifests(tmp_path, [tier_manifest("double_approval")])
    result = hitl("evaluate", plan, "--profile", "default", env={"PYTHONPROFILEIMPORTTIME": "1"})
    assert result.returncode == 0, result.stderr
    modules = imported(result.stderr)
    assert {"opa_client.errors", "requests"} <= modules  # the log is read right: what it decides with is there
    assert "sqlglot" not in modules  # statements are parsed by the process it forked (hitl_cli.statements.forked)
    assert not modules & ASYNC_OPA_CLIENT
    assert not modules & OTHER_COMMANDS


def test_a_signed_approve_imports_nothing_only_deciding_needs(tmp_path):
    ws = make_workspace(tmp_path)
    ws.submit([tier_manifest("single_approval")])
    result = ws.hitl("approve", "m-single_approval", "--by", "alice", env={"PYTHONPROFILEIMPORTTIME": "1"})
    assert result.returncode == 0, result.stderr
    modules = imported(result.stderr)
    assert "hitl_cli.signing.sshsig" in modules  # it did sign
    assert not {module for module in modules if module.split(".")[0] in DECIDING or module in DECIDING}


def test_every_model_is_built_at_its_first_use():
    for module in pkgutil.walk_packages(hitl_cli.__path__, "hitl_cli."):
        if module.name != "hitl_cli.__main__":
            importlib.import_module(module.name)
    models = [model for model in _subclasses(BaseModel) if model.__module__.startswith("hitl_cli.")]
    # hitl serve's request and answer bodies are built once, when the server starts, which is its start-up anyway
    models = [model for model in models if not model.__module__.startswith("hitl_cli.service")]
    assert len(models) > 50  # they were found
    assert [model.__qualname__ for model in models if not model.model_config.get("defer_build")] == []


def _subclasses(cls: type) -> set[type]:
    found = set(cls.__subclasses__())
    return found.union(*(_subclasses(sub) for sub in found))
