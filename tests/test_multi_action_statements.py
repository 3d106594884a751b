"""A statement that can do several things counts as the strictest of them, and a table it touches is judged
by the profile's PII classification, not the agent's impact.pii. Against a real OPA with profiles whose
destructive patterns are gone, so the parser alone must see each action."""

import json

import pytest

from conftest import Policy, hitl, make_manifest, shipped_profile, write_manifests, write_yaml
from hitl_cli.engine import policy_engine
from hitl_cli.models import Profile
from hitl_cli.statements import analysis_json

pytestmark = pytest.mark.attack  # each test tries a way past the gate (make bench counts them)

PII_TABLES = ["analytics.customers", "crm.lead*"]


def _profile(name: str, **changes) -> Profile:
    data = shipped_profile("default")
    data["metadata"]["name"] = name
    data["destructive_statements"] = []  # the second line of defence is off: only the parser decides
    for section, values in changes.items():
        data[section].update(values)
    return Profile.model_validate(data)


@pytest.fixture(scope="module")
def engine(opa_bin):
    profiles = [_profile("parser-only"), _profile("pii-classified", pii={"tables": PII_TABLES})]
    with policy_engine(profiles, None) as client:
        yield Policy(client)


def decide(engine: Policy, profile: str, manifest: dict):
    return engine.decide(profile, manifest)


def write_in_production(statement: str, system: str | None = "postgres") -> dict:
    manifest = make_manifest(type="write", env="production", statement=statement)
    manifest["target"]["system"] = system
    return manifest


# A `write` in production needs two people under default; each of these can also delete or drop, which blocks.
DESTROYS = [
    ("MERGE INTO analytics.orders t USING s ON t.id = s.id WHEN MATCHED THEN DELETE", "postgres", "delete"),
    ("MERGE INTO analytics.orders t USING s ON t.id = s.id WHEN MATCHED AND s.gone THEN DELETE "
     "WHEN NOT MATCHED THEN INSERT (id) VALUES (s.id)", "snowflake", "delete"),
    ("MERGE INTO analytics.orders t USING s ON t.id = s.id WHEN MATCHED THEN DELETE", "sqlserver", "delete"),
    ("WITH gone AS (DELETE FROM analytics.orders RETURNING *) INSERT INTO archive.orders SELECT * FROM gone",
     "postgres", "delete"),
    ("EXPLAIN ANALYZE DELETE FROM analytics.orders", "postgres", "delete"),
    ("EXPLAIN (ANALYZE, BUFFERS) TRUNCATE analytics.orders", "postgres", "delete"),
    ("PREPARE purge AS DELETE FROM analytics.orders", "postgres", "delete"),
    ("EXECUTE IMMEDIATE 'CREATE OR REPLACE TABLE analytics.orders AS SELECT 1 AS id'", "snowflake", "drop"),
    ("EXECUTE IMMEDIATE 'EXECUTE IMMEDIATE ''DROP TABLE analytics.orders'''", "snowflake", "drop"),
    ("BEGIN EXECUTE IMMEDIATE 'TRUNCATE TABLE analytics.orders'; END;", "oracle", "delete"),
    ("EXEC sp_executesql N'DROP TABLE analytics.orders'", "sqlserver", "drop"),
    ("CREATE FUNCTION purge() RETURNS int LANGUAGE sql SECURITY DEFINER AS 'DELETE FROM analytics.orders; SELECT 1'",
     "postgres", "delete"),
    ("CREATE FUNCTION purge() RETURNS int LANGUAGE sql SECURITY DEFINER AS $$ DROP TABLE analytics.orders $$",
     "postgres", "drop"),
    ("BEGIN; DELETE FROM analytics.orders; COMMIT", "postgres", "delete"),
    ("START TRANSACTION; DROP TABLE analytics.orders; COMMIT", "mysql", "drop"),
]  # fmt: skip


@pytest.mark.parametrize(("statement", "system", "treated_as"), DESTROYS, ids=[f"{d[1]}:{d[0][:50]}" for d in DESTROYS])
def test_a_statement_counts_as_the_strictest_thing_it_can_do(engine, statement, system, treated_as):
    decision = decide(engine, "parser-only", write_in_production(statement, system))
    assert decision.action_type == treated_as
    assert decision.tier == "block"


# Each can also update existing rows: declared `insert`-only work in a profile where updates need more.
UPDATES = [
    ("INSERT INTO analytics.orders (id) VALUES (1) ON CONFLICT (id) DO UPDATE SET email = NULL", "postgres"),
    ("INSERT INTO analytics.orders (id) VALUES (1) ON DUPLICATE KEY UPDATE email = NULL", "mysql"),
    ("MERGE INTO analytics.orders t USING s ON t.id = s.id WHEN MATCHED THEN UPDATE SET email = NULL", "snowflake"),
]


@pytest.mark.parametrize(("statement", "system"), UPDATES)
def test_an_upsert_is_also_an_update(statement, system):
    facts = json.loads(analysis_json(statement, system))
    assert ("update", ["analytics.orders"]) in [(op["kind"], op["writes"]) for op in facts["statements"]]


def test_a_transaction_around_reads_is_still_a_read(engine):
    manifest = make_manifest(type="read", env="production", statement="BEGIN; SELECT * FROM analytics.orders; COMMIT")
    decision = decide(engine, "parser-only", manifest)
    assert decision.tier == "auto_approve"
    assert decision.action_type == "read"


def test_sql_in_a_string_of_an_analysable_statement_is_data():
    facts = json.loads(analysis_json("INSERT INTO audit.log VALUES ('DROP TABLE analytics.orders')", "postgres"))
    assert [op["kind"] for op in facts["statements"]] == ["insert"]


@pytest.mark.parametrize("statement", [
    "UPDATE analytics.orders o JOIN analytics.customers c ON o.id = c.id SET c.email = NULL",
    "DELETE o, c FROM analytics.orders o JOIN analytics.customers c ON o.id = c.id",
])  # fmt: skip
def test_a_joined_table_a_statement_writes_is_written(statement):
    facts = json.loads(analysis_json(statement, "mysql"))
    assert "analytics.customers" in facts["statements"][0]["writes"]


def test_tsql_update_through_an_alias_writes_the_aliased_table():
    facts = json.loads(analysis_json("UPDATE c SET email = NULL FROM analytics.customers c", "sqlserver"))
    assert "analytics.customers" in facts["statements"][0]["writes"]


# Declared target analytics.orders (not PII), impact.pii false: the statement still touches a PII table.
TOUCHES_PII = [
    ("UPDATE analytics.customers SET segment = 'a' WHERE id = 1", "postgres"),
    ('UPDATE "ANALYTICS"."CUSTOMERS" SET segment = \'a\' WHERE id = 1', "snowflake"),
    ("UPDATE prod.analytics.customers SET segment = 'a' WHERE id = 1", "snowflake"),
    ("SET search_path = analytics; UPDATE customers SET segment = 'a' WHERE id = 1", "postgres"),
    ("UPDATE `crm`.`leads_eu` SET segment = 'a' WHERE id = 1", "mysql"),
    ("INSERT INTO analytics.orders SELECT * FROM crm.leads", "postgres"),
    ("UPDATE analytics.orders o JOIN analytics.customers c ON o.id = c.id SET c.segment = 'a'", "mysql"),
    ("MERGE INTO analytics.customers t USING analytics.orders s ON t.id = s.id WHEN MATCHED THEN UPDATE SET x = 1",
     "snowflake"),
]  # fmt: skip


@pytest.mark.parametrize(("statement", "system"), TOUCHES_PII, ids=[f"{t[1]}:{t[0][:50]}" for t in TOUCHES_PII])
def test_a_statement_touching_a_pii_table_gets_the_pii_reason(engine, statement, system):
    manifest = make_manifest(type="write", env="dev", statement=statement)
    manifest["target"]["system"] = system
    assert "pii_touch" not in {r.code for r in decide(engine, "parser-only", manifest).reasons}  # none classified
    decision = decide(engine, "pii-classified", manifest)
    assert decision.tier != "auto_approve"
    assert {r.tier for r in decision.reasons if r.code == "pii_touch"} == {"single_approval"}


def test_a_pii_target_gets_the_pii_reason_without_a_statement(engine):
    manifest = make_manifest(type="write", env="dev")
    manifest["target"]["resource"] = "crm.leads_us"
    assert decide(engine, "pii-classified", manifest).tier == "single_approval"


def test_other_tables_are_not_pii(engine):
    manifest = make_manifest(type="write", env="dev", statement="UPDATE crm_archive.leads SET x = 1 WHERE id = 2")
    assert decide(engine, "pii-classified", manifest).tier == "auto_approve"


def test_pii_tables_are_profile_data_and_a_removal_loosens(opa_bin, tmp_path):
    current = shipped_profile("default")
    current["pii"]["tables"] = PII_TABLES
    manifest = make_manifest(type="write", env="dev", statement="DELETE FROM analytics.customers WHERE id = 1")
    manifest["action"]["type"] = "delete"
    profile_file = write_yaml(tmp_path / "current.yaml", current)
    result = hitl("evaluate", write_manifests(tmp_path, [manifest]), "--profile", profile_file, "--format", "json")
    assert result.returncode in (0, 1), result.stderr
    assert "pii_touch" in {r["code"] for r in json.loads(result.stdout)[0]["reasons"]}
    candidate = shipped_profile("default")
    candidate_file = write_yaml(tmp_path / "candidate.yaml", candidate)
    result = hitl("diff", "--profile", profile_file, "--candidate", candidate_file, "--state", tmp_path / "none.db")
    assert result.returncode == 1, result.stdout + result.stderr
    assert result.stdout.count("LOOSENS  pii.tables: removed") == 2
