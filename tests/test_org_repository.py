"""`hitl init` writes an organisation policy repository that works as generated, and `hitl test` runs its Rego
tests with hitl's: real CLI, real OPA, real pre-commit; the CI jobs' hitl steps are run as the CI would run them."""

import os
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from conftest import ROOT, hitl

RULES = Path(__file__).resolve().parent / "org_rules"
VENV_BIN = Path(os.environ.get("VIRTUAL_ENV") or ROOT / ".venv") / "bin"


@pytest.fixture(scope="module")
def repository(tmp_path_factory, opa_bin) -> Path:
    folder = tmp_path_factory.mktemp("org") / "acme-policies"
    result = hitl("init", folder, "--name", "acme")
    assert result.returncode == 0, result.stderr
    return folder


def in_repository(repository: Path, *args: str) -> subprocess.CompletedProcess:
    return hitl(*args, cwd=repository)


def test_init_writes_the_repository(repository):
    expected = {
        ".github/workflows/hitl.yml", ".gitlab-ci.yml", ".pre-commit-config.yaml", "README.md", "plans/example.yaml",
        "profiles/acme.yaml", "profiles/people/acme.yaml", "policies/rules/change_freeze.rego", "policies/rules/change_freeze.schema.json",
        "policies/rules/change_freeze.defaults.yaml", "policies/rules/change_freeze_test.rego",
    }
    assert {path.relative_to(repository).as_posix() for path in repository.rglob("*") if path.is_file()} == expected
    assert "{{" not in (repository / "README.md").read_text()


def test_the_generated_tests_pass_with_hitls_and_report_coverage(repository):
    result = in_repository(repository, "test", "policies")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "coverage 100.0% policies/rules/change_freeze.rego" in result.stdout
    assert " 0 failed" in result.stdout


def test_the_generated_rule_decides_from_the_generated_profile(repository, tmp_path):
    result = in_repository(repository, "evaluate", "plans", "--policy", "policies", "--profile", "profiles/acme.yaml")
    assert result.returncode == 0, result.stderr
    assert "change_freeze" not in result.stdout  # nothing is frozen as generated
    profile = yaml.safe_load((repository / "profiles" / "acme.yaml").read_text())
    profile["rules"]["change_freeze"]["environments"] = ["production"]
    profile["approvals"]["people"] = str(repository / "profiles" / "people" / "acme.yaml")
    frozen = tmp_path / "frozen.yaml"
    frozen.write_text(yaml.safe_dump(profile))
    result = in_repository(repository, "evaluate", "plans", "--policy", "policies", "--profile", frozen)
    assert "[escalate] change_freeze: production is frozen" in result.stdout, result.stderr


def test_a_failing_org_test_fails_hitl_test(repository, tmp_path):
    copy = tmp_path / "copy"
    shutil.copytree(repository, copy)
    test = copy / "policies" / "rules" / "change_freeze_test.rego"
    test.write_text(test.read_text() + '\ntest_wrong if {\n\ttesting.codes({"reasons": []}) == {"x"}\n}\n')
    result = in_repository(copy, "test", "policies")
    assert result.returncode == 1, result.stderr
    assert "FAIL " in result.stdout and "change_freeze_test.test_wrong" in result.stdout


def test_an_org_test_that_does_not_parse_names_file_and_line(repository, tmp_path):
    copy = tmp_path / "copy"
    shutil.copytree(repository, copy)
    (copy / "policies" / "rules" / "change_freeze_test.rego").write_text("package hitl.rules.change_freeze_test\n\nx := \n")
    result = in_repository(copy, "test", "policies")
    assert result.returncode == 5, result.stderr
    assert "change_freeze_test.rego:4: rego_parse_error: unexpected eof token" in result.stderr


def test_a_sox_rule_with_its_test_joins_the_generated_one(repository, tmp_path):
    copy = tmp_path / "copy"
    shutil.copytree(repository, copy)
    for file in RULES.iterdir():
        shutil.copyfile(file, copy / "policies" / "rules" / file.name)
    result = in_repository(copy, "test", "policies")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "policies/rules/sox.rego" in result.stdout


def test_init_never_overwrites(repository):
    result = hitl("init", repository)
    assert result.returncode == 2 and "not an empty folder" in result.stderr


def test_init_refuses_a_name_that_is_no_profile_name(tmp_path):
    result = hitl("init", tmp_path / "new", "--name", "../evil")
    assert result.returncode == 2 and "a profile name" in result.stderr
    assert not (tmp_path / "new").exists()


def _ci_environment() -> dict:
    return {**os.environ, "PATH": f"{VENV_BIN}{os.pathsep}{os.environ['PATH']}"}


def _run_script(repository: Path, script: str) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", "-e", "-c", script], cwd=repository, capture_output=True, text=True,
                          env=_ci_environment(), timeout=300)


def test_the_github_workflow_hitl_step_passes(repository):
    workflow = yaml.safe_load((repository / ".github" / "workflows" / "hitl.yml").read_text())
    [step] = [step for step in workflow["jobs"]["hitl"]["steps"] if step.get("name") == "hitl"]
    result = _run_script(repository, step["run"])
    assert result.returncode == 0, result.stdout + result.stderr
    assert (repository / "hitl.sarif").is_file()


def test_the_gitlab_job_script_passes(repository):
    job = yaml.safe_load((repository / ".gitlab-ci.yml").read_text())["hitl"]
    result = _run_script(repository, "\n".join(job["script"]))
    assert result.returncode == 0, result.stdout + result.stderr
    assert (repository / "hitl.xml").is_file()


def test_the_pre_commit_hooks_pass(repository, tmp_path):
    copy = tmp_path / "copy"
    shutil.copytree(repository, copy)
    environment = {**_ci_environment(), "PRE_COMMIT_HOME": str(tmp_path / "pre-commit-cache")}
    for command in (["git", "init", "-q"], ["git", "add", "-A"]):
        subprocess.run(command, cwd=copy, check=True, env=environment)
    result = subprocess.run([str(VENV_BIN / "pre-commit"), "run", "--all-files"], cwd=copy, capture_output=True,
                            text=True, env=environment, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "hitl test" in result.stdout and "Passed" in result.stdout
