"""hitl's own rules take their settings like an organisation rule: `rules.<rule>` in the profile, checked against
`rego/hitl/rules/<rule>.schema.json`, read through config.rule_setting. The documented profile fields keep working:
each setting has one (its schema's x-profile-field), and a profile gives it there or under `rules.<rule>`, once.
Against the real OPA and CLI.
"""

import json
import re
import shutil

import jsonschema
import pytest

from conftest import ROOT, hitl, make_manifest, shipped_profile, write_manifests, write_yaml
from hitl_cli import policy_set
from hitl_cli.models import Profile
from decision_corpus import PROFILES, corpus

RULES = ROOT / "rego" / "hitl" / "rules"
SCHEMAS = {path.name.removesuffix(".schema.json"): json.loads(path.read_text()) for path in RULES.glob("*.schema.json")}


def _fields(schema: dict) -> dict[str, list[str]]:
    return {key: spec["x-profile-field"].split(".") for key, spec in schema["properties"].items()}


def every_setting_moved(name: str) -> dict:
    """The shipped profile with each setting of hitl's rules under `rules.<rule>` instead of its documented field."""
    profile = shipped_profile(name)
    for rule, schema in SCHEMAS.items():
        for key, field in _fields(schema).items():
            section = profile
            for part in field[:-1]:
                section = section[part]
            profile.setdefault("rules", {}).setdefault(rule, {})[key] = section.pop(field[-1])
    return profile


def decisions(plan, profile, *args) -> list[dict]:
    result = hitl("evaluate", plan, "--profile", profile, "--format", "json", *args)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_every_shipped_rule_reads_its_settings_through_the_one_accessor_with_a_schema_beside_it():
    read = set()
    for policy in RULES.glob("*.rego"):
        text = policy.read_text()
        read |= set(re.findall(r'config\.rule_setting\("([a-z_]+)"\)', text))
        assert not re.search(r"config\.profile\b", text), policy
    assert read == SCHEMAS.keys()
    config = (ROOT / "rego" / "hitl" / "config.rego").read_text()
    for schema in SCHEMAS.values():  # no accessor of a rule's setting is left in config.rego
        for key, field in _fields(schema).items():
            assert f"profile.{'.'.join(field)}" not in config, field


def test_each_setting_names_a_documented_profile_field_that_holds_it():
    for name in PROFILES:
        dumped = Profile.model_validate(shipped_profile(name)).model_dump(mode="json")
        for rule, schema in SCHEMAS.items():
            assert schema["additionalProperties"] is False and set(schema["required"]) == set(schema["properties"]), rule
            for key, field in _fields(schema).items():
                section = dumped
                for part in field:
                    assert isinstance(section, dict) and part in section, (name, rule, key, field)
                    section = section[part]


def test_a_profile_with_every_setting_under_rules_decides_exactly_as_the_documented_one(opa_bin, tmp_path):
    plan = write_manifests(tmp_path, corpus())
    for name in PROFILES:
        moved = write_yaml(tmp_path / f"{name}-moved.yaml", every_setting_moved(name))
        assert decisions(plan, moved) == decisions(plan, name), name


def test_the_loaded_profile_is_the_same_either_way(opa_bin, tmp_path):
    """What OPA holds and the revision digests do not depend on where the profile gave a setting."""
    from hitl_cli.inputs import load_profile

    moved = load_profile(write_yaml(tmp_path / "moved.yaml", every_setting_moved("default")))
    documented = load_profile(write_yaml(tmp_path / "documented.yaml", shipped_profile("default")))
    policies = policy_set.current()
    assert policies.policy_data(moved) == policies.policy_data(documented)
    assert policies.policy_data(moved)["rules"]["budget"] == {"per_action_usd": 100, "over_budget_tier": "block"}


def test_a_setting_under_rules_is_data_changing_it_changes_the_decision(opa_bin, tmp_path):
    plan = write_manifests(tmp_path, [make_manifest(id="cheap", type="read", cost=5.0)])
    profile = every_setting_moved("default")
    assert decisions(plan, write_yaml(tmp_path / "a.yaml", profile))[0]["tier"] == "auto_approve"
    profile["rules"]["budget"]["per_action_usd"] = 1
    over = decisions(plan, write_yaml(tmp_path / "b.yaml", profile))[0]
    assert over["tier"] == "block" and "over_budget" in {r["code"] for r in over["reasons"]}


@pytest.mark.attack
@pytest.mark.parametrize("rules, removed, expected", [
    # given both ways: refused, whichever value is stricter (neither silently wins)
    ({"budget": {"per_action_usd": 1000000}}, None,
     "rules.budget.per_action_usd: is also given at budget.per_action_usd: give a setting once"),
    ({"pii_touch": {"touch_floor": None}}, None,
     "rules.pii_touch.touch_floor: is also given at pii.touch_floor: give a setting once"),
    ({"trust": {"supervised_floor": "sometimes"}}, ("trust", "supervised_floor"),
     "rules.trust.supervised_floor: Input should be"),
    ({"budget": {"per_action_usd": -5}}, ("budget", "per_action_usd"),
     "rules.budget.per_action_usd: Input should be greater than or equal to 0"),
    ({"novelty": {"tire": "block"}}, None, "rules.novelty: Additional properties are not allowed ('tire' was unexpected)"),
    ({"novelty": "block"}, None, "rules.novelty: Input should be a valid dictionary"),
])
def test_a_setting_given_wrongly_is_refused_with_its_place(opa_bin, tmp_path, rules, removed, expected):
    profile = shipped_profile("default")
    profile["rules"] = rules
    if removed:
        del profile[removed[0]][removed[1]]
    path = write_yaml(tmp_path / "acme.yaml", profile)
    plan = write_manifests(tmp_path, [make_manifest()])
    result = hitl("check", plan, "--profile", path)
    assert result.returncode == 4, result.stderr
    assert f"acme.yaml: {expected}" in result.stderr
    assert "Traceback" not in result.stderr and "MAY RUN" not in result.stdout


@pytest.mark.attack
def test_an_org_rule_may_not_claim_a_documented_profile_field(opa_bin, tmp_path):
    """An organisation schema mapping a setting to budget.per_action_usd would take the profile's budget away
    from hitl's own rule: refused."""
    folder = tmp_path / "org" / "rules"
    folder.mkdir(parents=True)
    (folder / "cheap.rego").write_text(
        "# METADATA\n# title: Cheap\n# description: C.\n# custom:\n#   code: cheap\npackage hitl.rules.cheap\n\nreasons := set()\n"
    )
    (folder / "cheap.schema.json").write_text(json.dumps({
        "type": "object", "properties": {"limit": {"type": "number", "x-profile-field": "budget.per_action_usd"}},
    }))
    plan = write_manifests(tmp_path, [make_manifest()])
    result = hitl("check", plan, "--profile", "default", "--policy", folder.parent)
    assert result.returncode == 2, result.stderr
    assert "cheap.schema.json maps a setting to a profile field" in result.stderr


def test_every_shipped_settings_schema_is_a_json_schema():
    """hitl checks its own schemas here, not at every load (that costs every command about 0.04 s)."""
    for schema in SCHEMAS.values():
        jsonschema.Draft202012Validator.check_schema(schema)
    assert SCHEMAS


@pytest.mark.attack
def test_a_broken_schema_in_another_policy_folder_is_refused(opa_bin, tmp_path):
    rego = tmp_path / "rego"
    shutil.copytree(ROOT / "rego", rego)
    (rego / "hitl" / "rules" / "budget.schema.json").write_text(json.dumps({"type": 5}))
    plan = write_manifests(tmp_path, [make_manifest()])
    result = hitl("check", plan, "--profile", "default", env={"HITL_REGO_DIR": str(rego)})
    assert result.returncode == 2, result.stderr
    assert "budget.schema.json is not a JSON Schema" in result.stderr


@pytest.mark.attack
def test_a_stray_settings_file_in_hitls_policy_folder_is_refused(opa_bin, tmp_path):
    rego = tmp_path / "rego"
    shutil.copytree(ROOT / "rego", rego)
    (rego / "hitl" / "rules" / "nothing.schema.json").write_text(json.dumps({"type": "object"}))
    plan = write_manifests(tmp_path, [make_manifest()])
    result = hitl("check", plan, "--profile", "default", env={"HITL_REGO_DIR": str(rego)})
    assert result.returncode == 5, result.stderr
    assert "nothing.schema.json is not the .schema.json of a rule" in result.stderr
