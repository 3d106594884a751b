"""hitl serve's analyst process (hitl_cli.statements.analyst_process) in this process: the facts it gives, and how a
request fails when there is no analyst to give them."""

import json
import sys

import pytest

from hitl_cli.errors import EngineError
from hitl_cli.statements import analysis, analyst_process, framing, remembered

GUARD_SECONDS = 120  # failure guard only: a working analyst answers long before


@pytest.fixture
def forgetful(monkeypatch):
    """Nothing remembered: every statement asked goes to an analyst."""
    monkeypatch.setattr(remembered, "remembered", remembered.Remembered(remembered.REMEMBERED))


STATEMENTS = [
    ("DELETE FROM t", "snowflake"),
    ("SELECT 'a\\'; UPDATE t SET x = NULL; -- '", "postgres"),
    ("EXECUTE IMMEDIATE 'DROP TABLE t'", "snowflake"),
    ("SELECT 1; DROP TABLE a; TRUNCATE b", None),
    ("SELECT * FROM " + "(SELECT * FROM " * 120 + "t" + ") AS s" * 120, "postgres"),
    ("UPDATE t SET a = 1 WHERE b = 2 /*! DROP TABLE t */", "mysql"),
    ("SELECT a FROM t\u200b; DELETE FROM u", "bigquery"),
    ("not sql at all ((", "mssql"),
    (None, "snowflake"),
]


@pytest.fixture(scope="module")
def analyst():
    process = analyst_process.AnalystProcess(timeout=GUARD_SECONDS)
    yield process
    process.close()


@pytest.mark.parametrize(("statement", "system"), STATEMENTS)
def test_the_analyst_process_gives_the_facts_analysis_gives_here(statement, system, analyst, forgetful, monkeypatch):
    """No statement has facts that differ when it is analysed in the analyst process (deeply nested ones:
    how deep sqlglot parses depends on the stack it parses on). They are byte for byte those of analysis_json here."""
    apart = analyst.analysis_future(statement, system).result(GUARD_SECONDS)
    monkeypatch.setattr(remembered, "remembered", remembered.Remembered(remembered.REMEMBERED))
    assert apart == analysis.analysis_json(statement, system)
    assert json.loads(apart)["statements"] or statement is None


@pytest.mark.parametrize(("program", "why"), [
    ("/nonexistent/python", "statement analysis could not start its process: "),
    ("/bin/false", "statement analysis stopped: its process exited"),
])
def test_without_an_analyst_a_statement_fails_closed_and_the_next_starts_one(program, why, forgetful, monkeypatch):
    """An analyst that cannot be started, or that ends before it is ready: the statement fails (EngineError, one
    line); nothing is taken as analysed. The next statement starts a new analyst."""
    process = analyst_process.AnalystProcess(timeout=GUARD_SECONDS)
    try:
        with monkeypatch.context() as broken:
            broken.setattr(sys, "executable", program)
            with pytest.raises(EngineError) as failed:
                process.analysis_future("DELETE FROM t", "snowflake").result(GUARD_SECONDS)
        assert str(failed.value).startswith(why) and "\n" not in str(failed.value), failed.value
        assert process.analysis_future("DELETE FROM t", "snowflake").result(GUARD_SECONDS) == analysis.analysis_json(
            "DELETE FROM t", "snowflake")
    finally:
        process.close()


@pytest.mark.attack
def test_modules_planted_where_the_server_runs_are_not_the_analysts(tmp_path, forgetful, monkeypatch):
    """Attack: plant sqlglot and hitl_cli in the folder hitl serve runs in (a checkout the agent writes to), hoping the
    analyst imports them and says a DROP reads nothing. It imports the server's own (the server's sys.path)."""
    for planted in ("sqlglot", "json", "runpy"):
        (tmp_path / f"{planted}.py").write_text("raise SystemExit('planted')\n")
    (tmp_path / "hitl_cli").mkdir()
    (tmp_path / "hitl_cli" / "__init__.py").write_text("raise SystemExit('planted')\n")
    monkeypatch.chdir(tmp_path)
    process = analyst_process.AnalystProcess(timeout=GUARD_SECONDS)
    try:
        apart = process.analysis_future("DROP TABLE customers", "snowflake").result(GUARD_SECONDS)
    finally:
        process.close()
    monkeypatch.setattr(remembered, "remembered", remembered.Remembered(remembered.REMEMBERED))
    assert apart == analysis.analysis_json("DROP TABLE customers", "snowflake")


def test_a_remembered_statement_never_reaches_the_analyst(forgetful):
    """A statement analysed lately is answered from what the server remembers, at once: with the analyst gone, it
    still is; a long one (not remembered) is not."""
    process = analyst_process.AnalystProcess(timeout=GUARD_SECONDS)
    long = "SELECT '" + "x" * remembered.REMEMBERED_LENGTH + "'"
    try:
        first = process.analysis_future("DELETE FROM t", "snowflake").result(GUARD_SECONDS)
        process.analysis_future(long, "snowflake").result(GUARD_SECONDS)
    finally:
        process.close()
    again = process.analysis_future("DELETE FROM t", "snowflake")
    assert again.done() and again.result() == first
    with pytest.raises(EngineError, match="^statement analysis could not start its process: hitl is stopping$"):
        process.analysis_future(long, "snowflake").result(GUARD_SECONDS)


def test_an_analyst_failure_is_one_line_however_many_lines_its_reason_has():
    with pytest.raises(EngineError) as failed:
        framing.answer_of(b"-ParseError: Invalid expression.\n  Line 1, Col: 9.\n  SELECT \x1b[4m)\x1b[0m")
    assert str(failed.value) == "statement analysis failed: ParseError: Invalid expression. Line 1, Col: 9. SELECT \x1b[4m)\x1b[0m"
