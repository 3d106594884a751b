"""An OPA server on loopback that hitl starts for one run and always stops."""

import ctypes
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests

from hitl_cli.engine.binary import find_opa
from hitl_cli.errors import EngineError

START_TIMEOUT_SECONDS = float(os.environ.get("HITL_OPA_START_TIMEOUT", "20"))
STOP_GRACE_SECONDS = 5.0


def free_loopback_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _die_with_parent() -> None:
    """Linux: OPA receives SIGTERM if hitl itself is killed, so no server outlives its run."""
    if sys.platform.startswith("linux"):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def opa_run_command(opa: Path, address: str, sources: list[Path], extra: list[str] = ()) -> list[str]:
    return [str(opa), "run", "--server", "--addr", address, "--log-level", "error", *extra, *map(str, sources)]


class LocalOpaServer:
    """`with LocalOpaServer(sources) as url:` — OPA serving the sources on a free loopback port."""

    def __init__(self, sources: list[Path]):
        self.sources = sources
        self.process: subprocess.Popen | None = None
        self._log = tempfile.TemporaryFile()

    def __enter__(self) -> str:
        opa = find_opa()
        port = free_loopback_port()
        url = f"http://127.0.0.1:{port}"
        try:
            self.process = subprocess.Popen(
                opa_run_command(opa, f"127.0.0.1:{port}", self.sources),
                stdin=subprocess.DEVNULL,
                stdout=self._log,
                stderr=self._log,
                start_new_session=True,
                preexec_fn=_die_with_parent,
            )
        except OSError as error:
            raise EngineError(f"OPA failed to start ({opa}): {error.strerror}") from None
        try:
            self._wait_until_healthy(url)
        except BaseException:
            self.stop()
            raise
        return url

    def __exit__(self, *exc_info) -> None:
        self.stop()

    def _wait_until_healthy(self, url: str) -> None:
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise EngineError(f"OPA exited during start-up (code {self.process.returncode}): {self._last_log_line()}")
            try:
                if requests.get(f"{url}/health", timeout=0.5).status_code == 200:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.02)
        raise EngineError(f"OPA did not become healthy within {START_TIMEOUT_SECONDS:g}s on {url}")

    def _last_log_line(self) -> str:
        self._log.seek(0)
        lines = [line.strip() for line in self._log.read().decode(errors="replace").splitlines() if line.strip()]
        return lines[-1] if lines else "no output"

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=STOP_GRACE_SECONDS)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._log.close()
