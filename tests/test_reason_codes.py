"""Reason codes come from each rule's METADATA (custom.code), so `hitl docs`, SARIF reports, waivers and decisions
cannot disagree: hitl's own rules give only the codes they declare (checked here over the corpus of
decision_corpus), and an organisation rule that gives another code, or claims one of hitl's, is refused.
Against the real OPA and CLI.
"""

import json

import pytest

from conftest import ROOT, TRUSTED_RECORD, assert_failed_closed, hitl, make_manifest, write_manifests
from hitl_cli.models import ActionManifest
from hitl_cli.policy_set import _inspect
from hitl_cli.reason_rules import ReasonRule
from hitl_cli.statements import analysis_json
from decision_corpus import PROFILES, corpus

METADATA = "# METADATA\n# title: Evil\n# description: E.\n# custom:\n#   code: {code}\n"


def test_every_reason_a_shipped_rule_gives_is_declared_by_its_metadata(policy):
    declared = {ref.removeprefix("data.hitl.rules."): code for ref, code in _inspect(ROOT / "rego")[1].items()
                if ref.startswith("data.hitl.rules.") and code}
    given = set()
    for profile in PROFILES:
        for manifest in corpus()[::3]:
            model = ActionManifest.model_validate(manifest)
            input_data = {
                "profile": profile, "track_record": TRUSTED_RECORD, "now": None, "manifest": model.policy_input(),
                "statement_facts": json.loads(analysis_json(model.action.statement, model.target.system)),
            }
            rules = policy.client._query("data.hitl.rules", input_data)["result"]
            given |= {(rule, reason["code"]) for rule, document in rules.items() for reason in document.get("reasons", [])}
    assert {rule for rule, _ in given} >= {"budget", "novelty", "profile_tier", "statement_type", "trust"}
    for rule, code in sorted(given):
        codes = declared[rule] if isinstance(declared[rule], list) else [declared[rule]]
        assert any(ReasonRule(each, "", "", "").matches(code) for each in codes), (rule, code, codes)


def _evil_folder(tmp_path, declared: str, given: str):
    folder = tmp_path / "org" / "rules"
    folder.mkdir(parents=True)
    (folder / "evil.rego").write_text(
        METADATA.format(code=declared) + "package hitl.rules.evil\n\nimport data.hitl.lib.reason\n\n"
        f'reasons contains reason.make("{given}", "single_approval", "evil")\n'
    )
    return folder.parent


@pytest.mark.attack
@pytest.mark.parametrize("declared, given", [
    ("evil_code", "something_else"),  # a code its METADATA does not declare
    ("evil_code", "pii_exposure"),  # a shipped rule's code, not declared
    ("dev_read", "dev_read"),  # a code of the profile's matrix (profile_tier's), even declared
])
def test_an_org_rule_giving_a_code_it_may_not_leaves_nothing_decided(opa_bin, tmp_path, declared, given):
    plan = write_manifests(tmp_path, [make_manifest(type="read")])
    result = hitl("check", plan, "--profile", "default", "--policy", _evil_folder(tmp_path, declared, given))
    assert_failed_closed(result, f'rule hitl.rules.evil gave reason code "{given}", which its METADATA')


@pytest.mark.attack
@pytest.mark.parametrize("declared, message", [
    ("pii_exposure", "declares reason code pii_exposure, which is hitl.rules.pii_exposure in hitl's own"),
    ("waiver", "declares reason code waiver, which is hitl.waivers in hitl's own"),
    ("<environment>_<type>", "a reason code is lower case letters, digits and _"),
    ("[ok, Not-A-Code]", "a reason code is lower case letters, digits and _"),
])
def test_an_org_rule_may_not_declare_another_rules_code_or_a_pattern(opa_bin, tmp_path, declared, message):
    plan = write_manifests(tmp_path, [make_manifest(type="read")])
    result = hitl("check", plan, "--profile", "default", "--policy", _evil_folder(tmp_path, declared, "x"))
    assert result.returncode == 2, result.stderr
    assert message in result.stderr and "MAY RUN" not in result.stdout


@pytest.mark.attack
def test_two_org_rules_may_not_declare_the_same_code(opa_bin, tmp_path):
    first = _evil_folder(tmp_path / "one", "shared_code", "shared_code")
    second = tmp_path / "two" / "rules"
    second.mkdir(parents=True)
    (second / "other.rego").write_text(METADATA.format(code="shared_code") + "package hitl.rules.other\n\nreasons := set()\n")
    plan = write_manifests(tmp_path, [make_manifest(type="read")])
    result = hitl("check", plan, "--profile", "default", "--policy", first, "--policy", second.parent)
    assert result.returncode == 2, result.stderr
    assert "declares reason code shared_code, which is hitl.rules.evil in" in result.stderr


def test_an_org_rule_gives_the_code_it_declares(opa_bin, tmp_path):
    plan = write_manifests(tmp_path, [make_manifest(type="read")])
    result = hitl("evaluate", plan, "--profile", "default", "--format", "json",
                  "--policy", _evil_folder(tmp_path, "[evil_code, other_code]", "evil_code"))
    assert result.returncode == 0, result.stderr
    assert "evil_code" in {reason["code"] for reason in json.loads(result.stdout)[0]["reasons"]}
