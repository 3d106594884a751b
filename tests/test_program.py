"""The `hitl` process itself (hitl_cli.program): garbage collection held off while it starts, resumed for the work
that makes garbage in volume, and an exit that loses no output and keeps every documented exit code."""

import gc
import json
import subprocess

import pytest

from conftest import hitl, hitl_command, isolated_environment, make_manifest, write_manifests
from hitl_cli import program
from hitl_cli.cli_common import guarded


@pytest.fixture
def held_collection(monkeypatch):
    """The state the command's start-up leaves: collection off, and held by hitl."""
    was_enabled = gc.isenabled()
    monkeypatch.setattr(program, "_collection_held", True)
    gc.disable()
    yield
    gc.unfreeze()
    if was_enabled:
        gc.enable()


def test_every_command_resumes_collection_once_it_starts(held_collection):
    """Every command runs through the fault guard: its own work (deciding, deliver --watch, serve) collects."""
    assert guarded(gc.isenabled)()
    assert gc.get_freeze_count() > 0  # what start-up made is kept out of every collection


def test_hitl_as_a_library_keeps_pythons_collection_as_it_was():
    """resume_collection only undoes what the command did: a library user's own gc.disable() stays."""
    gc.disable()
    try:
        program.resume_collection()
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_a_long_report_through_a_pipe_arrives_whole_before_the_process_ends(opa_bin, tmp_path):
    """The process exits without tearing its modules down (os._exit): everything it wrote must be flushed first."""
    plan = write_manifests(tmp_path, [make_manifest(id=f"w-{n}", type="write", env="dev") for n in range(400)])
    result = hitl("evaluate", plan, "--profile", "default", "--format", "json")
    assert result.returncode == 0, result.stderr
    assert sorted(decision["id"] for decision in json.loads(result.stdout)) == sorted(f"w-{n}" for n in range(400))


@pytest.mark.parametrize(("arguments", "code"), [(["--version"], 0), (["evaluate"], 2), (["no-such-command"], 2)])
def test_exit_codes_survive_the_fast_exit(arguments, code):
    assert hitl(*arguments).returncode == code


@pytest.mark.parametrize("closed", [">&-", "<&-", "2>&-"])
def test_a_command_started_without_a_standard_stream_still_decides_and_exits_with_its_code(opa_bin, tmp_path, closed):
    """`hitl evaluate >&-`: the missing stream's descriptor would be the next pipe hitl opens (the statement
    analyser's), which writing to it would then break; it is /dev/null instead."""
    plan = write_manifests(tmp_path, [make_manifest(id="w-1", type="write", env="production", statement="DROP TABLE t")])
    for command, code in (("evaluate", 0), ("check", 3)):
        ran = subprocess.run(["sh", "-c", f'exec "$@" {closed}', "sh", *hitl_command([command, plan, "--profile", "default"])],
                             capture_output=True, env=isolated_environment(), cwd=tmp_path, text=True, timeout=120)
        assert ran.returncode == code, (command, ran.stderr)
        assert not ran.stderr or "Traceback" not in ran.stderr
