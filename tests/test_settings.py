"""Every HITL_* variable is read in hitl_cli/settings.py alone, and documented in one place: docs/cli.md."""

import re

import pytest

from conftest import ROOT, hitl
from hitl_cli import settings
from hitl_cli.errors import UsageError

PACKAGE = ROOT / "hitl_cli"
CLI_DOC = (ROOT / "docs" / "cli.md").read_text()
# The only other readers of the environment, and why: the secrets a profile's channels name ({env: NAME}), and
# the environment handed to the OPA child process (without the token).
OTHER_ENVIRONMENT_READERS = {"delivery/secrets.py", "engine/__init__.py"}


def _documented() -> dict[str, str]:
    section = CLI_DOC.split("## Environment variables", 1)[1].split("\n## ", 1)[0]
    return dict(re.findall(r"^\| `(HITL_[A-Z_]+)` \| ([^|]+) \|", section, re.MULTILINE))


def test_the_cli_reference_lists_every_variable_with_its_default():
    documented = _documented()
    assert set(documented) == set(settings.VARIABLES)
    for name, default in settings.VARIABLES.items():
        assert documented[name].strip() == str(default), name


def test_every_variable_the_package_names_is_a_setting():
    for source in PACKAGE.rglob("*.py"):
        for name in re.findall(r"HITL_[A-Z_]+[A-Z]", source.read_text()):
            assert name in settings.VARIABLES, f"{source.relative_to(ROOT)} names {name}, which settings.py does not read"


def test_no_other_module_reads_the_environment():
    readers = {
        source.relative_to(PACKAGE).as_posix()
        for source in PACKAGE.rglob("*.py")
        if re.search(r"os\.environ|os\.getenv|getenv\(", source.read_text())
    }
    assert readers == {"settings.py", *OTHER_ENVIRONMENT_READERS}


@pytest.mark.parametrize("variable", ["HITL_OPA_TIMEOUT", "HITL_MAX_NESTING_DEPTH"])
def test_a_numeric_setting_is_validated_where_it_is_read(variable, monkeypatch):
    monkeypatch.setenv(variable, "nan")
    reader = {"HITL_OPA_TIMEOUT": settings.opa_request_timeout, "HITL_MAX_NESTING_DEPTH": settings.max_nesting_depth}
    with pytest.raises(UsageError, match=variable):
        reader[variable]()
    monkeypatch.setenv(variable, "")
    assert reader[variable]() == settings.VARIABLES[variable]


def test_an_empty_path_variable_counts_as_unset(tmp_path):
    """HITL_OPA_BIN="" must not name the working directory as the opa binary."""
    result = hitl("--version", env={"HITL_OPA_BIN": ""}, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "HITL_OPA_BIN" not in result.stderr
