"""One vocabulary: the tiers, the verdict kinds and the output formats are each defined once (an enum), and every
table keyed by one of them covers all of it, so adding a member without teaching every table fails here."""

import json
import subprocess

import typer

from conftest import ROOT
from hitl_cli.cli import app
from hitl_cli.delivery.enqueue import VERDICT_WORDS
from hitl_cli.formats import OutputFormat
from hitl_cli.impact import _LEAST_OVERSIGHT_FIRST
from hitl_cli.models.common import TIERS, OversightTier
from hitl_cli.models.profile import ApprovalPolicy, DeliveryPolicy
from hitl_cli.models.workflow import INITIAL_STATUS, VerdictAction
from hitl_cli.policy_files import ignore_options
from hitl_cli.reporters import CHECK_FORMATS, EVALUATE_FORMATS
from hitl_cli.reporters.common import VERDICTS
from hitl_cli.reporters.impact import DIFF_FORMATS
from hitl_cli.reporters.sarif import LEVELS
from hitl_cli.workflow.events import VERDICT_EVENTS

EVERY_TIER = set(OversightTier)
CLI_DOC = (ROOT / "docs" / "cli.md").read_text()


def test_the_tier_order_is_the_enums_order():
    assert TIERS == tuple(OversightTier) == _LEAST_OVERSIGHT_FIRST["tier"]


def test_the_policy_orders_the_tiers_as_python_does(opa_bin):
    result = subprocess.run(
        [opa_bin, "eval", "--format", "json", *ignore_options(tests=True), "-d", ROOT / "rego", "data.hitl.lib.tiers.order"],
        capture_output=True, text=True, check=True,
    )
    assert tuple(json.loads(result.stdout)["result"][0]["expressions"][0]["value"]) == TIERS


def test_every_table_keyed_by_tier_covers_every_tier():
    assert set(INITIAL_STATUS) == EVERY_TIER
    assert set(VERDICTS) == EVERY_TIER
    assert set(LEVELS) == EVERY_TIER - {OversightTier.AUTO_APPROVE}  # an action that may run is no finding
    assert EVERY_TIER <= set(DeliveryPolicy.model_fields)


def test_a_profile_must_count_approvals_for_every_tier():
    counts = {tier: 1 for tier in TIERS}
    del counts[OversightTier.ESCALATE]
    try:
        ApprovalPolicy.model_validate({"required": counts, "lifetime_hours": 1, "escalation_reviewers": [],
                                       "override_holders": []})
    except ValueError as error:
        assert "escalate" in str(error)
    else:
        raise AssertionError("a profile without an approval count for escalate was accepted")


def test_every_table_keyed_by_verdict_kind_covers_every_kind():
    assert set(VERDICT_WORDS) == set(VerdictAction)
    assert set(VERDICT_EVENTS) == set(VerdictAction)
    commands = typer.main.get_command(app).commands
    assert set(VerdictAction) <= set(commands)  # hitl approve, reject, override


def _offered_formats() -> dict[str, set[str]]:
    offered: dict[str, set[str]] = {}

    def walk(command, name):
        for sub_name, sub in getattr(command, "commands", {}).items():
            walk(sub, f"{name} {sub_name}")
        for parameter in command.params:
            if "--format" in getattr(parameter, "opts", []):
                offered[name] = {member.value for member in parameter.type_descriptor.annotation}

    walk(typer.main.get_command(app), "hitl")
    return offered


def test_every_format_a_command_offers_is_an_output_format_and_every_one_is_offered_and_documented():
    offered = _offered_formats()
    assert offered["hitl check"] == set(CHECK_FORMATS)
    assert offered["hitl evaluate"] == set(EVALUATE_FORMATS)
    assert offered["hitl diff"] == set(DIFF_FORMATS)
    every = set().union(*offered.values())
    assert every == set(OutputFormat)
    for output_format in OutputFormat:
        assert f"`{output_format}`" in CLI_DOC, output_format
