"""Where CI users meet hitl: the pre-commit hook and the composite GitHub Action, run as far as this machine allows.

The hook runs for real through `pre-commit try-repo`: pre-commit clones the repository, builds the hook's
environment and pip installs hitl into it; hitl's dependencies come from the test's own environment rather than
the package index (half a minute of downloads, and not what is under test). GitHub's runner is not here, so the Action's scripts run as its steps would, with the
variables GitHub sets; its definition is checked for the rule that keeps inputs out of the shell's code.
"""

import os
import re
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest
import yaml

from conftest import ROOT, TRUSTED_RECORD, hitl, make_manifest, write_manifests, write_yaml

pytestmark = pytest.mark.attack


def _git(folder: Path, *args: str) -> None:
    subprocess.run(["git", "-C", folder, *args], check=True, capture_output=True)


def test_the_hook_manifest_is_valid_for_pre_commit():
    result = subprocess.run([sys.executable, "-m", "pre_commit", "validate-manifest", ROOT / ".pre-commit-hooks.yaml"],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_hook_gates_plan_files_through_pre_commit(opa_bin, tmp_path):
    repository = tmp_path / "plans-repo"
    repository.mkdir()
    _git(repository, "init", "-q")
    write_manifests(repository, [make_manifest(id="drop-1", type="drop", env="production")], "drop.yaml")
    write_manifests(repository, [make_manifest(id="read-1", type="read", env="production")], "read.yaml")
    _git(repository, "add", ".")
    # pre-commit builds the hook's environment and pip installs hitl into it from the repository; its
    # dependencies come from the test's own environment, as for the wheel's tests (tests/installed_package.py)
    env = {**os.environ, "PRE_COMMIT_HOME": str(tmp_path / "pre-commit-home"), "PIP_NO_DEPS": "1",
           "PYTHONPATH": sysconfig.get_paths()["purelib"], "PATH": f"{opa_bin.parent}{os.pathsep}{os.environ['PATH']}"}

    def hook(*files: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "pre_commit", "try-repo", ROOT, "hitl-check", "--files", *files],
                              capture_output=True, text=True, cwd=repository, env=env, timeout=600)

    blocked = hook("drop.yaml", "read.yaml")
    assert blocked.returncode == 1 and "drop-1: BLOCKED (block)" in blocked.stdout, blocked.stdout + blocked.stderr
    assert hook("read.yaml").returncode == 0


def _action() -> dict:
    return yaml.safe_load((ROOT / "action.yml").read_text())


def test_action_inputs_never_reach_a_script_as_code():
    """`${{ inputs.x }}` inside `run:` is spliced into the script before bash sees it: script injection."""
    steps = _action()["runs"]["steps"]
    for step in steps:
        if "run" in step:
            assert "${{" not in step["run"], step
            assert step["shell"] == "bash"
    referenced = {match for step in steps for value in (step.get("env") or {}).values()
                  for match in re.findall(r"inputs\.([\w-]+)", str(value))}
    assert referenced == {"paths", "profile", "track-record", "sarif-file"}
    assert set(_action()["inputs"]) == referenced | {"upload-sarif"}


def _run_check_step(tmp_path: Path, opa_bin: Path, **inputs: str) -> tuple[subprocess.CompletedProcess, str]:
    output = tmp_path / "github-output"
    output.write_text("")
    env = {key: value for key, value in os.environ.items() if not key.startswith("HITL_")}
    env.update({"GITHUB_ACTION_PATH": str(ROOT), "GITHUB_OUTPUT": str(output),
                "PATH": f"{Path(sys.executable).parent}{os.pathsep}{opa_bin.parent}{os.pathsep}{env['PATH']}"})
    env.update({f"HITL_ACTION_{name.upper()}": value for name, value in inputs.items()})
    result = subprocess.run([ROOT / "scripts" / "action-check"], capture_output=True, text=True, env=env, cwd=tmp_path,
                            timeout=300)
    return result, output.read_text()


def test_the_action_checks_every_path_writes_sarif_and_outputs_the_exit_code(opa_bin, tmp_path):
    spaced = tmp_path / "plans with spaces"
    spaced.mkdir()
    write_manifests(spaced, [make_manifest(id="w-1", type="write", env="production")])
    plain = write_manifests(tmp_path, [make_manifest(id="r-1", type="read", env="production")], "read.yaml")
    record = write_yaml(tmp_path / "record.yaml", TRUSTED_RECORD)
    result, outputs = _run_check_step(tmp_path, opa_bin, paths=f"{spaced}\n\n{plain}\n", profile="bank",
                                      track_record=str(record), sarif="hitl.sarif")
    assert result.returncode == 1, result.stderr
    assert outputs == "exit-code=1\n"
    assert "w-1" in result.stdout and result.stdout.startswith("::")  # annotations in the log
    assert "w-1" in (tmp_path / "hitl.sarif").read_text()


def test_hostile_inputs_stay_arguments(opa_bin, tmp_path):
    plan = write_manifests(tmp_path, [make_manifest(id="r-1", type="read", env="production")])
    marker = tmp_path / "pwned"
    for profile in (f"default; touch {marker}", f"$(touch {marker})", f"default`touch {marker}`"):
        result, outputs = _run_check_step(tmp_path, opa_bin, paths=str(plan), profile=profile)
        assert result.returncode == 2 and outputs == "exit-code=2\n", result.stderr
    result, _ = _run_check_step(tmp_path, opa_bin, paths=f"{plan}\n--opa-url=http://127.0.0.1:1", profile="default")
    assert result.returncode == 2  # a path that looks like an option is still a path (which does not exist)
    assert not marker.exists()



@pytest.mark.attack
def test_a_state_store_in_the_checkout_approves_nothing(opa_bin, tmp_path):
    """A pull request that adds .hitl/state.db, holding an approval of its own action, made the Action pass.
    (Under startup, a trial profile where unsigned verdicts count, so the planted approvals are as good as any.)"""
    plan = write_manifests(tmp_path, [make_manifest(id="w-1", type="write", env="production")])
    record = write_yaml(tmp_path / "record.yaml", TRUSTED_RECORD)
    decide = ("--profile", "startup", "--track-record", record)
    assert hitl("submit", plan, *decide, cwd=tmp_path).returncode == 1
    assert hitl("approve", "w-1", "--by", "cto", cwd=tmp_path).returncode == 0
    assert hitl("check", plan, *decide, cwd=tmp_path).returncode == 0  # the store in the tree lets it run
    result, outputs = _run_check_step(tmp_path, opa_bin, paths=str(plan), profile="startup", track_record=str(record))
    assert result.returncode == 1, result.stderr
    assert outputs == "exit-code=1\n"
