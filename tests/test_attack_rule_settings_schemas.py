"""A pull request's rule settings against the settings checker (jsonschema-rs): its `<rule>.schema.json` and
`<rule>.defaults.yaml`, and a profile's `rules.<rule>` values, built to crash, hang or slip past the check.
Each is refused as one line with its documented exit code (2: the policy folder; 4: the profile), never an
internal error, and a refused setting never reaches the decision. Real CLI, real OPA (tests/org_rules: `sox`).
"""

import json
import shutil
from pathlib import Path

import pytest

from conftest import hitl, make_manifest, shipped_profile, write_manifests, write_yaml

RULES = Path(__file__).resolve().parent / "org_rules"


def org_folder(root: Path, schema: str | None = None, defaults: str | None = None) -> Path:
    folder = root / "org" / "rules"
    folder.mkdir(parents=True)
    for file in ("sox.rego", "sox.schema.json", "sox.defaults.yaml"):
        shutil.copyfile(RULES / file, folder / file)
    if schema is not None:
        (folder / "sox.schema.json").write_text(schema)
    if defaults is not None:
        (folder / "sox.defaults.yaml").write_text(defaults)
    return folder.parent


def acme(root: Path, extra: str = "") -> Path:
    profile = shipped_profile("default")
    profile["metadata"]["name"] = "acme"
    path = write_yaml(root / "acme.yaml", profile)
    path.write_text(path.read_text() + extra)
    return path


@pytest.fixture
def plan(tmp_path) -> Path:
    return write_manifests(tmp_path, [make_manifest(id="sox-write", type="read", env="dev")])


def nested(depth: int) -> str:
    return "[" * depth + "]" * depth


def with_sox_pattern(pattern: str) -> str:
    schema = json.loads((RULES / "sox.schema.json").read_text())
    schema["properties"]["tables"]["items"]["pattern"] = pattern
    return json.dumps(schema)


def one_line_refusal(result, code: int, needle: str) -> None:
    assert result.returncode == code, result.stderr
    assert needle in result.stderr, result.stderr
    assert "Traceback" not in result.stderr and "internal error" not in result.stderr
    assert result.stdout == ""


FOLDER_ATTACKS = {
    # deeper than jsonschema-rs can check (it raised ValueError: Recursion limit reached: internal error, exit 5)
    "defaults nested 300 deep": (None, f"tier: block\ntables: {nested(300)}\n", "sox.defaults.yaml cannot be read"),
    # deeper than Python's parsers recurse (RecursionError: internal error, exit 5)
    "defaults nested 2000 deep": (None, f"tier: block\ntables: {nested(2000)}\n", "sox.defaults.yaml cannot be read"),
    "schema nested 3000 deep": ('{' + '"items":{' * 3000 + '}' * 3000 + '}', None, "sox.schema.json is not JSON"),
    "schema NaN": ('{"type": "object", "properties": {"tables": {"minItems": NaN}}}', None, "sox.schema.json is not JSON"),
    "schema two documents": ('{"type": "object"} {"type": "object"}', None, "sox.schema.json is not JSON"),
    # a JSON file is one document here: an array is not a schema object, not a list of schemas to take the first of
    "schema in an array": ('[{"type": "object"}]', None, "sox.schema.json is not a JSON Schema object"),
    "schema pattern no regex": (with_sox_pattern("(?<"), None, "sox.schema.json is not a JSON Schema"),
    "$dynamicRef to nowhere": ('{"$dynamicRef": "#meta"}', None, "sox.schema.json is not a JSON Schema"),
    "$id moves a relative $ref off the file": (
        '{"$id": "http://127.0.0.1:9/root.json", "$ref": "tables.json"}', None, "sox.schema.json is not a JSON Schema"),
    "$ref to a URN": ('{"$ref": "urn:uuid:6e8bc430-9c3a-11d9-9669-0800200c9a66"}', None,
                      "sox.schema.json is not a JSON Schema"),
}


@pytest.mark.attack
@pytest.mark.parametrize("case", sorted(FOLDER_ATTACKS))
def test_a_hostile_settings_file_is_a_usage_error_in_one_line(opa_bin, tmp_path, plan, case):
    schema, defaults, needle = FOLDER_ATTACKS[case]
    folder = org_folder(tmp_path, schema, defaults)
    one_line_refusal(hitl("evaluate", plan, "--profile", acme(tmp_path), "--policy", folder), 2, needle)


@pytest.mark.attack
def test_a_self_referring_schema_checks_settings_without_looping(opa_bin, tmp_path, plan):
    """`$ref: "#"` loops only if the checker expands it eagerly: a wrong setting is still found, and in time."""
    schema = json.loads((RULES / "sox.schema.json").read_text())
    schema["$defs"] = {"loop": {"$ref": "#/$defs/loop2"}, "loop2": {"$ref": "#/$defs/loop"}}
    schema["properties"]["extra"] = {"$ref": "#"}
    folder = org_folder(tmp_path, json.dumps(schema))
    profile = acme(tmp_path, "rules:\n  sox:\n    tables: [analytics.orders]\n    tier: block\n    extra: {tier: never}\n")
    one_line_refusal(hitl("evaluate", plan, "--profile", profile, "--policy", folder, timeout=60), 4,
                     "acme.yaml: rules.sox.extra.tier: ")


@pytest.mark.attack
def test_a_catastrophic_pattern_refuses_the_setting_rather_than_hanging_or_passing_it(opa_bin, tmp_path, plan):
    """A backreference sends the pattern to fancy-regex's backtracking engine; when it gives up, the value is not
    taken as matching: the setting is refused, so its table never reaches OPA's data."""
    folder = org_folder(tmp_path, with_sox_pattern(r"^(a*)*\1$"))
    profile = acme(tmp_path, f"rules:\n  sox:\n    tables: ['{'a' * 40}!']\n    tier: block\n")
    one_line_refusal(hitl("evaluate", plan, "--profile", profile, "--policy", folder, timeout=60), 4,
                     "acme.yaml: rules.sox.tables.0: ")


PROFILE_VALUES = {
    "a YAML set": ("tables: !!set {analytics.orders: null}", "rules.sox.tables: is not a JSON value (YAML read a set"),
    "a YAML ordered map": ("tables: !!omap [{a: 1}]", "rules.sox.tables.0: is not a JSON value (YAML read a tuple"),
    "a timestamp": ("tables: [2026-01-01T10:00:00Z]", "rules.sox.tables.0: is not a JSON value (YAML read a datetime"),
    "binary": ("tables: [!!binary aGk=]", "rules.sox.tables.0: is not a JSON value (YAML read a bytes"),
    "infinity": ("tables: [.inf]", "rules.sox.tables.0: inf is not a finite number"),
    "an integer key": ("tables: [{1: x}]", "rules.sox.tables.0: key 1 is not a string"),
    "a boolean key": ("tables: [{yes: x}]", "rules.sox.tables.0: key True is not a string"),
    "a huge integer": (f"tables: [{10 ** 400}]", "rules.sox.tables.0: 1000"),
    "lists 60 deep": (f"tables: {nested(60)}", "rules.sox.tables.0: "),
}


@pytest.mark.attack
@pytest.mark.parametrize("case", sorted(PROFILE_VALUES))
def test_a_profile_setting_of_any_yaml_type_is_refused_as_file_field_message(opa_bin, tmp_path, plan, case):
    value, needle = PROFILE_VALUES[case]
    profile = acme(tmp_path, f"rules:\n  sox:\n    tier: block\n    {value}\n")
    one_line_refusal(hitl("evaluate", plan, "--profile", profile, "--policy", org_folder(tmp_path)), 4,
                     f"acme.yaml: {needle}")
