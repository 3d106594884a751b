"""docs/cli.md and docs/manifest.md stay the reference: every command, option and manifest field is in them (every
setting: tests/test_settings.py)."""

import pytest
import typer
from pydantic import BaseModel

from conftest import ROOT
from hitl_cli.cli import app
from hitl_cli.models import ActionManifest

CLI_DOC = (ROOT / "docs" / "cli.md").read_text()
MANIFEST_DOC = (ROOT / "docs" / "manifest.md").read_text()


def _commands(command, prefix):
    if hasattr(command, "commands"):
        for name, sub in command.commands.items():
            yield from _commands(sub, [*prefix, name])
    else:
        yield " ".join(prefix), command


COMMANDS = list(_commands(typer.main.get_command(app), ["hitl"]))


@pytest.mark.parametrize(("name", "command"), COMMANDS, ids=[name for name, _ in COMMANDS])
def test_every_command_and_option_is_in_the_cli_reference(name, command):
    assert f"`{name}" in CLI_DOC or f"{name} " in CLI_DOC, name
    for parameter in command.params:
        if parameter.param_type_name == "option":
            assert any(flag in CLI_DOC for flag in parameter.opts if flag.startswith("--")), (name, parameter.opts)


def _fields(model: type[BaseModel], prefix: str = ""):
    for name, field in model.model_fields.items():
        yield f"{prefix}{name}"
        annotation = field.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            yield from _fields(annotation, f"{prefix}{name}.")


def test_every_manifest_field_is_in_the_manifest_reference():
    for path in _fields(ActionManifest):
        assert f"{path.rsplit('.', 1)[-1]}:" in MANIFEST_DOC, path


def test_the_references_never_link_outside_the_project():
    for text in (CLI_DOC, MANIFEST_DOC):
        assert "../shared" not in text and "](spec/" not in text


PROFILES_DOC = (ROOT / "docs" / "profiles.md").read_text()


def _field_paths(model: type[BaseModel], prefix: str = ""):
    for name, field in model.model_fields.items():
        yield prefix + name
        annotation = field.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            yield from _field_paths(annotation, f"{prefix}{name}.")


def test_every_profile_field_is_in_the_profile_reference():
    from hitl_cli.models import Profile

    for path in _field_paths(Profile):
        leaf = path.rsplit(".", 1)[-1]
        assert f"`{path}" in PROFILES_DOC or f".{leaf}`" in PROFILES_DOC or f"`{leaf}`" in PROFILES_DOC, path


def test_the_readme_links_the_profile_reference():
    assert "(docs/profiles.md)" in (ROOT / "README.md").read_text()
