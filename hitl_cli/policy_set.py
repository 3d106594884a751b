"""The policies a run decides with: hitl's shipped policy folder, and the organisation's folders beside it.

An organisation adds folders with `--policy DIR` (repeatable) and HITL_POLICY_PATH (folders separated by
os.pathsep), for every command that evaluates. An organisation folder holds rules and nothing else: each
`.rego` file (tests, `*_test.rego`, aside) is a package `hitl.rules.<name>` that contributes reasons like a
shipped rule, with a METADATA `custom.code`, and may have its settings beside it: `<name>.schema.json` (a JSON
Schema for the profile's `rules.<name>` entry) and `<name>.defaults.yaml` (the values a profile need not give).
A package outside that namespace, a name a shipped or another organisation rule already has, a rule without
its code, and any other data file are refused (usage error), never ignored: OPA is given the rule files
themselves, so nothing else in the folder can reach the decision data.

hitl's own rules take their settings the same way: `rego/hitl/rules/<name>.schema.json` beside the rule, read
through the same accessor (config.rule_setting). Each of their settings also has the documented profile field
its schema's `x-profile-field` names (docs/profiles.md), where the shipped profiles state it: a profile gives a
setting there or under `rules.<name>`, never both (hitl_cli.profile_settings folds the second into the first).
"""

import json
import math
import re
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import jsonschema_rs

from hitl_cli import paths, settings
from hitl_cli.documents import read_documents
from hitl_cli.engine.binary import run_opa
from hitl_cli.engine.rego_errors import rego_error
from hitl_cli.errors import EngineError, UsageError
from hitl_cli.models import Profile
from hitl_cli.policy_files import DEFAULTS_SUFFIX, SCHEMA_SUFFIX, TEST_SUFFIX, PolicyFiles, policy_files

RULES_NAMESPACE = "data.hitl.rules."
RULE_NAME = re.compile(r"[a-z][a-z0-9_]{0,62}")
SHIPPED_RULES = Path("hitl") / "rules"  # where hitl's own rules are, in its policy folder
PROFILE_FIELD = "x-profile-field"  # in a shipped rule's schema: the documented profile field of a setting
INSPECT_TIMEOUT_SECONDS = 60
# Builtins through which a rule would reach past the manifest, the profile and hitl's moment (input.now): the
# network, OPA's environment variables and configuration, the wall clock, randomness. Organisation rules may
# not call them, so a pull request's rule can neither leak what it is shown nor decide from what hitl cannot see.
OUTSIDE_THE_DECISION = frozenset({
    "http.send", "net.lookup_ip_addr", "opa.runtime", "time.now_ns", "rand.intn", "uuid.rfc4122",
})

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
class Rule:
    """A rule that takes settings from the profile's `rules.<name>` (an organisation rule, or one of hitl's own)."""

    name: str
    folder: Path  # the organisation folder, or hitl's policy folder
    policy: Path  # relative to the folder
    schema: dict | None  # its settings' JSON Schema, when it takes settings
    defaults: dict  # the settings a profile need not give
    codes: tuple[str, ...] = ()  # the reason codes its METADATA declares (an organisation rule's; hitl checks them)

    @property
    def fields(self) -> dict[str, tuple[str, ...]]:
        """Setting -> the documented profile field that also holds it (hitl's own rules only)."""
        properties = (self.schema or {}).get("properties", {})
        return {key: tuple(spec[PROFILE_FIELD].split(".")) for key, spec in properties.items() if PROFILE_FIELD in spec}

    def settings(self, given: object, documented: dict) -> tuple[dict | None, list[tuple[str, str]]]:
        """The rule's settings: the defaults, overridden key by key by the documented fields' values (the
        profile as the model dumps it) and by the profile's entry, checked against the schema; or None and each
        problem as (field path under the entry, message)."""
        if self.schema is None:
            return None, [("", f"rule {self.name} takes no settings (no {self.name}{SCHEMA_SUFFIX} beside it)")]
        if not isinstance(given, dict):
            return None, [("", "expected a mapping of the rule's settings")]
        merged = {**self.defaults, **_values(documented, self.fields), **given}
        problems = list(_not_json(merged)) or [
            (_joined(error.instance_path), error.message) for error in settings_validator(self.schema).iter_errors(merged)
        ]
        return (None, sorted(problems)) if problems else (merged, [])


def _not_json(value: object, path: tuple = ()) -> Iterator[tuple[str, str]]:
    """Where settings hold what JSON cannot, which a JSON Schema cannot judge and OPA cannot load: a YAML date or
    binary, a key that is not a string, NaN or infinity."""
    if isinstance(value, dict):
        for key, item in value.items():
            if isinstance(key, str):
                yield from _not_json(item, (*path, key))
            else:
                yield _joined(path), f"key {key!r} is not a string"
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _not_json(item, (*path, index))
    elif isinstance(value, float) and not math.isfinite(value):
        yield _joined(path), f"{value} is not a finite number"
    elif value is not None and not isinstance(value, (str, int, float)):
        yield _joined(path), f"is not a JSON value (YAML read a {type(value).__name__}; quote it to keep it a string)"


def _joined(path) -> str:
    return ".".join(map(str, path))


def _values(documented: dict, fields: dict[str, tuple[str, ...]]) -> dict:
    """The value of each documented field the profile has."""
    found = {}
    for key, field in fields.items():
        at: object = documented
        for part in field:
            at = at.get(part, _ABSENT) if isinstance(at, dict) else _ABSENT
        if at is not _ABSENT:
            found[key] = at
    return found


_ABSENT = object()


@dataclass(frozen=True)
class PolicySet:
    shipped: Path
    org: tuple[PolicyFiles, ...]
    rules: dict[str, Rule]  # the organisation's rules
    own_rules: dict[str, Rule]  # hitl's own rules that take settings

    def sources(self) -> list[Path]:
        """What OPA is given: the shipped folder, and each organisation rule's file (never the folders' other files)."""
        return [self.shipped, *(files.folder / policy for files in self.org for policy in files.policies)]

    def settings(self, documented: dict, entries: dict) -> tuple[dict, list[tuple[str, str]]]:
        """A profile's `rules` section resolved: every rule that takes settings gets them (defaults, documented
        fields and entry), hitl's own rules the settings no documented field holds; problems as (field path,
        message). documented: the profile as the model dumps it."""
        resolved, problems = {}, []
        for name in sorted(entries.keys() - self.rules.keys() - self.own_rules.keys()):
            problems.append((f"rules.{name}", f"no organisation rule {name!r} is loaded ({_given()})"))
        for name, rule in sorted({**self.own_rules, **self.rules}.items()):
            if rule.schema is None and name not in entries:
                continue
            settings, found = rule.settings(entries.get(name, {}), documented)
            problems += [(".".join(filter(None, ["rules", name, where])), message) for where, message in found]
            kept = {key: value for key, value in (settings or {}).items() if key not in rule.fields}
            if settings is not None and (kept or not rule.fields):
                resolved[name] = kept
        return resolved, problems

    def policy_data(self, profile: Profile) -> dict:
        """The profile as OPA holds it: its `rules` section holds the settings of every rule, hitl's own read
        from their documented fields, so that every rule reads them through config.rule_setting."""
        data = profile.policy_data()
        own = {name: {**_values(data, rule.fields), **profile.rules.get(name, {})} for name, rule in self.own_rules.items()}
        return {**data, "rules": {**own, **data.get("rules", {})}}

    def org_codes(self) -> dict[str, list[str]]:
        """The reason codes each organisation rule declares: the only ones it may give (main.undeclared)."""
        return {name: list(rule.codes) for name, rule in self.rules.items()}

    def required_settings(self) -> dict[str, dict[str, bool]]:
        """The settings each rule's JSON Schema requires, by rule name, as an object whose keys are the settings
        (what config.complete checks every profile's rules.<name> against: OPA reads the keys of an object as a set
        without building one, and a schema's `required` is a list of distinct names, checked by the metaschema)."""
        return {
            name: dict.fromkeys(rule.schema.get("required", []), True)
            for name, rule in {**self.own_rules, **self.rules}.items() if rule.schema is not None
        }


def _given() -> str:
    return f"--policy or {settings.POLICY_PATH}"


def current(shipped: Path | None = None, org: tuple[Path, ...] | None = None) -> PolicySet:
    """The shipped folder (HITL_REGO_DIR or hitl's own) with the configured organisation folders, checked."""
    return _policy_set(shipped or paths.rego_dir(), org_folders() if org is None else org)


@cache
def _policy_set(shipped: Path, org: tuple[Path, ...]) -> PolicySet:
    own_rules = _own_rules(policy_files(shipped))
    if not org:
        return PolicySet(shipped, (), {}, own_rules)
    packages, codes, _ = _inspect(shipped)
    own = f"hitl's own {shipped}"
    taken = {
        ref.removeprefix(RULES_NAMESPACE): own
        for file, ref in packages.items() if ref.startswith(RULES_NAMESPACE) and not file.name.endswith(TEST_SUFFIX)
    }
    claimed = {code: f"{ref.removeprefix('data.')} in {own}" for ref, declared in codes.items() for code in _code_names(declared)}
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
            for code in rule.codes:
                if code in claimed:
                    raise UsageError(
                        f"policy folder {folder}: rule {rule.name} ({rule.policy}) declares reason code {code}, which is "
                        f"{claimed[code]}'s: a code names one rule"
                    )
                claimed[code] = f"hitl.rules.{rule.name} in {folder}"
            taken[rule.name] = str(folder)
            rules[rule.name] = rule
        found.append(files)
    return PolicySet(shipped, tuple(found), rules, own_rules)


def _own_rules(files: PolicyFiles) -> dict[str, Rule]:
    """hitl's own rules with a schema beside them (`hitl/rules/<name>.schema.json`, the rule `<name>.rego`)."""
    rules = {}
    shipped = paths.shipped_rego_dir().resolve()
    for settings_file in files.settings:
        name = settings_file.name.removesuffix(SCHEMA_SUFFIX)
        policy = settings_file.with_name(name + ".rego")
        if settings_file.parent != SHIPPED_RULES or not settings_file.name.endswith(SCHEMA_SUFFIX) or policy not in files.policies:
            raise EngineError(f"policy folder {files.folder}: {settings_file} is not the {SCHEMA_SUFFIX} of a rule in {SHIPPED_RULES}")
        # hitl's own schemas are checked by its tests; another folder's (HITL_REGO_DIR) at every load, unless the file
        # is byte for byte the one hitl ships (a copy of the shipped policies): checking it again could only agree
        schema = _schema(files.folder, settings_file, checked=not _shipped(files.folder, settings_file, shipped))
        rules[name] = Rule(name, files.folder, policy, schema, {})
    return rules


def _shipped(folder: Path, relative: Path, shipped: Path) -> bool:
    """Whether the file is the one hitl ships at that path: in hitl's own policy folder, or an identical copy."""
    if folder.resolve() == shipped:
        return True
    try:
        return (folder / relative).read_bytes() == (shipped / relative).read_bytes()
    except OSError:
        return False


def _org_rules(folder: Path, files: PolicyFiles) -> list[Rule]:
    packages, codes, called = _inspect(folder)
    reaching_out = sorted(called & OUTSIDE_THE_DECISION)
    if reaching_out:
        raise UsageError(
            f"policy folder {folder}: its Rego calls {', '.join(reaching_out)}; an organisation rule decides from "
            "the manifest and the profile alone (no network, environment, clock or randomness: input.now is the time)"
        )
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
        declared_codes = _code_names(codes[declared])
        if not declared_codes or not all(RULE_NAME.fullmatch(code) for code in declared_codes):
            raise UsageError(
                f"policy folder {folder}: rule {name} ({policy}) declares custom.code {json.dumps(codes[declared])[:120]}; "
                "a reason code is lower case letters, digits and _ (one, or a list)"
            )
        schema_file, defaults_file = policy.with_name(name + SCHEMA_SUFFIX), policy.with_name(name + DEFAULTS_SUFFIX)
        schema = _schema(folder, schema_file) if schema_file in files.settings else None
        defaults = _defaults(folder, defaults_file, schema) if defaults_file in files.settings else {}
        if any(PROFILE_FIELD in spec for spec in (schema or {}).get("properties", {}).values() if isinstance(spec, dict)):
            raise UsageError(
                f"policy folder {folder}: {schema_file} maps a setting to a profile field ({PROFILE_FIELD}); only "
                "hitl's own rules do: an organisation rule's settings are under the profile's rules.<name>"
            )
        settings_files |= {schema_file, defaults_file}
        rules.append(Rule(name, folder, policy, schema, defaults, declared_codes))
    for data in (*files.data, *files.settings):
        if data not in settings_files:
            raise UsageError(
                f"policy folder {folder}: {data} is neither a rule's {SCHEMA_SUFFIX} nor its {DEFAULTS_SUFFIX}; an "
                "organisation folder holds rules, their tests and their settings only (profiles go elsewhere)"
            )
    return rules


def _inspect(folder: Path) -> tuple[dict[Path, str], dict[str, object], set[str]]:
    """The package of each policy file OPA finds in the folder (resolved path -> package), each package's
    METADATA custom.code, and the builtins the folder's files call."""
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
    called = {builtin["name"] for builtin in (inspected.get("capabilities") or {}).get("builtins") or []}
    return packages, codes, called


def _code_names(declared: object) -> tuple[str, ...]:
    """A METADATA custom.code as the codes it names: one string, or a list of them (placeholders included)."""
    if isinstance(declared, str):
        return (declared,)
    return tuple(code for code in declared if isinstance(code, str)) if isinstance(declared, list) else ()


def settings_validator(schema: dict) -> jsonschema_rs.Validator:
    """A validator of settings against a rule's JSON Schema (draft 2020-12, as the schema is checked against). A
    `$ref` is followed only inside the schema: nothing is fetched from the network or the file system."""
    return jsonschema_rs.Draft202012Validator(schema, offline=True)


def _schema(folder: Path, relative: Path, checked: bool = True) -> dict:
    """The JSON Schema in the file; checked against the JSON Schema metaschema, and its references resolved,
    unless told otherwise."""
    schema = _document(folder, relative, "is not JSON")
    if not isinstance(schema, dict):
        raise UsageError(f"policy folder {folder}: {relative} is not a JSON Schema object")
    if checked:
        try:
            settings_validator(schema)
        except jsonschema_rs.ValidationError as error:
            raise UsageError(f"policy folder {folder}: {relative} is not a JSON Schema: {' '.join(error.message.split())}") from None
    return schema


def _document(folder: Path, relative: Path, fault: str) -> object:
    """A rule's settings file, read as every input file is (hitl_cli.documents): bounded in size and nesting, so a
    pull request's file can neither exhaust the parser's recursion nor go deeper than the schema checker can."""
    documents, problems = read_documents(folder / relative, whole=True)
    if problems or len(documents) != 1:
        found = problems[0].message if problems else f"holds {len(documents)} documents, not one"
        raise UsageError(f"policy folder {folder}: {relative} {fault}: {' '.join(found.split())}")
    return documents[0].data


def _defaults(folder: Path, relative: Path, schema: dict | None) -> dict:
    defaults = _document(folder, relative, "cannot be read")
    if not isinstance(defaults, dict) or schema is None:
        raise UsageError(f"policy folder {folder}: {relative} must be a mapping, beside the rule's {SCHEMA_SUFFIX}")
    return defaults
