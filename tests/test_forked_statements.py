"""`hitl evaluate` parses statements in a process forked as it starts (hitl_cli.statements.forked). It must decide
exactly as the in-process parser does (`hitl check` uses that one), stop the run when the process fails, and
never outlive the command."""

import json
import os
import subprocess
import sys
import time
import uuid

from conftest import assert_failed_closed, hitl, hitl_process, make_manifest, processes_naming, write_manifests

STATEMENTS = [
    ("SELECT * FROM analytics.orders", "snowflake"),
    ("UPDATE analytics.customers SET email = NULL", "snowflake"),
    ("DR/**/OP TABLE analytics.customers", "postgres"),
    ("ＤＲＯＰ TABLE analytics.customers", "snowflake"),
    ("DR\u200bOP TABLE analytics.customers", "bigquery"),
    ("EXECUTE 'DR' || 'OP TABLE t'", "postgres"),
    ("DO $$ BEGIN EXECUTE chr(68)||'ROP TABLE t'; END $$", "postgres"),
    ("DELETE FROM analytics.staging_x; DROP TABLE analytics.customers", "snowflake"),
    ("MERGE INTO t USING u ON t.id = u.id WHEN MATCHED THEN DELETE", "snowflake"),
    ("COPY t TO PROGRAM 'curl example'", "postgres"),
    ("GRANT ALL ON t TO PUBLIC", "mysql"),
    ("not sql at all ((", None),
    (None, "snowflake"),
]


def _decisions(command: str, plan) -> dict:
    result = hitl(command, plan, "--profile", "default", "--format", "json")
    assert result.returncode in (0, 1, 3), result.stderr
    return {decision["id"]: (decision["tier"], decision["reasons"]) for decision in json.loads(result.stdout)}


def test_evaluate_decides_every_statement_as_the_in_process_parser_does(opa_bin, tmp_path):
    manifests = [make_manifest(id=f"s-{index}", type="read", env="production", statement=statement, system=system)
                 for index, (statement, system) in enumerate(STATEMENTS)]
    plan = tmp_path / "plan.json"
    plan.write_text(json.dumps(manifests))
    forked, in_process = _decisions("evaluate", plan), _decisions("check", plan)
    assert forked == in_process
    assert len(forked) == len(STATEMENTS)
    assert forked["s-1"][0] != "auto_approve" and forked["s-2"][0] != "auto_approve"  # the attacks still count


ANALYSER_KILLED = """
import os, signal, sys
from hitl_cli.errors import EngineError
from hitl_cli.statements import analysis_json, forked
forked.start()
assert analysis_json("SELECT 1", "snowflake").startswith(b"{")
os.kill(forked._analyser.pid, signal.SIGKILL)
os.waitpid(forked._analyser.pid, 0)
try:
    analysis_json("DROP TABLE t", "snowflake")
except EngineError as error:
    print(error)
    sys.exit(5)
print("analysed without its process")
"""


def test_a_statement_is_never_taken_as_analysed_once_the_analyser_is_gone(opa_bin):
    """SIGKILL stands for any end of the child (a crash, the OOM killer): the next statement stops the run."""
    ran = subprocess.run([sys.executable, "-c", ANALYSER_KILLED], capture_output=True, text=True, timeout=120)
    assert ran.returncode == 5, ran.stdout + ran.stderr
    assert "statement analysis stopped" in ran.stdout


def test_the_analyser_never_outlives_the_command(opa_bin, tmp_path):
    """The child is a fork: it carries the command's own command line, which names a folder no other run has."""
    folder = tmp_path / f"plan-{uuid.uuid4().hex}"
    folder.mkdir()
    plan = write_manifests(folder, [make_manifest(statement="SELECT 1")])
    running = hitl_process("evaluate", plan, "--profile", "default", cwd=tmp_path)
    _, stderr = running.communicate(timeout=120)
    assert running.returncode == 0, stderr
    deadline = time.monotonic() + 10
    while (left := processes_naming(str(folder))) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert left == []


def test_evaluate_fails_closed_when_the_analyser_cannot_start_its_parser(opa_bin, tmp_path):
    """The child imports sqlglot after the fork; with it unimportable, the run stops as with any engine fault."""
    shadow = tmp_path / "shadow"
    (shadow / "sqlglot").mkdir(parents=True)
    (shadow / "sqlglot" / "__init__.py").write_text("raise ImportError('no parser here')\n")
    plan = write_manifests(tmp_path, [make_manifest(statement="SELECT 1")])
    result = hitl("evaluate", plan, "--profile", "default", env={"PYTHONPATH": f"{shadow}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"})
    assert_failed_closed(result, "statement analysis stopped")


def test_a_file_with_more_statements_than_a_pipe_holds_is_decided_whole(opa_bin, tmp_path):
    """Every statement of a file is sent to the analyser as soon as the file is read; were the command to wait
    writing them while the analyser waits for its answers to be read, neither would ever go on."""
    padding = "x" * 200
    manifests = [make_manifest(id=f"m-{index}", statement=f"SELECT '{padding}' FROM analytics.orders_{index}",
                               system="snowflake") for index in range(700)]
    plan = tmp_path / "plan.json"
    plan.write_text(json.dumps(manifests))
    assert len(plan.read_bytes()) > 4 * 65536
    decided = _decisions("evaluate", plan)
    assert sorted(decided) == sorted(f"m-{index}" for index in range(700))
