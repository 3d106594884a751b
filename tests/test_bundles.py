"""Signed OPA bundles for a fleet: built by `hitl bundle build`, pulled by a real OPA from an HTTP bundle
server with the shipped deploy/opa-bundle-config.yaml, giving the same decisions as the embedded OPA - and a
tampered bundle, or a bundle checked with the wrong key, is refused and hitl fails closed."""

import functools
import io
import json
import os
import signal
import subprocess
import tarfile
import threading
import time
from dataclasses import dataclass
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import requests
import yaml

from conftest import ROOT, hitl, hitl_command, wait_until_healthy
from installed_package import key_pair
from hitl_cli.engine.server import free_loopback_port

NOW = "2026-06-01T12:00:00Z"
DEADLINE_SECONDS = 60  # generous: only a broken setup ever waits this long
EVALUATE = ("evaluate", ROOT / "examples/manifests", "--track-record", ROOT / "examples/track-record.yaml", "--format", "json")


def members(bundle: Path) -> dict[str, bytes]:
    with tarfile.open(bundle, "r:gz") as archive:
        return {m.name.lstrip("/"): archive.extractfile(m).read() for m in archive.getmembers() if m.isfile()}


def tampered_copy(bundle: Path, target: Path) -> Path:
    """The bundle with one value of its data changed (bank's budget raised), re-packed and re-gzipped."""
    files = members(bundle)
    data = json.loads(files["data.json"])
    data["hitl"]["profiles"]["bank"]["budget"]["per_action_usd"] = 10**9
    files["data.json"] = json.dumps(data).encode()
    with tarfile.open(target, "w:gz") as archive:
        for name, content in files.items():
            info = tarfile.TarInfo(f"/{name}")
            info.size = len(content)
            archive.addfile(info, io.BytesIO(content))
    return target


def decisions(opa_url: str | None = None, profiles=("default", "startup", "bank")) -> dict[str, list]:
    found = {}
    for profile in profiles:
        args = EVALUATE + ("--profile", profile) + (("--opa-url", opa_url) if opa_url else ())
        result = hitl(*args, now=NOW)
        assert result.returncode == 0, result.stderr
        found[profile] = json.loads(result.stdout)
    return found


class QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format, *args):
        pass


class QuietServer(ThreadingHTTPServer):
    def handle_error(self, request, client_address):
        pass  # OPA hanging up on a refused bundle is no error of the server's


@pytest.fixture(scope="module")
def keys(tmp_path_factory):
    folder = tmp_path_factory.mktemp("keys")
    return key_pair(folder, "signer"), key_pair(folder, "stranger")


@pytest.fixture(scope="module")
def signed_bundle(keys, tmp_path_factory) -> Path:
    (private, _), _ = keys
    bundle = tmp_path_factory.mktemp("bundle") / "hitl.tar.gz"
    result = hitl("bundle", "build", "--all", "-o", bundle, "--signing-key", private, "--signing-alg", "RS256")
    assert result.returncode == 0, result.stderr
    assert "signed RS256" in result.stdout
    return bundle


@dataclass(frozen=True)
class BundleServer:
    url: str
    root: Path  # what it publishes


@pytest.fixture(scope="module")
def bundle_server(signed_bundle, tmp_path_factory):
    """A plain HTTP bundle server on loopback: /hitl.tar.gz as built, /tampered.tar.gz changed after signing."""
    root = tmp_path_factory.mktemp("bundle-server")
    (root / "hitl.tar.gz").write_bytes(signed_bundle.read_bytes())
    tampered_copy(signed_bundle, root / "tampered.tar.gz")
    server = QuietServer(("127.0.0.1", 0), functools.partial(QuietHandler, directory=str(root)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield BundleServer(f"http://127.0.0.1:{server.server_address[1]}", root)
    server.shutdown()
    server.server_close()


class FleetReplica:
    """A real OPA configured as a fleet replica: deploy/opa-bundle-config.yaml, as the README runs it."""

    def __init__(self, opa_bin: Path, server: str, resource: str, public_key: Path, log: Path):
        self.url = f"http://127.0.0.1:{free_loopback_port()}"
        self.log = log.open("wb")
        self.process = subprocess.Popen(
            [
                str(opa_bin), "run", "--server", "--addr", self.url.removeprefix("http://"),
                "--config-file", str(ROOT / "deploy" / "opa-bundle-config.yaml"),
                "--set-file", f"keys.hitl-bundle-signer.key={public_key}",
            ],
            env={**os.environ, "HITL_BUNDLE_SERVER": server, "HITL_BUNDLE_RESOURCE": resource},
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )

    def wait_for(self, condition, what: str):
        deadline = time.monotonic() + DEADLINE_SECONDS
        while time.monotonic() < deadline:
            assert self.process.poll() is None, f"OPA exited: {self.log.name}"
            try:
                found = condition()
            except requests.RequestException:
                found = None
            if found:
                return found
            time.sleep(0.05)
        raise AssertionError(f"OPA never reported {what} (log: {self.log.name})")

    def bundles_healthy(self) -> bool:
        return requests.get(f"{self.url}/health?bundles", timeout=2).status_code == 200

    def bundle_status(self) -> dict | None:
        answer = requests.get(f"{self.url}/v1/status", timeout=2)
        status = answer.json().get("result", {}).get("bundles", {}).get("hitl") if answer.status_code == 200 else None
        return status if status and status.get("code") else None

    def stop(self):
        self.process.terminate()
        self.process.wait(timeout=30)
        self.log.close()


@pytest.fixture
def replica(opa_bin, bundle_server, tmp_path):
    started = []

    def start(resource: str, public_key: Path) -> FleetReplica:
        log = tmp_path / f"opa-{len(started)}.log"
        started.append(FleetReplica(opa_bin, bundle_server.url, resource, public_key, log))
        return started[-1]

    yield start
    for each in started:
        each.stop()


def test_a_replica_pulls_the_signed_bundle_and_decides_like_the_embedded_opa(keys, replica, tmp_path):
    (_, public), _ = keys
    fleet = replica("hitl.tar.gz", public)
    fleet.wait_for(fleet.bundles_healthy, "an active bundle")
    assert decisions(fleet.url) == decisions()
    logged = (tmp_path / "opa-0.log").read_text()
    assert '"msg":"Decision Log"' in logged and '"path":"hitl/main/decisions"' in logged


def test_a_tampered_bundle_is_refused_and_hitl_fails_closed(keys, replica):
    (_, public), _ = keys
    fleet = replica("tampered.tar.gz", public)
    status = fleet.wait_for(fleet.bundle_status, "the bundle's status")
    assert status["code"] == "bundle_error"
    assert "digest mismatch" in status["message"] and "data.json" in status["message"]
    assert status["last_successful_activation"].startswith("0001-01-01")
    assert requests.get(f"{fleet.url}/health?bundles", timeout=2).status_code == 500
    result = hitl(*EVALUATE, "--profile", "bank", "--opa-url", fleet.url, now=NOW)
    assert result.returncode == 5
    assert "profile 'bank' is not loaded" in result.stderr
    assert result.stdout == ""


def test_a_bundle_signed_with_another_key_is_refused(keys, replica, bundle_server):
    (_, public), (stranger, _) = keys
    forged = bundle_server.root / "forged.tar.gz"
    assert hitl("bundle", "build", "--all", "-o", forged, "--signing-key", stranger).returncode == 0
    fleet = replica("forged.tar.gz", public)
    status = fleet.wait_for(fleet.bundle_status, "the bundle's status")
    assert status["code"] == "bundle_error" and "verif" in status["message"]
    assert hitl(*EVALUATE, "--profile", "bank", "--opa-url", fleet.url, now=NOW).returncode == 5


def test_hitl_serve_bundle_verifies_the_signature(opa_bin, keys, signed_bundle, tmp_path):
    (_, public), (_, stranger_public) = keys
    wrong = hitl("serve", "--bundle", signed_bundle, "--verification-key", stranger_public,
                 "--addr", f"127.0.0.1:{free_loopback_port()}")
    assert wrong.returncode == 5
    assert f"hitl: OPA refused bundle {signed_bundle}: load error" in wrong.stderr
    assert "failed to verify JWT signature" in wrong.stderr
    unverified = hitl("serve", "--bundle", signed_bundle, "--addr", f"127.0.0.1:{free_loopback_port()}")
    assert unverified.returncode == 5 and "verification key not provided" in unverified.stderr
    assert "only if it is unsigned" in unverified.stderr

    port = free_loopback_port()
    served = tmp_path / "served"
    served.mkdir()
    server = subprocess.Popen(
        hitl_command(["serve", "--bundle", signed_bundle, "--verification-key", public, "--profile", "bank",
                      "--track-record", ROOT / "examples" / "track-record.yaml", "--state", served / "state.db",
                      "--addr", f"127.0.0.1:{port}"], now=NOW),
        cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_healthy(url, server, "hitl serve --bundle")
        manifests = [document for path in sorted((ROOT / "examples" / "manifests").glob("*.yaml"))
                     for document in yaml.safe_load_all(path.read_text()) if document]
        answer = requests.post(f"{url}/v1/decisions", json={"manifests": manifests}, timeout=30)
        assert answer.status_code == 200, answer.text
        expected = decisions(profiles=["bank"])["bank"]
        served_decisions = answer.json()["decisions"]
        assert served_decisions == [{key: item[key] for key in served_decisions[0]} for item in expected]
    finally:
        server.send_signal(signal.SIGTERM)
        _, stderr = server.communicate(timeout=30)
    assert '"msg":"Decision Log"' in stderr  # decision logs are on with --bundle


def test_bundle_contents(signed_bundle, tmp_path):
    files = members(signed_bundle)
    assert not [name for name in files if name.endswith("_test.rego")]
    assert {"hitl/main.rego", "hitl/waivers.rego", "hitl/rules/budget.rego", "data.json", ".signatures.json"} <= set(files)
    manifest = json.loads(files[".manifest"])
    assert manifest["roots"] == ["hitl"]
    assert manifest["metadata"]["hitl"]["profiles"] == ["bank", "default", "startup"]
    assert set(json.loads(files["data.json"])["hitl"]["profiles"]) == {"bank", "default", "startup"}
    # the revision is the content's: an unsigned build of the same policies and profiles has the same one
    unsigned = tmp_path / "unsigned.tar.gz"
    assert hitl("bundle", "build", "--all", "-o", unsigned).returncode == 0
    assert ".signatures.json" not in members(unsigned)
    assert json.loads(members(unsigned)[".manifest"])["revision"] == manifest["revision"]
    only_bank = tmp_path / "bank.tar.gz"
    assert hitl("bundle", "build", "--profile", "bank", "-o", only_bank).returncode == 0
    assert json.loads(members(only_bank)[".manifest"])["revision"] != manifest["revision"]


def test_bundle_build_errors(keys, tmp_path):
    (_, public), _ = keys
    assert hitl("bundle", "build", "-o", tmp_path / "b.tar.gz").returncode == 2
    assert hitl("bundle", "build", "--all", "--profile", "bank", "-o", tmp_path / "b.tar.gz").returncode == 2
    not_a_private_key = hitl("bundle", "build", "--all", "-o", tmp_path / "b.tar.gz", "--signing-key", public)
    assert not_a_private_key.returncode == 5 and "opa build failed" in not_a_private_key.stderr
    assert not (tmp_path / "b.tar.gz").exists() and not list(tmp_path.glob(".b.tar.gz.*"))
