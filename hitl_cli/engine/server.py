"""An OPA server on loopback that hitl starts for one run and always stops."""

import concurrent.futures.thread  # noqa: F401 - see below
import json
import logging  # noqa: F401 - see below
import secrets
import socket
import subprocess
import tempfile
import time
from pathlib import Path

from hitl_cli import settings, stop_signals
from hitl_cli.engine import connection
from hitl_cli.engine.access import OPA_ACCESS_ARGS, write_opa_access_policy
from hitl_cli.engine.binary import (
    find_opa, kill_child, require_supported_binary, start_captured, start_child, untold_version, version_command,
)
from hitl_cli.engine.endpoint import OpaEndpoint
from hitl_cli.engine.rego_errors import rego_error
from hitl_cli.errors import EngineError
from hitl_cli.policy_files import ignore_options

# logging and concurrent.futures.thread register fork handlers (take a lock before a fork, release it after)
# when first imported. Imported for the first time on a background thread (sqlglot's and the OPA client's
# imports start while OPA does) at the moment this thread forks OPA, their handlers run half and print
# "Exception ignored ... cannot release un-acquired lock" into hitl's stderr: they are imported here, on the
# main thread, before either thread starts.

STOP_GRACE_SECONDS = 5.0
PORT_ATTEMPTS = 5
INSTANCE_ROOT = "hitl_instance"
ADDRESS_IN_USE = "address already in use"  # OPA's listener error when its port is taken


def free_loopback_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _free_loopback_address() -> str:
    return f"127.0.0.1:{free_loopback_port()}"


class _PortTaken(Exception):
    """OPA exited at start-up because another process listens on its port."""


def opa_run_command(opa: Path, address: str, sources: list[Path], extra: list[str] = ()) -> list[str]:
    """Its store is read-only to every client (the access policy), so it is laid out for reading: about an eighth
    fewer allocations per decision (bench/policy-cost.md)."""
    return [
        str(opa), "run", "--server", "--addr", address, "--log-level", "error", "--optimize-store-for-read-speed",
        *ignore_options(tests=True), *extra, *map(str, sources),
    ]


class LocalOpaServer:
    """`with LocalOpaServer(sources) as server:` — OPA serving the sources, on a free loopback port by default,
    behind hitl's access policy (hitl_cli.engine.access): no process on the host can change what it decides.

    A run's own server keeps its log to report why it failed; `hitl serve` passes its log through.
    """

    def __init__(
        self,
        sources: list[Path],
        address: str | None = None,
        extra_args: list[str] = (),
        quiet: bool = True,
        environment: dict[str, str] | None = None,
        token: str | None = None,
    ):
        """token: the one every request must carry (hitl serve's OPA); with or without, OPA refuses every policy
        and data write."""
        self.sources = sources
        self.token = token
        self.environment = environment
        self.address = address or _free_loopback_address()
        self._port_chosen_here = address is None
        self.extra_args = list(extra_args)
        self.process: subprocess.Popen | None = None
        self._version: subprocess.Popen | None = None  # `opa version`, running while OPA starts
        self._log = tempfile.TemporaryFile() if quiet else None
        self._access_folder: tempfile.TemporaryDirectory | None = None

    @property
    def url(self) -> str:
        return f"http://{self.address}"

    @property
    def endpoint(self) -> OpaEndpoint:
        """How hitl reaches it from this host: an unspecified address (0.0.0.0, ::) through loopback."""
        host, _, port = self.address.rpartition(":")
        if host.strip("[]") in ("", "0.0.0.0", "::"):
            host = "127.0.0.1"
        return OpaEndpoint(f"http://{host}:{port}", self.token)

    def __enter__(self) -> "LocalOpaServer":
        connection.import_in_background()  # while OPA starts
        opa = find_opa()
        try:
            self._ask_version(opa)
            self._access_folder = tempfile.TemporaryDirectory(prefix="hitl-access-")
            folder = Path(self._access_folder.name)
            served = [write_opa_access_policy(folder / "access", self.token), self._write_instance(folder / "instance")]
            for attempt in range(1, PORT_ATTEMPTS + 1):
                try:
                    self._start(opa, served)
                    return self
                except _PortTaken:
                    if not self._port_chosen_here or attempt == PORT_ATTEMPTS:
                        raise EngineError(f"OPA could not listen on {self.address}: the port is taken") from None
                    self.address = _free_loopback_address()  # another process took the port between probe and bind
        except BaseException:
            self.stop()
            raise

    def _ask_version(self, opa: Path) -> None:
        """Start `opa version`: it runs while OPA starts, and its answer is judged once OPA is healthy, or has
        failed to start, before it is asked for any decision (an older release than hitl supports is refused, exit
        5)."""
        try:
            with stop_signals.held():
                self._version = start_captured(version_command(opa))
        except OSError as error:
            raise untold_version(opa, error) from None

    def _write_instance(self, folder: Path) -> Path:
        """data.hitl_instance: a random name only this server serves, so that it is told apart from any other
        server that answers on its port (the access policy lets it be read). A root of its own (.manifest), so
        that it loads beside a bundle too."""
        self._instance = secrets.token_hex(16)
        (folder / INSTANCE_ROOT).mkdir(parents=True)
        (folder / INSTANCE_ROOT / "data.json").write_text(json.dumps({"name": self._instance}))
        (folder / ".manifest").write_text(json.dumps({"roots": [INSTANCE_ROOT]}))
        return folder

    def _start(self, opa: Path, served: list[Path]) -> None:
        if self._log is not None:
            self._log.seek(0)
            self._log.truncate()
        try:
            with stop_signals.held():
                self.process = start_child(
                    opa_run_command(opa, self.address, [*self.sources, *served], [*OPA_ACCESS_ARGS, *self.extra_args]),
                    stdin=subprocess.DEVNULL,
                    stdout=self._log,
                    stderr=self._log,
                    env=self.environment,
                    start_new_session=True,
                )
        except OSError as error:
            raise EngineError(f"OPA failed to start ({opa}): {error.strerror}") from None
        try:
            self._wait_until_healthy()
        except EngineError:
            self._judge_version(opa)  # an older release than hitl supports explains a failed start best
            raise
        self._judge_version(opa)

    def _judge_version(self, opa: Path) -> None:
        if self._version is not None:
            require_supported_binary(opa, self._version)
            self._version = None

    def __exit__(self, *exc_info) -> None:
        self.stop()

    def _wait_until_healthy(self) -> None:
        limit = settings.opa_start_timeout()
        deadline = time.monotonic() + limit
        with connection.connect(self.endpoint, timeout=0.5) as probe:
            while time.monotonic() < deadline:
                if self.process.poll() is not None:
                    if self._port_taken():
                        raise _PortTaken()
                    raise EngineError(
                        f"OPA exited during start-up (code {self.process.returncode}): {self._start_failure()}"
                    )
                if connection.healthy(probe) and self._answers_as_itself(probe):
                    return
                time.sleep(0.01)
        raise EngineError(f"OPA did not become healthy within {limit:g}s on {self.url}")

    def wait(self) -> int:
        """Block until OPA exits by itself (hitl serve); Ctrl-C or SIGTERM unwinds through __exit__."""
        return self.process.wait()

    def _answers_as_itself(self, probe) -> bool:
        """Whether the server on the port is this one: another one (which took the port first) does not know its
        instance name; this one's OPA then exits, its port taken, and is started again on another."""
        try:
            body = connection.read(probe, self.url, f"data.{INSTANCE_ROOT}")
        except EngineError:
            return False
        return isinstance(body, dict) and body.get("result") == {"name": self._instance}

    def _port_taken(self) -> bool:
        return ADDRESS_IN_USE in (self._logged() or "")

    def _start_failure(self) -> str:
        """Why OPA did not start, from its log: each policy error with its file and line (hitl_cli.engine.rego_errors)."""
        logged = self._logged()
        return "see its output above" if logged is None else rego_error(logged)

    def _logged(self) -> str | None:
        """What OPA wrote during this start; None when its output is passed through (hitl serve's decision logs)."""
        if self._log is None:
            return None
        self._log.seek(0)
        return self._log.read().decode(errors="replace")

    def stop(self) -> None:
        if self._version is not None and self._version.poll() is None:
            kill_child(self._version)
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=STOP_GRACE_SECONDS)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self._log is not None:
            self._log.close()
        if self._access_folder is not None:
            self._access_folder.cleanup()
            self._access_folder = None
