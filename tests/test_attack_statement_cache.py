"""Red team on the statement analysis cache (hitl_cli/statements/analysis.py: each distinct statement and dialect
analysed once per process, statements up to 1,000 characters remembered).

Each test tries to get one statement's remembered facts given to another statement that differs from it (in its
dialect, in characters a reader cannot see, in normalisation, across the length at which remembering stops), or
to change remembered facts from one caller so that another decides on them."""

import json
import unicodedata
from concurrent.futures import ThreadPoolExecutor

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import make_manifest
from hitl_cli import Engine
from hitl_cli.statements import analysis_json
from hitl_cli.statements.analysis import analyse
from hitl_cli.statements.dialects import dialect_for
from hitl_cli.statements.remembered import REMEMBERED_LENGTH as _REMEMBERED_LENGTH

pytestmark = pytest.mark.attack  # each test tries a way past the gate (make bench counts them)

SYSTEMS = [None, "postgres", "mysql", "snowflake", "bigquery", "tsql", "sqlserver", "oracle", "unknown-db", ""]


def fresh(statement: str | None, system: str | None) -> dict:
    """The facts analysed now, with no cache in the way."""
    return json.loads(json.dumps(analyse(statement, dialect_for(system))))


def remembered(statement: str | None, system: str | None) -> dict:
    return json.loads(analysis_json(statement, system))


def kinds(facts: dict) -> list[str]:
    return [s["kind"] for s in facts["statements"]]


HIDDEN_DROPS = [
    "SELECT 1; DROP TABLE analytics.customers",
    "SELECT 1 /* x */; DROP TABLE analytics.customers",
    "SELECT 'a\\'; DROP TABLE analytics.customers; -- '",
    "SELECT $$; DROP TABLE analytics.customers; $$",
    "SELECT 1 #; DROP TABLE analytics.customers\n",
    "/*! DROP TABLE analytics.customers */ SELECT 1",
    "EXECUTE 'DROP TABLE analytics.customers'",
]
INVISIBLE = ["\u200b", "\u200c", "\u200d", "\u2060", "\ufeff", "\u00ad", "\u202e", "\u2066", "\u180e", "\u3000", "\u00a0"]


@pytest.mark.parametrize("base", ["DROP TABLE t", "SELECT * FROM t", "DELETE FROM t WHERE id = 1", "SELECT 1; DROP TABLE t"])
@pytest.mark.parametrize("hidden", INVISIBLE)
def test_text_differing_only_in_characters_nobody_sees_is_analysed_on_its_own(base, hidden):
    """The plain text's facts remembered first: a copy with an invisible or format character anywhere is not
    given them (the character itself makes it unanalysable, and the cache must not hide that)."""
    for system in ("postgres", "mysql", None):
        plain = remembered(base, system)
        for position in (0, base.index(" "), len(base)):
            variant = base[:position] + hidden + base[position:]
            assert remembered(variant, system) == fresh(variant, system)
            assert remembered(base, system) == plain == fresh(base, system)


@pytest.mark.parametrize("form", ["NFC", "NFD", "NFKC", "NFKD"])
@pytest.mark.parametrize("text", ["SELECT 'é' FROM t; DROP TABLE t", "ＤＲＯＰ TABLE t", "SELECT ﬁeld FROM t", "DROP TABLE ｔ"])
def test_normalisation_forms_are_not_one_another(form, text):
    normal = unicodedata.normalize(form, text)
    for first, second in ((text, normal), (normal, text)):
        remembered(first, "postgres")
        assert remembered(second, "postgres") == fresh(second, "postgres")


@pytest.mark.parametrize("length", [_REMEMBERED_LENGTH - 1, _REMEMBERED_LENGTH, _REMEMBERED_LENGTH + 1])
@pytest.mark.parametrize("where", ["end", "start"])
def test_a_drop_at_the_remembering_boundary_is_found_every_time(length, where):
    drop = "; DROP TABLE analytics.customers"
    filler = "SELECT " + "1 + " * 400
    if where == "end":
        statement = (filler[: length - len(drop) - 1] + "1" + drop)
    else:
        statement = "DROP TABLE analytics.customers; SELECT '" + "x" * length
        statement = statement[: length - 1] + "'"
    assert len(statement) == length
    for system in ("postgres", "mysql"):
        results = [remembered(statement, system) for _ in range(3)]
        assert results[0] == results[1] == results[2] == fresh(statement, system)
        assert "drop" in kinds(results[0])
        # the same text one character longer or shorter: its own facts, not the boundary neighbour's
        for other in (statement + " ", statement[:-1] if where == "end" else statement[:-2] + "'"):
            assert remembered(other, system) == fresh(other, system)


@pytest.mark.parametrize("statement", HIDDEN_DROPS)
def test_the_same_text_in_every_dialect_gets_that_dialects_facts(statement):
    for system in SYSTEMS + SYSTEMS[::-1]:
        facts = remembered(statement, system)
        assert facts == fresh(statement, system)
        assert facts["dialect"] == (dialect_for(system) or "generic")


_FRAGMENTS = st.sampled_from([
    "SELECT 1", "; ", "DROP TABLE t", "'", "\\", "--", " ", "\n", "/*", "*/", "$$", "#", "`", '"', "[", "]",
    "DELETE FROM t", " WHERE x = 1", "EXECUTE ", "\u200b", "UPDATE t SET a = 1", "/*!", "é", "e\u0301", "ＤＲＯＰ",
])  # fmt: skip


@settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.lists(st.tuples(st.lists(_FRAGMENTS, max_size=8).map("".join), st.sampled_from(SYSTEMS)), min_size=1, max_size=6))
def test_any_order_of_statements_gives_each_its_own_facts(calls):
    """Whatever was analysed before, in whatever dialect, each call's facts are its own text's and dialect's."""
    for statement, system in calls + calls[::-1]:
        assert remembered(statement, system) == fresh(statement, system)


def test_remembered_facts_cannot_be_changed_by_a_caller():
    """What the cache hands out is bytes (immutable): a caller that decodes and changes it changes its own copy."""
    given_out = analysis_json("SELECT 1; DROP TABLE t", "postgres")
    assert type(given_out) is bytes
    mine = json.loads(given_out)
    mine["statements"].clear()
    mine["unanalysable"].append("nothing")
    assert "drop" in kinds(remembered("SELECT 1; DROP TABLE t", "postgres"))


@pytest.mark.parametrize("statement", HIDDEN_DROPS)
def test_a_drop_hidden_in_a_repeated_statement_is_caught_in_every_manifest_of_a_batch(opa_bin, tmp_path, record, statement):
    """The same statement on 40 read manifests in production (one batch, and the same batches from 4 threads at
    once, in several systems): not one of them is auto-approved."""
    systems = ["postgres", "mysql", "snowflake", None]
    batch = [make_manifest(id=f"r-{n}", type="read", env="production", statement=statement, system=systems[n % 4])
             for n in range(40)]
    with Engine(["default"], state=tmp_path / "state.db", track_record=record) as engine:
        first = engine.decide(batch).evaluated
        with ThreadPoolExecutor(max_workers=4) as pool:
            again = [item for result in pool.map(engine.decide, [batch] * 4) for item in result.evaluated]
    for item in first + again:
        assert item.decision.tier != "auto_approve", (item.decision.id, item.loaded.manifest.target.system)
    assert [item.decision for item in first] * 4 == [item.decision for item in again]


def test_what_an_event_loop_awaits_is_the_same_as_what_a_thread_gets():
    # hitl serve awaits the analysis of a statement it has not seen (analysis_json_async), where a command waits for
    # it: the facts are the same, whichever asks first, and a statement is analysed anew each time it is too long
    # to remember.
    import asyncio

    from hitl_cli.statements import analysis_json_async
    from hitl_cli.statements.analysis import analysis_future

    long_drop = "DROP TABLE analytics.customers; SELECT '" + "x" * _REMEMBERED_LENGTH + "'"
    for statement in HIDDEN_DROPS + [long_drop]:
        awaited = json.loads(asyncio.run(analysis_json_async(statement, "postgres")))
        assert awaited == remembered(statement, "postgres") == fresh(statement, "postgres")
        assert "drop" in kinds(awaited) or awaited["unanalysable"]
    assert analysis_future(HIDDEN_DROPS[0], "postgres").done()  # remembered: no wait
    assert analysis_future(long_drop, "postgres").result() == analysis_json(long_drop, "postgres")
