"""Finding the opa binary: HITL_OPA_BIN, then the project's tools folder, then PATH."""

import os
import shutil
import subprocess
from pathlib import Path

from hitl_cli import paths, settings
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


def supported_opa_version() -> str:
    """The OPA release hitl is built and tested against (hitl_cli/opa.version), as `v1.2.3`."""
    return (paths.PACKAGE / "opa.version").read_text().strip()


def opa_version(opa: Path) -> str:
    """What the binary says its version is, as `v1.2.3`."""
    try:
        answer = subprocess.run([str(opa), "version"], capture_output=True, text=True, timeout=30, check=True)
    except (OSError, subprocess.SubprocessError) as error:
        raise EngineError(f"OPA at {opa} did not tell its version: {error}") from None
    for line in answer.stdout.splitlines():
        if line.startswith("Version: "):
            return "v" + line.removeprefix("Version: ").strip()
    raise EngineError(f"OPA at {opa} did not tell its version")
