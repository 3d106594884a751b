"""The `hitl` process ends with os._exit once its output is flushed (hitl_cli.program): no interpreter teardown, no
atexit handlers, no finalizers. An attack on that looks for what teardown used to do and now nobody does: a
report file cut short, a temporary folder left in $TMPDIR, a local OPA left running, a stop signal that loses
its exit code. Real CLI, real OPA; each run gets a $TMPDIR of its own, so what it leaves there is its own.
"""

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from conftest import default_sigint, hitl, hitl_process, make_manifest, write_manifests

MANIFESTS = 600


def opa_processes_under(folder: Path, servers_only: bool = False) -> list[int]:
    """The OPA processes whose command line or environment names this run's $TMPDIR (only the run's own); only
    `opa run`, not the short-lived `opa version` beside it, when servers_only."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            command = (entry / "cmdline").read_bytes()
            environment = (entry / "environ").read_bytes()
        except OSError:
            continue
        arguments = command.split(b"\0")
        if servers_only and arguments[1:2] != [b"run"]:
            continue
        if b"opa" in arguments[0] and (str(folder).encode() in command or str(folder).encode() in environment):
            found.append(int(entry.name))
    return found


@pytest.fixture
def run_tmp(tmp_path) -> Path:
    folder = tmp_path / "tmpdir"
    folder.mkdir()
    return folder


@pytest.fixture
def big_plan(tmp_path) -> Path:
    return write_manifests(tmp_path, [make_manifest(id=f"w-{n}", type="write", env="production") for n in range(MANIFESTS)])


@pytest.mark.attack
def test_every_report_file_is_whole_and_nothing_is_left_behind(opa_bin, tmp_path, run_tmp, big_plan):
    output, sarif, junit = tmp_path / "out.json", tmp_path / "out.sarif", tmp_path / "out.xml"
    result = hitl("check", big_plan, "--profile", "default", "--format", "json", "--output", output,
                  "--report", f"sarif={sarif}", "--report", f"junit={junit}", env={"TMPDIR": str(run_tmp)})
    assert result.returncode == 1, result.stderr  # production writes wait for people
    assert len(json.loads(output.read_text())) == MANIFESTS
    assert len(json.loads(sarif.read_text())["runs"][0]["results"]) >= MANIFESTS
    assert junit.read_text().rstrip().endswith("</testsuites>")
    assert list(run_tmp.iterdir()) == []  # OPA's folders (hitl-*, hitl-access-*) are removed before the exit
    assert opa_processes_under(run_tmp) == []


@pytest.mark.attack
@pytest.mark.parametrize(("signum", "code"), [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_a_stop_signal_mid_run_stops_opa_cleans_up_and_keeps_its_exit_code(opa_bin, tmp_path, run_tmp, big_plan,
                                                                          signum, code):
    plans = [big_plan]
    for n in range(10):
        (tmp_path / f"more-{n}").mkdir()
        plans.append(write_manifests(tmp_path / f"more-{n}", [make_manifest(id=f"m-{n}-{k}") for k in range(300)]))
    process = hitl_process("evaluate", *plans, "--profile", "default", "--format", "json",
                           env={"TMPDIR": str(run_tmp)}, cwd=tmp_path, preexec_fn=default_sigint)
    deadline = time.monotonic() + 60
    while not (started := opa_processes_under(run_tmp, servers_only=True)) and process.poll() is None \
            and time.monotonic() < deadline:
        time.sleep(0.02)
    process.send_signal(signum)
    stdout, stderr = process.communicate(timeout=60)
    assert started, f"OPA never started (exit {process.returncode}): {stderr[-300:]}"
    assert process.returncode == code, stderr
    assert "Traceback" not in stderr
    assert opa_processes_under(run_tmp) == [] and not any(Path(f"/proc/{pid}").exists() for pid in started)
    assert list(run_tmp.iterdir()) == []


@pytest.mark.attack
@pytest.mark.parametrize("library", ["pydantic_core"])
def test_ctrl_c_while_hitl_starts_is_one_line_and_exit_130(opa_bin, tmp_path, library):
    """Start-up (importing hitl) is most of a short run: Ctrl-C there came before any fault guard, and Python
    printed a KeyboardInterrupt traceback and died of the signal. The signal is sent once hitl's imports have
    loaded the library (a native module, seen in the process's memory map): Python itself has started by then.
    (A library loaded later in the imports, such as jsonschema_rs, leaves too little time on a loaded machine: the
    signal can land once click parses the arguments, which answers it with `Aborted!` and exit 1.)"""
    plan = write_manifests(tmp_path, [make_manifest()])
    process = hitl_process("evaluate", plan, "--profile", "default", cwd=tmp_path, preexec_fn=default_sigint)
    maps = Path(f"/proc/{process.pid}/maps")
    deadline = time.monotonic() + 60
    while process.poll() is None and library not in maps.read_text() and time.monotonic() < deadline:
        time.sleep(0.001)
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 130, stderr
    assert stderr == "hitl: interrupted; nothing was decided\n"


@pytest.mark.attack
def test_serve_stopped_by_sigterm_stops_its_opa_and_leaves_nothing_in_tmpdir(opa_bin, tmp_path, run_tmp, monkeypatch):
    from served_hitl import Service

    monkeypatch.setenv("TMPDIR", str(run_tmp))
    service = Service(tmp_path / "serve")
    try:
        answer = service.call("POST", "/v1/decisions", json={"manifests": [make_manifest()]})
        assert answer.status_code == 200, answer.text
        running = opa_processes_under(run_tmp)
    finally:
        stderr = service.stop()
    assert running, "the service's OPA was not found under its TMPDIR"
    assert service.process.returncode == 143, stderr
    assert "Traceback" not in stderr
    assert opa_processes_under(run_tmp) == [] and not any(Path(f"/proc/{pid}").exists() for pid in running)
    assert list(run_tmp.iterdir()) == []
