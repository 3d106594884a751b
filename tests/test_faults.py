"""Fail closed: every engine fault exits 5, names what failed, and reports nothing as auto-approved."""

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import (
    TRUSTED_RECORD, assert_failed_closed, default_sigint, hitl, hitl_process, make_manifest, processes_naming,
    standalone_profile_text, write_manifests, write_yaml,
)
from fault_proxy import FaultProxy
from hitl_cli.engine.binary import find_opa
from hitl_cli.errors import EngineError

# Reads only, so that every one of them would be auto-approved if hitl failed open.
READS = [make_manifest(id=f"read-{n}", type="read") for n in range(30)]


@pytest.fixture
def plan(tmp_path):
    return write_manifests(tmp_path, READS, "plan.json")


@pytest.mark.parametrize("command", ["evaluate", "check"])
def test_missing_opa_binary(plan, tmp_path, command):
    result = hitl(command, plan, "--profile", "default", env={"HITL_OPA_BIN": str(tmp_path / "no-opa")})
    assert_failed_closed(result, "OPA not found")
    assert "make setup" in result.stderr


def test_find_opa_reports_how_to_install_when_nothing_is_found(monkeypatch, tmp_path):
    monkeypatch.delenv("HITL_OPA_BIN", raising=False)
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setattr("hitl_cli.paths.tools_bin_dir", lambda: tmp_path / "empty")
    with pytest.raises(EngineError, match="OPA not found.*make setup"):
        find_opa()


def test_find_opa_prefers_hitl_opa_bin_then_tools_then_path(monkeypatch, tmp_path, opa_bin):
    tools = tmp_path / "tools"
    tools.mkdir()
    (tools / "opa").symlink_to(opa_bin)
    on_path = tmp_path / "path"
    on_path.mkdir()
    (on_path / "opa").symlink_to(opa_bin)
    monkeypatch.setattr("hitl_cli.paths.tools_bin_dir", lambda: tools)
    monkeypatch.setenv("PATH", str(on_path))
    monkeypatch.setenv("HITL_OPA_BIN", str(opa_bin))
    assert find_opa() == opa_bin
    monkeypatch.delenv("HITL_OPA_BIN")
    assert find_opa() == tools / "opa"
    (tools / "opa").unlink()
    assert find_opa() == on_path / "opa"


def test_unreachable_opa_url(plan):
    from hitl_cli.engine.server import free_loopback_port

    result = hitl("check", plan, "--profile", "default", "--opa-url", f"http://127.0.0.1:{free_loopback_port()}")
    assert_failed_closed(result, "unreachable")


def test_opa_killed_during_a_batch(plan, real_opa):
    url, pid = real_opa
    # Batches of 10: the first is answered, OPA is SIGKILLed while the second is in flight.
    with FaultProxy(url, pid, "kill", on_post=2) as proxy:
        env = {"HITL_OPA_BATCH_SIZE": "10", "HITL_OPA_REQUESTS": "1"}  # one at a time: none sent after the failure
        result = hitl("check", plan, "--profile", "default", "--opa-url", proxy.url, env=env)
    assert proxy.posts_seen == 2
    assert_failed_closed(result, "OPA")
    assert result.stdout == ""


def test_opa_stalled_past_the_timeout(plan, real_opa):
    url, _ = real_opa
    with FaultProxy(url, None, "stall") as proxy:
        result = hitl("check", plan, "--profile", "default", "--opa-url", proxy.url, env={"HITL_OPA_TIMEOUT": "1"})
    assert_failed_closed(result, "did not answer")


@pytest.mark.parametrize(("fault", "needle"), [("garbage", "unusable answer"), ("malformed", "returned 1 decisions for 30 manifests")])
def test_opa_answering_nonsense(plan, real_opa, fault, needle):
    url, _ = real_opa
    with FaultProxy(url, None, fault) as proxy:
        result = hitl("check", plan, "--profile", "default", "--opa-url", proxy.url)
    assert_failed_closed(result, needle)


def test_profile_missing_on_the_server(plan, real_opa, tmp_path):
    url, _ = real_opa
    profile = tmp_path / "other.yaml"
    profile.write_text(standalone_profile_text("default").replace("name: default", "name: other"))
    result = hitl("check", plan, "--profile", profile, "--opa-url", url)
    assert_failed_closed(result, "profile 'other' is not loaded in OPA")


def test_decisions_from_a_running_server_match_the_embedded_ones(plan, real_opa):
    url, _ = real_opa
    remote = hitl("evaluate", plan, "--profile", "bank", "--format", "json", env={"HITL_OPA_URL": url})
    local = hitl("evaluate", plan, "--profile", "bank", "--format", "json")
    assert remote.returncode == local.returncode == 0
    assert remote.stdout == local.stdout


def policy_dir(tmp_path: Path, main_rego: str) -> Path:
    folder = tmp_path / "rego"
    folder.mkdir()
    (folder / "main.rego").write_text(main_rego)
    return folder


@pytest.mark.parametrize(
    ("main_rego", "needle"),
    [
        ("package hitl.main\n\nversion := 1\n", "undefined"),
        ("package hitl.main\n\ndecisions := input.manifests if true\n\ndecisions := [] if true\n", "OPA failed evaluating"),
        ("package hitl.main\n\ndecisions := [m.metadata.id | some m in input.manifests]\n", "malformed decision"),
        ("package hitl.main\n\ndecisions := \n", "OPA exited during start-up"),
    ],
    ids=["undefined", "policy-error", "wrong-shape", "does-not-compile"],
)
def test_broken_policies_fail_closed(opa_bin, plan, tmp_path, main_rego, needle):
    result = hitl("check", plan, "--profile", "default", env={"HITL_REGO_DIR": str(policy_dir(tmp_path, main_rego))})
    assert_failed_closed(result, needle)


def spawn_hitl(args, tmpdir: Path, env=None) -> subprocess.Popen:
    return hitl_process(*args, env={"TMPDIR": str(tmpdir), **(env or {})}, cwd=tmpdir.parent,
                        preexec_fn=default_sigint)


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_the_local_opa_is_stopped_when_hitl_is_interrupted(opa_bin, plan, tmp_path, signum):
    tmpdir = tmp_path / "tmp"
    tmpdir.mkdir()
    # FAULT INJECTION: an "OPA" that never becomes healthy keeps hitl waiting, so the signal lands mid-run.
    hanging = tmp_path / "hanging-opa"
    hanging.write_text(f"#!{sys.executable}\nimport time\ntime.sleep(300)\n")
    hanging.chmod(0o755)
    process = spawn_hitl(["check", plan, "--profile", "default"], tmpdir, {"HITL_OPA_BIN": str(hanging)})
    deadline = time.monotonic() + 30
    while not processes_naming(str(hanging)) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert processes_naming(str(hanging)), "the stand-in OPA never started"
    process.send_signal(signum)
    out, err = process.communicate(timeout=30)
    assert process.returncode == (130 if signum == signal.SIGINT else 128 + signum)
    assert out == ""
    assert err == ("hitl: interrupted; nothing was decided\n" if signum == signal.SIGINT
                   else "hitl: stopped by SIGTERM; nothing was decided\n")
    assert processes_naming(str(hanging)) == []


def test_no_opa_outlives_a_run(opa_bin, plan, tmp_path):
    tmpdir = tmp_path / "tmp"
    tmpdir.mkdir()
    record = write_yaml(tmp_path / "record.yaml", TRUSTED_RECORD)
    process = spawn_hitl(["check", plan, "--profile", "default", "--track-record", record], tmpdir)
    process.communicate(timeout=60)
    assert process.returncode == 0
    assert processes_naming(str(tmpdir)) == []
