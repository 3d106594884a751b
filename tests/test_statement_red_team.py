"""Red team on statements: ways a hostile agent tried to make hitl read a statement as less than it does.
Each was found against the finished gate and closed by class; against a real OPA."""

import json

import pytest

from conftest import make_manifest
from hitl_cli.statements import analysis_json

pytestmark = pytest.mark.attack  # each test tries a way past the gate (make bench counts them)

UPDATE = "UPDATE analytics.customers SET email = NULL"

# target.system is the agent's word. Each text is harmless in the dialect it names and an UPDATE in another.
DIALECT_CONFUSION = [
    (f"SELECT 'a\\'; {UPDATE}; -- '", "mysql"),  # backslash escape: one string to MySQL, not to PostgreSQL
    (f"SELECT 'a\\'; {UPDATE}; -- '", "snowflake"),
    (f"SELECT 'a\\'; {UPDATE}; -- '", "bigquery"),
    (f"SELECT 1 # 1 ; {UPDATE}", "mysql"),  # a comment to MySQL, XOR to PostgreSQL
    (f"SELECT $a$ $$; {UPDATE}; $$ $a$", "postgres"),  # a dollar quote to PostgreSQL only
    (f"SELECT [a;{UPDATE};]", "sqlserver"),  # a bracketed name to T-SQL only
    (f'SELECT "a\\"; {UPDATE}; --"', "mysql"),
    (f"SELECT 1 /* /* */ ; {UPDATE}; */", "postgres"),  # nested comments: PostgreSQL only
]


@pytest.mark.parametrize(("statement", "system"), DIALECT_CONFUSION, ids=[f"{c[1]}:{c[0][:40]}" for c in DIALECT_CONFUSION])
def test_a_statement_is_read_as_every_sql_family_reads_it(policy, statement, system):
    manifest = make_manifest(type="read", env="production", statement=statement)
    manifest["target"]["system"] = system
    decision = policy.decide("default", manifest)
    assert decision.action_type == "write"
    assert decision.tier == "double_approval"


@pytest.mark.parametrize(("statement", "system"), [
    ("UPDATE t SET note = 'it\\'s' WHERE id = 1", "mysql"),
    ('SELECT "name", count(*) FROM analytics.orders -- by name', "postgres"),
    ("SELECT `name` FROM analytics.orders # by name", "mysql"),
    ("SELECT [name] FROM analytics.orders", "sqlserver"),
])  # fmt: skip
def test_an_honest_statement_in_its_own_dialect_gains_nothing(statement, system):
    kinds = [op["kind"] for op in json.loads(analysis_json(statement, system))["statements"]]
    assert len(kinds) == 1
