"""`hitl serve`: a long-lived OPA with every profile, used by `--opa-url`, stopped cleanly."""

import json
import signal
import subprocess
import sys
import time

import requests

from conftest import ROOT, hitl
from hitl_cli.engine.server import free_loopback_port


def wait_healthy(url: str, process: subprocess.Popen) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        assert process.poll() is None, process.stderr.read()
        try:
            if requests.get(f"{url}/health", timeout=0.5).status_code == 200:
                return
        except requests.RequestException:
            time.sleep(0.05)
    raise AssertionError("hitl serve never became healthy")


def test_serve_answers_for_every_profile_and_stops_on_sigterm(opa_bin):
    port = free_loopback_port()
    url = f"http://127.0.0.1:{port}"
    server = subprocess.Popen(
        [sys.executable, "-m", "hitl_cli", "serve", "--addr", f"127.0.0.1:{port}"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_healthy(url, server)
        tiers = {}
        for profile in ("default", "startup", "bank"):
            result = hitl(
                "evaluate", ROOT / "examples/manifests", "--profile", profile, "--track-record", ROOT / "examples/track-record.yaml",
                "--format", "json", "--opa-url", url,
            )
            assert result.returncode == 0, result.stderr
            tiers[profile] = {d["id"]: (d["tier"], d["agent_level"]) for d in json.loads(result.stdout)}
        assert tiers["bank"]["act-20261124-0007"] == ("double_approval", "medium")
        # pipeline-agent approved 241 of 260: enough for low under startup, not under bank.
        assert tiers["startup"]["plan-42-step-2"][1] == "low"
        assert tiers["bank"]["plan-42-step-2"][1] == "suggestion"
        assert {t["act-20261124-0031"][0] for t in tiers.values()} == {"block"}
    finally:
        server.send_signal(signal.SIGTERM)
        server.communicate(timeout=30)
    assert server.returncode == 143  # SIGTERM unwinds like Ctrl-C and exits with the documented status
    assert hitl("check", ROOT / "examples/manifests", "--profile", "default", "--opa-url", url).returncode == 5


def test_profile_validate_accepts_the_shipped_profiles():
    result = hitl("profile", "validate", "default", "startup", "bank")
    assert result.returncode == 0, result.stderr
    assert result.stdout.count(": ok (profile ") == 3
