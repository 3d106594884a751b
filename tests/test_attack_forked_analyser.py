"""Attacks on the statement analyser `hitl evaluate` forks (hitl_cli.statements.forked), as a hostile agent or
pull-request author would make them: each statement must be decided as the in-process parser (`hitl check`)
decides it, any fault of the child must stop the run (exit 5), and no child may outlive the command."""

import json
import os
import resource
import signal
import subprocess
import sys
import time
import uuid

import pytest
from conftest import (assert_failed_closed, default_sigint, hitl, hitl_process, isolated_environment, make_manifest,
                      cpu_seconds, processes_naming, write_manifests)
from hitl_cli.statements.analysis import _NESTING_DEPTH

DECIDED = (0, 1, 3)


def _decisions(command: str, plan, env: dict | None = None) -> dict:
    result = hitl(command, plan, "--profile", "default", "--format", "json", env=env)
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
    "negations": lambda depth: "SELECT " + "NOT " * depth + "1 FROM analytics.orders",  # not counted by hitl
}


def test_statements_nested_near_the_parsers_limit_are_decided_as_the_in_process_parser_decides_them(opa_bin,
                                                                                                    tmp_path):
    """sqlglot recurses once or more per level of nesting, so a statement nested deep enough is unparsed: past
    hitl's budget (brackets, CASE), or at sqlglot's RecursionError (a chain of NOTs): where that limit falls must
    not depend on how deep in its process's stack the parser runs (the forked child calls it from near the
    bottom, the command from under its CLI)."""
    pairs = [(nest(depth), "snowflake") for nest in NESTINGS.values() for depth in range(92, 1000, 18)]
    decided = _same_decisions(tmp_path, pairs)
    tiers = {tier for tier, _ in decided.values()}
    assert "auto_approve" in tiers and len(tiers) > 1  # the sweep crosses the limit


DEEPER_CALLER = """
import json, sys
from hitl_cli.statements import analysis
def deeper(depth, statement):
    return analysis._analysed_json(statement, "snowflake").result() if depth == 0 else deeper(depth - 1, statement)
for level in range(440, 560, 3):  # a chain of NOTs, which sqlglot stops with a RecursionError near 500
    statement = "SELECT " + "NOT " * level + "1"
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


# Analysed in some seconds (hundreds of thousands of characters read in four SQL families): long enough for a
# signal to find the child busy with it, the command waiting for its answer.
SLOW = "SELECT `a` FROM analytics.orders WHERE x = 1;" * 20_000


def _busy_run(tmp_path, *options: str, **popen):
    """`hitl evaluate` of a plan with SLOW (and these options), in a folder only it names, once its forked child is
    parsing SLOW: (the command, the child's pid, the folder)."""
    folder = tmp_path / f"plan-{uuid.uuid4().hex}"
    folder.mkdir()
    plan = write_manifests(folder, [make_manifest(type="read", env="production", statement=SLOW, system="mysql")])
    running = hitl_process("evaluate", plan, "--profile", "default", *options, cwd=tmp_path, **popen)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        children = [pid for pid in processes_naming(str(folder)) if pid != running.pid]
        if children and cpu_seconds(children[0]) > 0.5:  # importing sqlglot takes less
            return running, children[0], folder
        time.sleep(0.05)
    running.kill()
    raise AssertionError("the analyser never started on the statement")


def _gone_soon(folder, seconds: float = 2.0) -> list[int]:
    deadline = time.monotonic() + seconds
    while (left := processes_naming(str(folder))) and time.monotonic() < deadline:
        time.sleep(0.05)
    return left


def test_sigterm_while_a_statement_is_parsed_ends_the_command_and_its_analyser(opa_bin, tmp_path):
    running, _, folder = _busy_run(tmp_path)
    running.send_signal(signal.SIGTERM)
    stdout, _ = running.communicate(timeout=30)
    assert running.returncode == 143
    assert "auto_approve" not in stdout
    assert _gone_soon(folder) == []


def test_ctrl_c_while_a_statement_is_parsed_ends_the_command_and_its_analyser(opa_bin, tmp_path):
    """Ctrl-C reaches the whole process group; the child ignores it and leaves the command to answer it."""
    running, _, folder = _busy_run(tmp_path, start_new_session=True, preexec_fn=default_sigint)
    os.killpg(running.pid, signal.SIGINT)
    stdout, _ = running.communicate(timeout=30)
    assert running.returncode == 130
    assert "auto_approve" not in stdout
    assert _gone_soon(folder) == []


def test_the_analyser_does_not_outlive_a_command_killed_outright(opa_bin, tmp_path):
    running, _, folder = _busy_run(tmp_path)
    running.kill()
    running.communicate(timeout=30)
    assert _gone_soon(folder) == []


def test_the_analyser_killed_while_parsing_stops_the_run(opa_bin, tmp_path):
    running, child, folder = _busy_run(tmp_path)
    os.kill(child, signal.SIGKILL)
    stdout, stderr = running.communicate(timeout=30)
    assert_failed_closed(subprocess.CompletedProcess([], running.returncode, stdout, stderr),
                         "statement analysis stopped")
    assert _gone_soon(folder) == []


def test_a_stopped_analyser_goes_with_the_command(opa_bin, tmp_path):
    """SIGSTOP of the child leaves the command waiting for its answer (as a parse that never ends would, in any
    process); whatever then ends the command ends the stopped child too."""
    running, child, folder = _busy_run(tmp_path)
    os.kill(child, signal.SIGSTOP)
    try:
        running.send_signal(signal.SIGTERM)
        stdout, _ = running.communicate(timeout=30)
        assert running.returncode == 143 and "auto_approve" not in stdout
        assert _gone_soon(folder) == []
    finally:
        if processes_naming(str(folder)):
            os.kill(child, signal.SIGKILL)


def test_a_stopped_analyser_stops_the_run_once_the_statement_timeout_passes(opa_bin, tmp_path):
    """Attack: SIGSTOP the forked child (as a parse that never ends would hold it), hoping the command waits forever or
    decides without the statement's facts. Once --statement-timeout passes, the run stops: exit 5, one line, nothing
    decided; the child goes with it."""
    running, child, folder = _busy_run(tmp_path, "--statement-timeout", "2")
    os.kill(child, signal.SIGSTOP)
    try:
        stdout, stderr = running.communicate(timeout=60)
        assert_failed_closed(subprocess.CompletedProcess([], running.returncode, stdout, stderr),
                             "statement analysis took longer than 2s")
        assert _gone_soon(folder) == []
    finally:
        if processes_naming(str(folder)):
            os.kill(child, signal.SIGKILL)


def test_a_statement_past_the_timeout_stops_the_run(opa_bin, tmp_path):
    """A statement the child takes longer over than --statement-timeout: exit 5, one line, nothing decided."""
    plan = write_manifests(tmp_path, [make_manifest(type="read", env="production", statement=SLOW, system="mysql")])
    result = hitl("evaluate", plan, "--profile", "default", "--statement-timeout", "0.2", cwd=tmp_path)
    assert_failed_closed(result, "statement analysis took longer than 0.2s")


NO_PROCESS_TO_SPARE = """
import errno, os, sys
def fork():
    raise BlockingIOError(errno.EAGAIN, "Resource temporarily unavailable")  # RLIMIT_NPROC reached
os.fork = fork
from hitl_cli.program import main
sys.argv = ["hitl", *sys.argv[1:]]
main()
"""


def test_without_a_process_to_spare_evaluate_analyses_statements_itself(opa_bin, tmp_path):
    """A fork that fails (RLIMIT_NPROC, which does not bind root, so it is made to fail here) leaves the command
    to parse statements itself, as every other command does: the same facts, the same decisions."""
    manifests = [make_manifest(id=f"s-{index}", type="read", env="production", statement=statement, system=system)
                 for index, (statement, system) in enumerate(UNUSUAL_TEXT[:11])]
    plan = tmp_path / "plan.json"
    plan.write_text(json.dumps(manifests))
    ran = subprocess.run([sys.executable, "-c", NO_PROCESS_TO_SPARE, "evaluate", str(plan), "--profile", "default",
                          "--format", "json"], capture_output=True, text=True, timeout=120, cwd=tmp_path,
                         env=isolated_environment())
    assert ran.returncode == 0, ran.stderr
    decided = {decision["id"]: (decision["tier"], decision["reasons"]) for decision in json.loads(ran.stdout)}
    assert decided == _decisions("check", plan)


def test_without_descriptors_to_spare_evaluate_fails_as_any_command_does(opa_bin, tmp_path):
    """With hardly a descriptor left (ulimit -n 5), the analyser's pipes cannot be made: the command goes on
    without it, until something it cannot do without fails (exit 5), as `hitl check` does. (Threads importing
    modules in the background may also print their own failure: they do so in `hitl check` too.)"""
    plan = write_manifests(tmp_path, [make_manifest(statement="DROP TABLE t", env="production")])
    running = hitl_process("evaluate", plan, "--profile", "default", cwd=tmp_path,
                           preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_NOFILE, (5, 5)))
    stdout, stderr = running.communicate(timeout=60)
    assert running.returncode == 5, stderr
    assert "Too many open files" in stderr and "forked.py" not in stderr
    assert "MAY RUN" not in stdout


@pytest.mark.parametrize("forked_env, in_process_env", [
    ({"PYTHONWARNINGS": "error"}, {"PYTHONWARNINGS": "error"}),
    ({"PYTHONDEVMODE": "1"}, {}),
    ({"PYTHONHASHSEED": "1"}, {"PYTHONHASHSEED": "2"}),
])
def test_python_settings_change_no_decision(opa_bin, tmp_path, forked_env, in_process_env):
    manifests = [make_manifest(id=f"s-{index}", type="read", env="production", statement=statement, system=system)
                 for index, (statement, system) in enumerate(UNUSUAL_TEXT[:11])]
    plan = tmp_path / "plan.json"
    plan.write_text(json.dumps(manifests))
    assert _decisions("evaluate", plan, forked_env) == _decisions("check", plan, in_process_env)


# One text, different facts by the system it is read for (MySQL reads it as one SELECT, others also as an UPDATE).
AMBIGUOUS = "SELECT 'a\\'; UPDATE analytics.customers SET email = NULL; -- '"
POOL = [(AMBIGUOUS, "mysql"), (AMBIGUOUS, "postgres"), (AMBIGUOUS, None), ("SELECT 1", "mysql"),
        ("DROP TABLE analytics.customers", "snowflake"), ("SELECT * FROM analytics.orders", "snowflake"),
        ("DELETE FROM analytics.orders", "postgres"), (None, "mysql")]


def test_statements_repeated_across_files_and_systems_each_get_their_own_facts(opa_bin, tmp_path):
    """The command sends each file's statements as soon as it is read and keeps answers it has not used yet: a
    folder of YAML and JSON files repeating the same texts for different systems, in an order that differs from
    file to file, with invalid documents between them, must be decided manifest by manifest as `check` decides."""
    folder = tmp_path / "plans"
    folder.mkdir()
    drawn = {}  # id: its place in POOL
    for number in range(24):
        manifests = []
        for index in range(9):
            drawn[f"f{number}-m{index}"] = place = (number + index * 3) % len(POOL)
            statement, system = POOL[place]
            manifests.append(make_manifest(id=f"f{number}-m{index}", type="read", env="production",
                                           statement=statement, system=system))
        manifests.insert(number % 9, {"apiVersion": "hitl/v1", "kind": "ActionManifest", "invalid": True})
        write_manifests(folder, manifests, name=f"plan-{number:02}.{'json' if number % 2 else 'yaml'}")
    run = hitl("evaluate", folder, "--profile", "default", "--format", "json")
    checked = hitl("check", folder, "--profile", "default", "--format", "json")
    assert run.returncode == checked.returncode == 4, run.stderr  # the invalid documents
    assert run.stdout == checked.stdout
    reasons = {decision["id"]: decision["reasons"] for decision in json.loads(run.stdout)}
    assert sorted(reasons) == sorted(drawn)
    by_place = {place: [reasons[key] for key in drawn if drawn[key] == place] for place in range(len(POOL))}
    assert by_place[0][0] != by_place[1][0]  # AMBIGUOUS has different facts for mysql and postgres


def test_the_analyser_holds_none_of_the_commands_output(opa_bin, tmp_path):
    """Its standard streams are /dev/null: a reader of the command's output or errors (a pipe) sees their end when
    the command ends, not when its child does; what else it holds are its two pipes."""
    running, child, folder = _busy_run(tmp_path)
    try:
        held = {int(fd): os.readlink(f"/proc/{child}/fd/{fd}") for fd in os.listdir(f"/proc/{child}/fd")}
    finally:
        running.kill()
        running.communicate(timeout=30)
    assert all(held[standard] == os.devnull for standard in (0, 1, 2)), held
    others = [target for fd, target in held.items() if fd > 2 and target != os.devnull]
    assert len(others) == 2 and all(target.startswith("pipe:") for target in others), held
    assert _gone_soon(folder) == []


def test_a_closed_output_ends_the_command_and_its_analyser(opa_bin, tmp_path):
    folder = tmp_path / f"plan-{uuid.uuid4().hex}"
    folder.mkdir()
    plan = write_manifests(folder, [make_manifest(id=f"m-{index}", statement=f"SELECT {index} FROM t")
                                    for index in range(300)])
    running = hitl_process("evaluate", plan, "--profile", "default", cwd=tmp_path)
    running.stdout.close()
    running.wait(timeout=60)
    assert running.returncode == 128 + signal.SIGPIPE, running.stderr.read()
    assert _gone_soon(folder) == []


def _nested_subqueries(depth: int) -> str:
    return "SELECT * FROM " + "(SELECT * FROM " * depth + "analytics.orders" + ")" * depth


@pytest.mark.parametrize("stack", [resource.RLIM_INFINITY, 1024 * 1024])
def test_how_deep_a_statement_parses_does_not_depend_on_ulimit_s(opa_bin, tmp_path, stack):
    """sqlglot's compiled parser recurses on the C stack without counting against Python's recursion limit: a
    thread's stack is what `ulimit -s` says (2 MiB when unlimited), so statements are analysed on a thread with a
    stack of its own size, in the forked analyser and in the command alike. Nested as deep as hitl parses:"""
    deepest = _nested_subqueries(_NESTING_DEPTH - 1)
    plan = write_manifests(tmp_path, [make_manifest(type="read", env="production", statement=deepest,
                                                    system="snowflake")], name="plan.json")
    limited = {"preexec_fn": lambda: resource.setrlimit(resource.RLIMIT_STACK, (stack, stack))}
    for command in ("evaluate", "check"):
        running = hitl_process(command, plan, "--profile", "default", "--format", "json", cwd=tmp_path, **limited)
        stdout, stderr = running.communicate(timeout=60)
        assert running.returncode in DECIDED, (command, running.returncode, stderr)
        assert json.loads(stdout)[0]["tier"] == "auto_approve"  # a read, parsed whole


def test_a_statement_nested_deep_enough_to_crash_the_parser_is_decided_without_being_parsed(opa_bin, tmp_path):
    """Nested deep enough (some 15,000 subqueries), sqlglot's compiled parser overflowed its stack and the
    process parsing died (the forked analyser stopped the run, exit 5; `hitl check` died of SIGSEGV). Past hitl's
    nesting budget it is not parsed: both decide it unanalysable."""
    decided = _same_decisions(tmp_path, [(_nested_subqueries(40_000), "snowflake")])
    assert decided["s-0"][0] == "escalate"


@pytest.mark.parametrize("arguments, code", [
    (["--profile", "no-such-profile"], 2),
    (["--no-such-option"], 2),
    (["--profile", "default", "--format", "json"], 4),
])
def test_no_analyser_is_left_after_a_command_that_fails(opa_bin, tmp_path, arguments, code):
    folder = tmp_path / f"plan-{uuid.uuid4().hex}"
    folder.mkdir()
    plan = write_manifests(folder, [make_manifest(statement="SELECT 1"), {"apiVersion": "hitl/v1", "bad": True}])
    running = hitl_process("evaluate", plan, *arguments, cwd=tmp_path)
    _, stderr = running.communicate(timeout=60)
    assert running.returncode == code, stderr
    assert _gone_soon(folder) == []
