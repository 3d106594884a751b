"""Attack: sqlglot's time to read subscripts one after another on one value (`x[1][1][1]...`, `x[1].a[1].a...`) grows
with the square of how many there are: 800 took one to three seconds, and 20,000 in a 60 KB statement (well within
the input limits) would hold a hitl command, or `hitl serve`'s statement analyst, for a quarter of an hour. Such a
chain is now unanalysable at once: never auto-approved, never hiding what else the text does. Real CLI, real OPA."""

import json

import pytest

from conftest import decide_plan, make_manifest
from hitl_cli.statements.analysis import _SUBSCRIPT_CHAIN, analysis_json

pytestmark = pytest.mark.attack

LONG = 20_000


def _facts(statement: str, system: str = "postgres") -> dict:
    return json.loads(analysis_json(statement, system))


def _refused(facts: dict) -> bool:
    return any(f"more than {_SUBSCRIPT_CHAIN} subscripts in a row" in why for why in facts["unanalysable"])


@pytest.mark.parametrize("chain", ["[1]", "[1].a", "[1:2]", "['k']", "[OFFSET(1)]"])
@pytest.mark.parametrize("system", ["postgres", "duckdb", "bigquery", "snowflake", None])
def test_a_long_chain_of_subscripts_is_unanalysable_without_being_parsed(chain, system):
    facts = _facts(f"SELECT x{chain * LONG} FROM analytics.orders", system)
    assert _refused(facts), facts
    assert [op["kind"] for op in facts["statements"]] == ["unparsed"]


@pytest.mark.parametrize("system", ["postgres", "duckdb", None])
def test_chains_within_the_budget_and_subscripts_side_by_side_have_the_facts_they_always_had(system):
    read = [{"kind": "select", "detail": "", "has_where": None, "writes": [], "reads": ["analytics.orders"]}]
    for statement in (
        f"SELECT x{'[1]' * _SUBSCRIPT_CHAIN} FROM analytics.orders",
        f"SELECT {', '.join(['x[1][2][3]'] * 2_000)} FROM analytics.orders",
        f"SELECT {'(' * 100}x{'[1])' * 100} FROM analytics.orders",  # each in its own parentheses: not a chain
        "SELECT a[1][2], b[1].c[2].d[3], ARRAY[1, 2][1] FROM analytics.orders",
    ):
        facts = _facts(statement, system)
        assert facts["unanalysable"] == [] and facts["statements"] == read, (statement[:80], facts)


@pytest.mark.parametrize("command", ["check", "evaluate"])
def test_a_long_chain_is_decided_at_once_and_a_delete_behind_it_still_blocked(opa_bin, tmp_path, command):
    manifests = [
        make_manifest(id="chain", type="read", env="dev", statement=f"SELECT x{'[1]' * LONG} FROM t", system="postgres"),
        make_manifest(id="delete-behind", type="read", env="production", system="postgres",
                      statement=f"DELETE FROM analytics.customers WHERE x{'[1]' * LONG} = 1"),
        make_manifest(id="plain", type="read", env="dev", statement="SELECT x[1][2] FROM t", system="postgres"),
    ]
    _, decided = decide_plan(tmp_path, command, manifests)
    assert decided["chain"]["tier"] == "escalate"
    assert "unanalysable_statement" in {reason["code"] for reason in decided["chain"]["reasons"]}
    assert decided["delete-behind"]["tier"] == "block"
    assert decided["plain"]["tier"] == "auto_approve"
