"""`hitl init DIR`: an organisation policy repository, working as generated.

The files come from hitl_cli/scaffold (package data; `dot-` stands for a leading dot, so no tool mistakes them
for hitl's own configuration): an example rule with its schema, defaults and tests, a plan, a README, CI for
GitHub Actions and GitLab and a pre-commit configuration. The profile is the shipped default profile under the
organisation's name, with the example rule's settings. `{{ profile }}` in a file becomes that name.
"""

import re
from pathlib import Path

import yaml

from hitl_cli import paths
from hitl_cli.errors import UsageError

SCAFFOLD = paths.PACKAGE / "scaffold"
PLACEHOLDER = "{{ profile }}"
DOT = "dot-"
PROFILE_NAME = re.compile(r"[a-z][a-z0-9_-]{0,62}")
BASE_PROFILE = "default"
EXAMPLE_SETTINGS = {"change_freeze": {"environments": []}}


def _target(relative: Path) -> Path:
    return Path(*["." + part.removeprefix(DOT) if part.startswith(DOT) else part for part in relative.parts])


def _profile_text(name: str, people: Path) -> str:
    """people: the people file the profile names, relative to the profile."""
    profile = yaml.safe_load((paths.profiles_dir() / f"{BASE_PROFILE}.yaml").read_text(encoding="utf-8"))
    profile["metadata"]["name"] = name
    profile["approvals"]["people"] = people.as_posix()
    profile["rules"] = EXAMPLE_SETTINGS
    header = f"# The {name} profile: hitl's {BASE_PROFILE} profile, with the settings of this repository's rules.\n"
    return header + yaml.safe_dump(profile, sort_keys=False, allow_unicode=True)


def _people_text() -> str:
    """The shipped default profile's people file: placeholder keys, to be replaced by the organisation's own."""
    shipped = yaml.safe_load((paths.profiles_dir() / f"{BASE_PROFILE}.yaml").read_text(encoding="utf-8"))
    text = (paths.profiles_dir() / shipped["approvals"]["people"]).read_text(encoding="utf-8")
    return "# Replace these people and placeholder keys with your own (hitl's docs/workflow.md, \"People, keys and signed verdicts\").\n" + text


def scaffold(folder: Path, name: str) -> list[Path]:
    """Write the repository into folder (new or empty); the files written, relative to it."""
    if not PROFILE_NAME.fullmatch(name):
        raise UsageError(f"--name {name!r}: a profile name is lower case letters, digits, - and _")
    if folder.exists() and (not folder.is_dir() or any(folder.iterdir())):
        raise UsageError(f"{folder}: not an empty folder; hitl init writes a new repository and overwrites nothing")
    written = []
    for source in sorted(path for path in SCAFFOLD.rglob("*") if path.is_file()):
        relative = _target(source.relative_to(SCAFFOLD))
        target = folder / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(source.read_text(encoding="utf-8").replace(PLACEHOLDER, name), encoding="utf-8")
        written.append(relative)
    people = Path("people") / f"{name}.yaml"
    profile = Path("profiles") / f"{name}.yaml"
    (folder / "profiles" / people).parent.mkdir(parents=True, exist_ok=True)
    (folder / "profiles" / people).write_text(_people_text(), encoding="utf-8")
    (folder / profile).write_text(_profile_text(name, people), encoding="utf-8")
    return sorted([*written, profile, Path("profiles") / people])
