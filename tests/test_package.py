"""hitl installed from its wheel works anywhere: in a new virtualenv, from a folder outside the checkout.

The wheel is built from a copy of the project's files (so the build leaves nothing in the checkout) and
installed without its dependencies, which the new virtualenv takes from the test's own environment through a
.pth line: what is under test is the wheel's content (code, policies, profiles, templates), not the index.
"""

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import venv
from pathlib import Path

import pytest
import yaml

from conftest import ROOT, TRUSTED_RECORD, make_manifest

PROJECT_FILES = ("hitl_cli", "rego", "org_profiles", "pyproject.toml", "setup.py", "README.md")


def _copy_project(target: Path) -> Path:
    ignore = shutil.ignore_patterns("__pycache__", "*.egg-info")
    for name in PROJECT_FILES:
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, target / name, ignore=ignore)
        else:
            (target / name).write_bytes(source.read_bytes())
    return target


@pytest.fixture(scope="module")
def installed(tmp_path_factory, opa_bin) -> dict:
    """A virtualenv with hitl installed from its wheel, and an environment that knows nothing of the checkout."""
    root = tmp_path_factory.mktemp("package")
    source = _copy_project(root / "source")
    wheels = root / "wheels"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation", "-w", wheels, source],
                   check=True, capture_output=True)
    [wheel] = wheels.glob("hitl-*.whl")
    environment = root / "venv"
    venv.create(environment, with_pip=False)
    python = environment / "bin" / "python"
    subprocess.run([sys.executable, "-m", "pip", "--python", python, "install", "--quiet", "--no-deps", wheel],
                   check=True, capture_output=True)
    purelib = Path(subprocess.run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                                  check=True, capture_output=True, text=True).stdout.strip())
    (purelib / "dependencies-from-the-test.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    env = {key: value for key, value in os.environ.items() if not key.startswith("HITL_") and key != "PYTHONPATH"}
    env["PATH"] = f"{environment / 'bin'}{os.pathsep}{opa_bin.parent}{os.pathsep}{env.get('PATH', '')}"
    elsewhere = root / "elsewhere"
    elsewhere.mkdir()
    return {"hitl": environment / "bin" / "hitl", "python": python, "purelib": purelib, "env": env, "cwd": elsewhere}


def run(installed: dict, *args) -> subprocess.CompletedProcess:
    return subprocess.run([installed["hitl"], *map(str, args)], capture_output=True, text=True,
                          env=installed["env"], cwd=installed["cwd"], timeout=120)


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
