"""Attack: a statement nested some 15,000 deep (subqueries in FROM, nested types) overflowed the stack sqlglot's
compiled parser recurses on, and killed the process analysing it: `hitl check`, the Python API and `hitl serve`
died of SIGSEGV on one manifest. A statement nested deeper than hitl's budget is now unanalysable before it is
parsed: never auto-approved, never hiding what else the text does. Real CLI, real OPA."""

import json

import pytest

from conftest import decide_plan, make_manifest
from hitl_cli.statements.analysis import _NESTING_DEPTH, _TYPE_CALL_DEPTH, analysis_json

pytestmark = pytest.mark.attack

CRASHED = 16_000  # about 15,000 subqueries overflowed the analyst's 16 MiB stack


def _subqueries(depth: int, table: str = "t") -> str:
    return "SELECT * FROM " + "(SELECT * FROM " * depth + table + ")" * depth


def _nested(opener: str, depth: int, inner: str = "1", closer: str = ")") -> str:
    return opener * depth + inner + closer * depth


DEEP = {
    "subqueries": _subqueries(CRASHED),
    "parentheses": "SELECT " + _nested("(", CRASHED),
    "tables in parentheses": "SELECT * FROM " + _nested("(", CRASHED, "t"),
    "function calls": "SELECT " + _nested("coalesce(", CRASHED),
    "CASE": "SELECT " + _nested("CASE WHEN a THEN ", CRASHED, "1", " END"),
    "array literals": "SELECT " + _nested("[", CRASHED, "1", "]"),
    "struct literals": "SELECT " + _nested("{'a': ", CRASHED, "1", "}"),
    "nested types": "SELECT CAST(x AS " + _nested("ARRAY<", CRASHED, "INT", ">") + ")",
    "struct types": "SELECT CAST(x AS " + _nested("STRUCT<a ", CRASHED, "INT", ">") + ")",
    # Closers that close nothing, END as a column name and `>` as a comparison do not lower the count.
    "closers first": "SELECT " + ")]}" * 200 + _nested("(", CRASHED),
    "END as a column": "SELECT " + _nested("(end, ", CRASHED),
    "comparisons": "SELECT " + _nested("(a > ", CRASHED),
}


def _facts(statement: str, system: str = "snowflake") -> dict:
    return json.loads(analysis_json(statement, system))


def _too_deep(facts: dict) -> bool:
    return any(f"nested more than {_NESTING_DEPTH} deep" in why for why in facts["unanalysable"])


@pytest.mark.parametrize("shape", DEEP)
def test_a_statement_nested_past_the_budget_is_unanalysable_without_being_parsed(shape):
    facts = _facts(DEEP[shape])
    assert _too_deep(facts), facts
    assert {op["kind"] for op in facts["statements"]} == {"unparsed"}


def test_sql_carried_in_a_string_is_held_to_the_same_budget():
    facts = _facts(f"EXECUTE IMMEDIATE '{_subqueries(6000)}'")  # under the 100,000 characters looked into
    assert [op["kind"] for op in facts["statements"]] == ["dynamic"]


@pytest.mark.parametrize("statement", ["SELECT " + "NOT " * 100_000 + "1", "SELECT " + "- " * 100_000 + "1"])
def test_a_deep_chain_the_budget_does_not_count_still_ends_unparsed(statement):
    """Prefix operators recurse where Python's recursion limit counts: sqlglot stops them with a RecursionError."""
    facts = _facts(statement)
    assert [op["kind"] for op in facts["statements"]] == ["unparsed"]


@pytest.mark.parametrize("system", ["snowflake", "postgres", "bigquery", None])
def test_a_statement_nested_just_under_the_budget_has_the_facts_it_always_had(system):
    depth = _NESTING_DEPTH - 1  # the outermost pair is the subquery's own
    facts = _facts(_subqueries(depth, "analytics.orders"), system)
    assert facts["statements"] == [
        {"kind": "select", "detail": "", "has_where": None, "writes": [], "reads": ["analytics.orders"]}
    ]
    assert facts["unanalysable"] == []
    mixed = "SELECT " + _nested("coalesce(CASE WHEN a THEN ", depth // 2, "1", " END)") + " FROM analytics.orders"
    assert _facts(mixed, system)["unanalysable"] == []


def test_each_statement_has_its_own_budget():
    shallow = "SELECT " + _nested("(", _NESTING_DEPTH // 2) + ";"
    facts = _facts(shallow * 4)
    assert facts["unanalysable"] == [] and len(facts["statements"]) == 4


# A bracket after a type's name is parsed twice (as the type's arguments, then as an expression): 18 of these nested
# took ten seconds, 25 would take hours.
TYPE_CALLS = {
    "ARRAY[": ("SELECT " + _nested("ARRAY[", 25, "1", "]"), "postgres"),
    "ARRAY[ with calls between": ("SELECT " + _nested("ARRAY[coalesce(", 25, "1", ")]"), "duckdb"),
    "STRUCT(": ("SELECT " + _nested("STRUCT(", 25), "bigquery"),
    "DATE(": ("SELECT " + _nested("DATE(", 25), "postgres"),
    "BINARY(": ("SELECT " + _nested("BINARY(", 25), "mysql"),
}


@pytest.mark.parametrize("shape", TYPE_CALLS)
def test_brackets_after_type_names_nested_past_their_budget_are_unanalysable_without_being_parsed(shape):
    statement, system = TYPE_CALLS[shape]
    facts = _facts(statement, system)
    assert any(f"more than {_TYPE_CALL_DEPTH} brackets after a type's name" in why for why in facts["unanalysable"])


def test_brackets_after_type_names_within_their_budget_have_the_facts_they_always_had():
    arrays = "SELECT " + _nested("ARRAY[", _TYPE_CALL_DEPTH, "1", "]") + " FROM analytics.orders"
    clickhouse = "SELECT CAST(x AS Map(String, Array(Tuple(String, Nullable(String))))) FROM analytics.orders"
    side_by_side = "SELECT " + ", ".join([_nested("DATE(", _TYPE_CALL_DEPTH)] * 20) + " FROM analytics.orders"
    for statement, system in ((arrays, "postgres"), (clickhouse, "clickhouse"), (side_by_side, "snowflake")):
        facts = _facts(statement, system)
        assert facts["unanalysable"] == [], (statement, facts)
        assert facts["statements"][0]["kind"] == "select"  # (Snowflake's DATE of a DATE is a function call too)
        assert facts["statements"][0]["reads"] == ["analytics.orders"]


def _codes(decision: dict) -> set[str]:
    return {reason["code"] for reason in decision["reasons"]}


def test_check_escalates_a_deeply_nested_read_instead_of_crashing(opa_bin, tmp_path):
    manifests = [
        make_manifest(id="deep", type="read", env="dev", statement=_subqueries(CRASHED), system="snowflake"),
        make_manifest(id="arrays", type="read", env="dev", statement=TYPE_CALLS["ARRAY["][0], system="postgres"),
        make_manifest(id="plain", type="read", env="dev", statement="SELECT * FROM t", system="snowflake"),
    ]
    code, decided = decide_plan(tmp_path, "check", manifests)
    assert code == 1  # at least one needs a human, none blocked
    for refused in ("deep", "arrays"):
        assert decided[refused]["tier"] == "escalate" and "unanalysable_statement" in _codes(decided[refused])
    assert decided["plain"]["tier"] == "auto_approve"


@pytest.mark.parametrize("command", ["check", "evaluate"])
def test_a_drop_or_delete_behind_deep_nesting_is_still_blocked(opa_bin, tmp_path, command):
    deep_paren = "SELECT " + _nested("(", CRASHED)
    manifests = [
        make_manifest(id="delete-nested", type="read", env="production",
                      statement=f"DELETE FROM analytics.customers WHERE id IN {_nested('(SELECT id FROM ', CRASHED, 't')}"),
        make_manifest(id="drop-behind", type="read", env="production",
                      statement=f"{deep_paren}; DROP TABLE analytics.customers"),
        make_manifest(id="drop-carried", type="read", env="production",
                      statement=f"EXECUTE IMMEDIATE 'DROP TABLE analytics.customers; {_subqueries(5000)}'"),
        make_manifest(id="deep-read", type="read", env="dev", statement=deep_paren, system="postgres"),
    ]
    _, decided = decide_plan(tmp_path, command, manifests)
    assert decided["delete-nested"]["tier"] == "block"
    assert decided["drop-behind"]["tier"] == "block"
    assert decided["drop-carried"]["tier"] == "block"
    assert "unanalysable_statement" in _codes(decided["deep-read"]) and decided["deep-read"]["tier"] != "auto_approve"
