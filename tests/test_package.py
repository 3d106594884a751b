"""hitl installed from its wheel works anywhere: in a new virtualenv, from a folder outside the checkout
(the `installed` fixture, built by tests/installed_package.py).
"""

import json
import subprocess
from pathlib import Path

import yaml

from conftest import ROOT, TRUSTED_RECORD, make_manifest
from installed_package import run


def test_the_installed_package_is_the_wheel_not_the_checkout(installed):
    where = subprocess.run([installed["python"], "-c", "import hitl_cli, hitl_cli.paths as p; print(hitl_cli.__file__); print(p.rego_dir())"],
                           capture_output=True, text=True, env=installed["env"], cwd=installed["cwd"], check=True).stdout.split()
    assert all(Path(line).is_relative_to(installed["purelib"]) for line in where), where
    assert (Path(where[1]) / "hitl" / "main.rego").is_file()


def test_version_names_hitl_and_opa(installed, opa_bin):
    result = run(installed, "--version")
    assert result.returncode == 0, result.stderr
    supported = (ROOT / "hitl_cli" / "opa.version").read_text().strip()
    assert f"built for OPA {supported}" in result.stdout
    assert f"opa {supported} ({opa_bin})" in result.stdout


def test_evaluate_check_and_submit_work_outside_the_checkout(installed):
    folder = installed["cwd"]
    plan = folder / "plan.yaml"
    plan.write_text(yaml.safe_dump_all([make_manifest(id="w-1", type="write", env="production"),
                                        make_manifest(id="r-1", type="read", env="production")]))
    record = folder / "record.yaml"
    record.write_text(yaml.safe_dump(TRUSTED_RECORD))
    profiles = run(installed, "profile", "list")
    assert profiles.returncode == 0 and {line.split()[0] for line in profiles.stdout.splitlines()} >= {"default", "bank", "startup"}
    assert str(ROOT) not in profiles.stdout
    evaluated = run(installed, "evaluate", plan, "--profile", "bank", "--track-record", record, "--format", "json")
    assert evaluated.returncode == 0, evaluated.stderr
    assert [(d["id"], d["tier"], d["profile"]) for d in json.loads(evaluated.stdout)] == [
        ("w-1", "double_approval", "bank"), ("r-1", "auto_approve", "bank")]
    assert run(installed, "check", plan, "--profile", "bank", "--track-record", record).returncode == 1
    state = folder / "state.db"
    submitted = run(installed, "submit", plan, "--profile", "bank", "--track-record", record, "--state", state)
    assert submitted.returncode == 1, submitted.stderr
    status = run(installed, "status", "w-1", "--state", state, "--format", "json")
    assert json.loads(status.stdout)["status"] == "pending"
    assert run(installed, "notify", "w-1", "--state", state).returncode == 0  # the templates travel too
