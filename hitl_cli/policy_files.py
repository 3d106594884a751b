"""The files OPA loads from the policy folder: what the policy revision digests, what a bundle carries, what
`hitl docs` reads.

hitl starts OPA on the folder (`opa run --ignore '*_test.rego' FOLDER ...`), and OPA's loader then reads, at any
depth and in hidden folders too, every `.rego` file as a policy and every `.json`, `.yaml` and `.yml` file as data
under the path of its folder (extensions as written, case-sensitive), and every `.tar.gz` file as a bundle. hitl
takes exactly that set, `*_test.rego` excepted, and refuses, rather than follows, what it cannot vouch for: a
symbolic link anywhere in the folder (OPA would follow it out of the folder, where no revision sees a change), a
nested `.tar.gz` bundle, and a folder without a single policy.

A rule's settings files (`<rule>.schema.json`, `<rule>.defaults.yaml`, hitl_cli.policy_set) are hitl's, not OPA's:
hitl reads them when it loads a profile and tells OPA to ignore them (ignore_options), so they are listed apart.
"""

import os
from dataclasses import dataclass
from pathlib import Path

from hitl_cli.errors import EngineError

POLICY_SUFFIX = ".rego"
TEST_SUFFIX = "_test.rego"
DATA_SUFFIXES = (".json", ".yaml", ".yml")
BUNDLE_SUFFIX = ".tar.gz"
SCHEMA_SUFFIX = ".schema.json"
DEFAULTS_SUFFIX = ".defaults.yaml"
SETTINGS_FILES = ("*" + SCHEMA_SUFFIX, "*" + DEFAULTS_SUFFIX)


def ignore_options(tests: bool) -> list[str]:
    """The `--ignore` options of an OPA hitl starts on a policy folder: the rules' settings files, which hitl reads
    itself, and the tests unless OPA is to run them."""
    patterns = (*SETTINGS_FILES, "*" + TEST_SUFFIX) if tests else SETTINGS_FILES
    return [option for pattern in patterns for option in ("--ignore", pattern)]


@dataclass(frozen=True)
class PolicyFiles:
    """The folder, the files OPA loads from it, and the rules' settings files (relative paths, sorted)."""

    folder: Path
    policies: tuple[Path, ...]
    data: tuple[Path, ...]
    settings: tuple[Path, ...] = ()

    @property
    def loaded(self) -> tuple[Path, ...]:
        """What OPA loads and hitl reads: every file a decision depends on."""
        return tuple(sorted(self.policies + self.data + self.settings))


def policy_files(folder: Path) -> PolicyFiles:
    """Every file OPA loads from the folder; EngineError (exit 5) for a missing or empty folder, a link or a bundle."""
    if not folder.is_dir():
        raise EngineError(f"policy folder {folder} does not exist")
    policies: list[Path] = []
    data: list[Path] = []
    settings: list[Path] = []
    for parent, folders, names in os.walk(folder):  # links are not followed: each is refused below
        for name in sorted(folders + names):
            path = Path(parent) / name
            relative = path.relative_to(folder)
            if path.is_symlink():
                raise EngineError(
                    f"policy folder {folder}: {relative} is a symbolic link; hitl refuses links in the policy folder "
                    "(OPA would load what it points to): copy the files in"
                )
            if name.endswith(BUNDLE_SUFFIX) and path.is_file():
                raise EngineError(f"policy folder {folder}: {relative} is a bundle; hitl does not load nested bundles")
        for name in names:
            relative = (Path(parent) / name).relative_to(folder)
            if name.endswith(POLICY_SUFFIX) and not name.endswith(TEST_SUFFIX):
                policies.append(relative)
            elif name.endswith((SCHEMA_SUFFIX, DEFAULTS_SUFFIX)):
                settings.append(relative)
            elif name.endswith(DATA_SUFFIXES):
                data.append(relative)
    if not policies:
        raise EngineError(f"policy folder {folder} holds no policy ({POLICY_SUFFIX} file): nothing to decide with")
    return PolicyFiles(folder, tuple(sorted(policies)), tuple(sorted(data)), tuple(sorted(settings)))
