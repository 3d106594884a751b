"""Attacks on the statement analyser `hitl evaluate` forks (hitl_cli.statements.forked), as a hostile agent or
pull-request author would make them: each statement must be decided as the in-process parser (`hitl check`)
decides it, any fault of the child must stop the run (exit 5), and no child may outlive the command."""

import json
import subprocess
import sys

from conftest import hitl, make_manifest

DECIDED = (0, 1, 3)


def _decisions(command: str, plan) -> dict:
    result = hitl(command, plan, "--profile", "default", "--format", "json")
    assert result.returncode in DECIDED, result.stderr
    return {decision["id"]: (decision["tier"], decision["reasons"]) for decision in json.loads(result.stdout)}


def _same_decisions(tmp_path, pairs, name="plan.json") -> dict:
    manifests = [make_manifest(id=f"s-{index}", type="read", env="production", statement=statement, system=system)
                 for index, (statement, system) in enumerate(pairs)]
    plan = tmp_path / name
    plan.write_text(json.dumps(manifests))
    forked, in_process = _decisions("evaluate", plan), _decisions("check", plan)
    assert forked == in_process
    assert len(forked) == len(pairs)
    return forked


UNUSUAL_TEXT = [
    ("SELECT 1\x00; DROP TABLE analytics.customers", "snowflake"),
    ("SELECT 1 \u202e; DROP TABLE t \u202c", "snowflake"),
    ("SELECT 1； DROP TABLE t", "snowflake"),
    ("ﬀ DROP TABLE t", "postgres"),
    ("\ufeffDROP TABLE t", "mysql"),
    ("D\u0301ROP TABLE t", "bigquery"),
    ("SELECT 1\u2028DROP TABLE t", "snowflake"),
    ("SELECT 1\r\x0b\x0c; DROP TABLE t", "tsql"),
    ("SELECT '\U0001f600'; UPDATE t SET x = 1", "snowflake"),
    ("SELECT 'a\\'; UPDATE t SET x = NULL; -- '", "mysql"),
    ("SELECT 1;" * 3000 + "DROP TABLE analytics.customers", "snowflake"),
    ("SELECT '" + "x" * 1_500_000 + "'; DELETE FROM t", "postgres"),
    ("", "snowflake"),
    (" ", None),
]
UNUSUAL_SYSTEMS = ["", " snowflake", "SNOWFLAKE", "ｍｙｓｑｌ", "mysql;", "../../etc/passwd", "x" * 5000,
                   "tsql", "spark", "None", "null"]


def test_unusual_text_is_decided_as_the_in_process_parser_decides_it(opa_bin, tmp_path):
    decided = _same_decisions(tmp_path, UNUSUAL_TEXT)
    changing = [f"s-{index}" for index, (statement, _) in enumerate(UNUSUAL_TEXT) if "DROP" in statement]
    assert changing and all(decided[key][0] != "auto_approve" for key in changing), decided


def test_unusual_systems_are_read_as_the_in_process_parser_reads_them(opa_bin, tmp_path):
    statement = "SELECT 'a\\'; UPDATE t SET x = NULL; -- '"
    _same_decisions(tmp_path, [(statement, system) for system in UNUSUAL_SYSTEMS])


NESTINGS = {
    "parentheses": lambda depth: "SELECT " + "(" * depth + "1" + ")" * depth + " FROM analytics.orders",
    "cases": lambda depth: "SELECT " + "CASE WHEN 1 THEN " * depth + "1" + " END" * depth,
    "calls": lambda depth: "SELECT " + "f(" * depth + "1" + ")" * depth,
}


def test_statements_nested_near_the_parsers_limit_are_decided_as_the_in_process_parser_decides_them(opa_bin,
                                                                                                    tmp_path):
    """sqlglot recurses once or more per level of nesting, so a statement nested deep enough is unparsed
    (RecursionError): where that limit falls must not depend on how deep in its process's stack the parser runs
    (the forked child calls it from near the bottom, the command from under its CLI)."""
    pairs = [(nest(depth), "snowflake") for nest in NESTINGS.values() for depth in range(380, 1000, 12)]
    decided = _same_decisions(tmp_path, pairs)
    tiers = {tier for tier, _ in decided.values()}
    assert "auto_approve" in tiers and len(tiers) > 1  # the sweep crosses the limit


DEEPER_CALLER = """
import json, sys
from hitl_cli.statements import analysis
def deeper(depth, statement):
    return analysis._analysed_json(statement, "snowflake") if depth == 0 else deeper(depth - 1, statement)
for level in range(850, 1000, 3):
    statement = "SELECT " + "f(" * level + "1" + ")" * level
    facts = {deeper(depth, statement) for depth in (0, 40, 300)}
    assert len(facts) == 1, level
    print(json.loads(facts.pop())["statements"][0]["kind"])
"""


def test_the_facts_of_a_deeply_nested_statement_do_not_depend_on_the_callers_depth():
    ran = subprocess.run([sys.executable, "-c", DEEPER_CALLER], capture_output=True, text=True, timeout=120)
    assert ran.returncode == 0, ran.stderr
    assert {"select", "unparsed"} <= set(ran.stdout.split())  # the levels cross the parser's limit


FORKED_AFTER_ANALYSING = """
import os, signal
from hitl_cli.statements.analysis import analysis_json
analysis_json("SELECT 1", "snowflake")
child = os.fork()
if child == 0:
    signal.alarm(20)  # a child left waiting for an analyst that is not there ends anyway
    os._exit(0 if b"delete" in analysis_json("DELETE FROM t", "snowflake") else 1)
_, status = os.waitpid(child, 0)
print(os.waitstatus_to_exitcode(status))
"""


def test_a_process_forked_after_analysing_statements_still_analyses_them():
    """hitl used as a library by a program that forks its workers (multiprocessing's default on Linux)."""
    ran = subprocess.run([sys.executable, "-c", FORKED_AFTER_ANALYSING], capture_output=True, text=True, timeout=10)
    assert ran.stdout.strip() == "0", ran.stderr
