"""A broad corpus of manifests and how every shipped profile decides it, as recorded in expected_decisions.txt
(tests/test_decisions_unchanged.py compares; tests/test_reason_codes.py and test_shipped_rule_settings.py
decide the same corpus)."""

import hashlib
import itertools
from pathlib import Path

import yaml

from hitl_cli.inputs import manifests_by_file
from conftest import ROOT, TRUSTED_AGENT, TRUSTED_RECORD, make_manifest

EXPECTED = Path(__file__).with_name("expected_decisions.txt")
PROFILES = ("default", "startup", "bank")
TYPES = ("read", "catalog_update", "documentation", "test_generation", "test_execution", "write", "schema_migration",
         "delete", "drop", "grant_access", "profile_change", "maintenance")
ENVIRONMENTS = ("dev", "staging", "production", "sandbox")
AGENTS = {TRUSTED_AGENT: "trusted", "low-agent": "low", "new-agent": "new"}
RECORD = {"agents": {**TRUSTED_RECORD["agents"],
                     "low-agent": {"level": "low", "reviewed": 300, "approved": 299, "rejected": 1}}}
VARIANTS = {
    "base": {},
    "pii": {"pii": True},
    "exposes_pii": {"exposes_pii": True},
    "no_confidence": {"confidence": None},
    "unsure": {"confidence": 0.5},
    "costly": {"cost": 150.0},
    "novel": {"novel": True},
    "irreversible": {"reversible": False},
    "drop_statement": {"statement": "DROP TABLE analytics.orders"},
    "delete_statement": {"statement": "DELETE FROM analytics.orders WHERE id = 1"},
    "pii_read": {"statement": "SELECT * FROM analytics.customers"},
    "update_statement": {"statement": "UPDATE analytics.orders SET a = 1 WHERE id = 2"},
    "dynamic_sql": {"statement": "EXECUTE IMMEDIATE 'DROP TABLE x'"},
    "grant_statement": {"statement": "GRANT SELECT ON analytics.orders TO ROLE r"},
}


def corpus() -> list[dict]:
    """Every type in every environment by every kind of agent, and each variant of it by the trusted agent."""
    manifests = []
    for action_type, env in itertools.product(TYPES, ENVIRONMENTS):
        for agent, label in AGENTS.items():
            manifests.append(make_manifest(f"{action_type}.{env}.{label}", action_type, env, agent))
        for variant, changes in VARIANTS.items():
            if variant != "base":
                manifests.append(make_manifest(f"{action_type}.{env}.{variant}", action_type, env, **changes))
    return manifests


def _line(profile: str, corpus_name: str, decision) -> str:
    reasons = sorted((r.code, r.tier, r.message) for r in decision.reasons)
    digest = hashlib.sha256(repr(reasons).encode()).hexdigest()[:12]
    codes = ",".join(f"{code}:{tier}" for code, tier, _ in reasons)
    return (f"{profile} {corpus_name} {decision.id} {decision.tier} {decision.approvals_required} {decision.delivery} "
            f"{decision.agent_level} {decision.action_type} {decision.risk} {codes} {digest}")


def observed(policy) -> list[str]:
    examples = []
    for loaded, problems in manifests_by_file(sorted((ROOT / "examples" / "manifests").glob("*.yaml"))):
        assert not problems
        examples += loaded
    example_record = yaml.safe_load((ROOT / "examples" / "track-record.yaml").read_text())
    lines = []
    for profile in PROFILES:
        lines += [_line(profile, "corpus", d) for d in policy.decide_many(profile, corpus(), RECORD)]
        lines += [_line(profile, "examples", d) for d in policy.decide_loaded(profile, examples, example_record)]
    return lines
