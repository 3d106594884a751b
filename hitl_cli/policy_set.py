"""The policies a run decides with: hitl's shipped policy folder, and the organisation's folders beside it.

An organisation adds folders with `--policy DIR` (repeatable) and HITL_POLICY_PATH (folders separated by
os.pathsep), for every command that evaluates. An organisation folder holds rules and nothing else: each
`.rego` file (tests, `*_test.rego`, aside) is a package `hitl.rules.<name>` that contributes reasons like a
shipped rule, with a METADATA `custom.code`, and may have its settings beside it: `<name>.schema.json` (a JSON
Schema for the profile's `rules.<name>` entry) and `<name>.defaults.yaml` (the values a profile need not give).
A package outside that namespace, a name a shipped or another organisation rule already has, a rule without
its code, and any other data file are refused (usage error), never ignored: OPA is given the rule files
themselves, so nothing else in the folder can reach the decision data.
"""

import json
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import jsonschema
import yaml

from hitl_cli import paths, settings
from hitl_cli.engine.binary import run_opa
from hitl_cli.engine.rego_errors import rego_error
from hitl_cli.errors import EngineError, UsageError
from hitl_cli.policy_files import PolicyFiles, policy_files

RULES_NAMESPACE = "data.hitl.rules."
RULE_NAME = re.compile(r"[a-z][a-z0-9_]{0,62}")
SCHEMA_SUFFIX = ".schema.json"
DEFAULTS_SUFFIX = ".defaults.yaml"
INSPECT_TIMEOUT_SECONDS = 60

_chosen: list[Path] = []  # this run's --policy folders (the option's callback records them)


def choose(folders: list[Path] | None) -> list[Path] | None:
    """Record the --policy folders of this run (a Typer option callback: returns what it was given)."""
    _chosen[:] = folders or []
    return folders


def org_folders() -> tuple[Path, ...]:
    """HITL_POLICY_PATH's folders, then --policy's, each once."""
    listed = settings.policy_path()
    unique: dict[Path, Path] = {}
    for folder in [*listed, *_chosen]:
        unique.setdefault(folder.resolve(), folder)
    return tuple(unique.values())


@dataclass(frozen=True)
class OrgRule:
    name: str
    folder: Path  # the organisation folder
    policy: Path  # relative to the folder
    schema: dict | None  # its settings' JSON Schema, when it takes settings
    defaults: dict  # the settings a profile need not give

    def settings(self, given: object) -> tuple[dict | None, list[tuple[str, str]]]:
        """The rule's settings: the defaults, overridden key by key by the profile's entry, checked against the
        schema; or None and each problem as (field path under the entry, message)."""
        if self.schema is None:
            return None, [("", f"rule {self.name} takes no settings (no {self.name}{SCHEMA_SUFFIX} beside it)")]
        if not isinstance(given, dict):
            return None, [("", "expected a mapping of the rule's settings")]
        merged = {**self.defaults, **given}
        validator = jsonschema.Draft202012Validator(self.schema)
        problems = [(".".join(map(str, error.absolute_path)), error.message) for error in validator.iter_errors(merged)]
        return (None, sorted(problems)) if problems else (merged, [])


@dataclass(frozen=True)
class PolicySet:
    shipped: Path
    org: tuple[PolicyFiles, ...]
    rules: dict[str, OrgRule]

    def sources(self) -> list[Path]:
        """What OPA is given: the shipped folder, and each organisation rule's file (never the folders' other files)."""
        return [self.shipped, *(files.folder / policy for files in self.org for policy in files.policies)]

    def settings(self, entries: dict) -> tuple[dict, list[tuple[str, str]]]:
        """A profile's `rules` section resolved: every rule that takes settings gets them (defaults and entry);
        problems as (field path, message)."""
        resolved, problems = {}, []
        for name in sorted(entries.keys() - self.rules.keys()):
            problems.append((f"rules.{name}", f"no organisation rule {name!r} is loaded ({_given()})"))
        for name, rule in sorted(self.rules.items()):
            if rule.schema is None and name not in entries:
                continue
            settings, found = rule.settings(entries.get(name, {}))
            problems += [(".".join(filter(None, ["rules", name, where])), message) for where, message in found]
            if settings is not None:
                resolved[name] = settings
        return resolved, problems


def _given() -> str:
    return f"--policy or {settings.POLICY_PATH}"


def current(shipped: Path | None = None, org: tuple[Path, ...] | None = None) -> PolicySet:
    """The shipped folder (HITL_REGO_DIR or hitl's own) with the configured organisation folders, checked."""
    return _policy_set(shipped or paths.rego_dir(), org_folders() if org is None else org)


@cache
def _policy_set(shipped: Path, org: tuple[Path, ...]) -> PolicySet:
    policy_files(shipped)
    if not org:
        return PolicySet(shipped, (), {})
    taken = {path.removeprefix(RULES_NAMESPACE): f"hitl's own {shipped}" for path in _namespaces(shipped)}
    found, rules = [], {}
    for folder in org:
        if not folder.is_dir():
            raise UsageError(f"policy folder {folder} ({_given()}): no such folder")
        files = policy_files(folder)
        for rule in _org_rules(folder, files):
            if rule.name in taken:
                raise UsageError(
                    f"policy folder {folder}: rule {rule.name} ({rule.policy}) has the name of a rule in {taken[rule.name]}"
                )
            taken[rule.name] = str(folder)
            rules[rule.name] = rule
        found.append(files)
    return PolicySet(shipped, tuple(found), rules)


def _org_rules(folder: Path, files: PolicyFiles) -> list[OrgRule]:
    packages, codes = _inspect(folder)
    rules, settings_files = [], set()
    for policy in files.policies:
        declared = packages.get((folder / policy).resolve(), "data.(none)")
        name = declared.removeprefix(RULES_NAMESPACE)
        if not declared.startswith(RULES_NAMESPACE) or not RULE_NAME.fullmatch(name):
            raise UsageError(
                f"policy folder {folder}: {policy} declares package {declared.removeprefix('data.')}; an organisation "
                "rule is a package hitl.rules.<name> (lower case letters, digits and _)"
            )
        if any(rule.name == name for rule in rules):
            raise UsageError(f"policy folder {folder}: rule {name} is in more than one file; a rule is one file")
        if not codes.get(declared):
            raise UsageError(
                f"policy folder {folder}: rule {name} ({policy}) names no reason code: give its package a METADATA "
                "block with custom.code"
            )
        schema_file, defaults_file = policy.with_name(name + SCHEMA_SUFFIX), policy.with_name(name + DEFAULTS_SUFFIX)
        schema = _schema(folder, schema_file) if schema_file in files.data else None
        defaults = _defaults(folder, defaults_file, schema) if defaults_file in files.data else {}
        settings_files |= {schema_file, defaults_file}
        rules.append(OrgRule(name, folder, policy, schema, defaults))
    for data in files.data:
        if data not in settings_files:
            raise UsageError(
                f"policy folder {folder}: {data} is neither a rule's {SCHEMA_SUFFIX} nor its {DEFAULTS_SUFFIX}; an "
                "organisation folder holds rules, their tests and their settings only (profiles go elsewhere)"
            )
    return rules


def _inspect(folder: Path) -> tuple[dict[Path, str], dict[str, object]]:
    """The package of each policy file OPA finds in the folder (resolved path -> package), and each package's
    METADATA custom.code."""
    done = run_opa(["inspect", "--annotations", "--format", "json", str(folder)], INSPECT_TIMEOUT_SECONDS)
    if done.returncode != 0:
        raise EngineError(f"policy folder {folder}: {rego_error(done.stderr or done.stdout)}")
    inspected = json.loads(done.stdout)
    packages = {Path(file).resolve(): ref for ref, files in (inspected.get("namespaces") or {}).items() for file in files}
    codes = {}
    for entry in inspected.get("annotations") or []:
        ref = ".".join(str(part["value"]) for part in entry["path"])
        if entry["annotations"].get("scope") in ("package", "subpackages"):
            codes[ref] = (entry["annotations"].get("custom") or {}).get("code")
    return packages, codes


def _namespaces(folder: Path) -> set[str]:
    packages = _inspect(folder)[0]
    return {ref for file, ref in packages.items() if ref.startswith(RULES_NAMESPACE) and not file.name.endswith("_test.rego")}


def _schema(folder: Path, relative: Path) -> dict:
    try:
        schema = json.loads((folder / relative).read_text(encoding="utf-8"))
        jsonschema.Draft202012Validator.check_schema(schema)
    except (OSError, UnicodeDecodeError, ValueError) as error:
        raise UsageError(f"policy folder {folder}: {relative} is not JSON: {' '.join(str(error).split())}") from None
    except jsonschema.SchemaError as error:
        raise UsageError(f"policy folder {folder}: {relative} is not a JSON Schema: {error.message}") from None
    if not isinstance(schema, dict):
        raise UsageError(f"policy folder {folder}: {relative} is not a JSON Schema object")
    return schema


def _defaults(folder: Path, relative: Path, schema: dict | None) -> dict:
    try:
        defaults = yaml.safe_load((folder / relative).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as error:
        raise UsageError(f"policy folder {folder}: {relative} cannot be read: {' '.join(str(error).split())}") from None
    if not isinstance(defaults, dict) or schema is None:
        raise UsageError(f"policy folder {folder}: {relative} must be a mapping, beside the rule's {SCHEMA_SUFFIX}")
    return defaults
