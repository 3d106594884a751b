"""Finding the opa binary: HITL_OPA_BIN, then the project's tools folder, then PATH."""

import os
import shutil
from pathlib import Path

from hitl_cli import paths
from hitl_cli.errors import EngineError

INSTALL_HINT = "install it with `make setup` (or scripts/install-opa), or set HITL_OPA_BIN to an opa binary"


def _is_executable(path: Path) -> bool:
    return path.is_file() and os.access(path, os.X_OK)


def find_opa() -> Path:
    configured = os.environ.get("HITL_OPA_BIN")
    if configured:
        if not _is_executable(Path(configured)):
            raise EngineError(f"OPA not found: HITL_OPA_BIN={configured} is not an executable file; {INSTALL_HINT}")
        return Path(configured)
    bundled = paths.tools_bin_dir() / "opa"
    if _is_executable(bundled):
        return bundled
    on_path = shutil.which("opa")
    if on_path:
        return Path(on_path)
    raise EngineError(f"OPA not found (HITL_OPA_BIN, {paths.tools_bin_dir()}, PATH); {INSTALL_HINT}")
