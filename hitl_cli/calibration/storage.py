"""The calibration file: written by `hitl calibrate`, loaded by every policy engine as data.hitl.calibration.

It lives at HITL_CALIBRATION, else `.hitl/calibration.json` under the working directory (beside the default
state store). Every engine hitl starts (evaluate, check, submit, serve, bundle build, diff) loads it when it
exists; a long-running OPA (--opa-url) has the calibration it was started or bundled with.
"""

import json
import os
from pathlib import Path

from hitl_cli.errors import StoreError
from hitl_cli.output import replaced_atomically

CALIBRATION_FILE_MODE = 0o644  # an ordinary file: OPA and other users read it

FORMAT = "hitl/calibration-v1"
DEFAULT_PATH = Path(".hitl") / "calibration.json"
EMPTY = {"agents": {}}


def calibration_path(option: Path | None = None) -> Path:
    if option is not None:
        return option
    value = os.environ.get("HITL_CALIBRATION")
    return Path(value) if value else DEFAULT_PATH


def load(path: Path | None = None) -> dict:
    """The calibration data the policy reads; no agents when there is no file. A file that cannot be used
    stops the run (exit 5): a decision is never made with calibration silently missing."""
    path = calibration_path(path)
    if not path.exists():
        return EMPTY
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as error:
        raise StoreError(f"calibration data {path} cannot be read: {error}") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT or not isinstance(data.get("agents"), dict):
        raise StoreError(f"calibration data {path} is not a {FORMAT} file (run hitl calibrate again)")
    return data


def policy_calibration_data() -> dict:
    """What an engine loads under data.hitl.calibration (engine.write_policy_data, and so every bundle)."""
    return load()


def save(data: dict, path: Path) -> None:
    """Write atomically: a reader sees the old file or the new one, never half of one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with replaced_atomically(path, CALIBRATION_FILE_MODE) as temporary:
        temporary.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")
