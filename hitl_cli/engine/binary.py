"""Finding the opa binary (HITL_OPA_BIN, then the project's tools folder, then PATH) and refusing one older than
the release hitl supports."""

import os
import re
import signal
import shutil
import subprocess
from pathlib import Path

from hitl_cli import paths, settings, stop_signals
from hitl_cli.errors import EngineError

INSTALL_HINT = "put opa on PATH (in a checkout: `make setup`, or scripts/install-opa), or set HITL_OPA_BIN to an opa binary"


def _is_executable(path: Path) -> bool:
    return path.is_file() and os.access(path, os.X_OK)


def find_opa() -> Path:
    configured = settings.opa_bin()
    if configured is not None:
        if not _is_executable(configured):
            raise EngineError(f"OPA not found: {settings.OPA_BIN}={configured} is not an executable file; {INSTALL_HINT}")
        return configured
    tools = paths.tools_bin_dir()
    if tools is not None and _is_executable(tools / "opa"):
        return tools / "opa"
    on_path = shutil.which("opa")
    if on_path:
        return Path(on_path)
    searched = ", ".join([settings.OPA_BIN, *([str(tools)] if tools else []), "PATH"])
    raise EngineError(f"OPA not found ({searched}); {INSTALL_HINT}")


def start_child(command: list[str], **options) -> subprocess.Popen:
    """subprocess.Popen for a child of hitl's (opa): it dies with hitl. Call it inside stop_signals.held() and
    assign the result there, so that a stop signal that comes while it starts finds the child to stop."""
    return subprocess.Popen(command, preexec_fn=die_with_parent, **options)


def run_child(
    command: list[str], timeout: float, input: str | None = None, cwd: Path | None = None
) -> subprocess.CompletedProcess:
    """subprocess.run for a child of hitl's, its output captured as text: it is killed and waited for when hitl
    is stopped or the timeout passes (subprocess.TimeoutExpired), whenever that comes."""
    process = None
    try:
        with stop_signals.held():
            process = start_captured(command, input is not None, cwd)
    except BaseException:
        if process is not None:
            kill_child(process)
        raise
    return finish_child(process, timeout, input)


def start_captured(command: list[str], piped_input: bool = False, cwd: Path | None = None) -> subprocess.Popen:
    """start_child with the output captured as text, for finish_child (run_child, or a child started now and read
    later). Call it inside stop_signals.held() and assign the result there, as start_child."""
    return start_child(
        command,
        stdin=subprocess.PIPE if piped_input else subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=cwd,
    )


def finish_child(process: subprocess.Popen, timeout: float, input: str | None = None) -> subprocess.CompletedProcess:
    """What a child of start_captured's wrote, once it exits; it is killed and waited for when hitl is stopped or
    the timeout passes (subprocess.TimeoutExpired) first."""
    try:
        stdout, stderr = process.communicate(input, timeout=timeout)
    except BaseException:
        kill_child(process)
        raise
    return subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)


def kill_child(process: subprocess.Popen) -> None:
    """Kill a child and wait for it: it is gone when this returns."""
    process.kill()
    process.wait()


def die_with_parent() -> None:
    """Linux: an opa child receives SIGTERM if hitl itself is killed (even before it knows its child), so no
    OPA outlives its run."""
    stop_signals.on_parent_death(signal.SIGTERM)


def supported_opa_version() -> str:
    """The OPA release hitl is built and tested against (hitl_cli/opa.version), as `v1.2.3`."""
    return (paths.PACKAGE / "opa.version").read_text().strip()


VERSION_TIMEOUT_SECONDS = 30


def version_command(opa: Path) -> list[str]:
    """`opa version`: start_captured it to have opa_version read its answer later (while OPA starts)."""
    return [str(opa), "version"]


def opa_version(opa: Path, started: subprocess.Popen | None = None) -> str:
    """What the binary says its version is, as `v1.2.3`; started: its version_command already running."""
    try:
        if started is None:
            answer = run_child(version_command(opa), VERSION_TIMEOUT_SECONDS)
        else:
            answer = finish_child(started, VERSION_TIMEOUT_SECONDS)
    except (OSError, subprocess.SubprocessError) as error:
        raise untold_version(opa, error) from None
    if answer.returncode != 0:
        raise EngineError(f"OPA at {opa} did not tell its version: exit code {answer.returncode}")
    for line in answer.stdout.splitlines():
        if line.startswith("Version: "):
            return "v" + line.removeprefix("Version: ").strip()
    raise EngineError(f"OPA at {opa} did not tell its version")


def untold_version(opa: Path, error: Exception) -> EngineError:
    """Why `opa version` gave no answer: it could not run, or did not finish in time."""
    return EngineError(f"OPA at {opa} did not tell its version: {error}")


_RELEASE = re.compile(r"v?(\d+)\.(\d+)\.(\d+)")


def _release(version: object) -> tuple[int, int, int] | None:
    match = _RELEASE.match(version) if isinstance(version, str) else None
    return tuple(int(part) for part in match.groups()) if match else None


def require_supported(version: object, where: str) -> None:
    """EngineError (exit 5) naming both versions when `version` (as OPA reports it) is older than the supported one,
    or is not a version at all."""
    supported = supported_opa_version()
    found = _release(version)
    if found is None:
        shown = "none" if version is None else repr(version if isinstance(version, str) else str(version))[:40]
        raise EngineError(f"{where} did not tell a usable version ({shown}); hitl supports OPA {supported} or newer")
    if found < _release(supported):
        raise EngineError(f"{where} is OPA v{'.'.join(map(str, found))}, older than {supported}, the release hitl supports")


def run_opa(arguments: list[str], timeout: float) -> subprocess.CompletedProcess:
    """`opa ARGUMENTS...`, its output captured; EngineError when it cannot run or does not finish in time."""
    try:
        return run_child([str(find_opa()), *arguments], timeout)
    except subprocess.TimeoutExpired:
        raise EngineError(f"opa {arguments[0]} did not finish within {timeout:g}s") from None
    except OSError as error:
        raise EngineError(f"opa {arguments[0]} could not run: {error.strerror}") from None


def require_supported_binary(opa: Path, started: subprocess.Popen | None = None) -> None:
    """EngineError (exit 5) unless the binary is the supported release or newer (started: as opa_version)."""
    require_supported(opa_version(opa, started), f"the opa binary at {opa}")
