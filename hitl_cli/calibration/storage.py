"""The calibration file: written by `hitl calibrate`, loaded by every policy engine as data.hitl.calibration.

It lives beside the state store it was measured from (`calibration.json` in the store's folder), and only
there: the commands that use a store (evaluate, check, submit, status, approve, ..., diff) load the file beside
the store in use, and `serve` and `bundle build`, which have no store, load the file their --calibration names.
Nothing is read from the working directory or the environment on its own. The file is part of the policy
revision (hitl_cli.revision): recalibrating makes earlier approvals stale.
"""

import json
from pathlib import Path

from hitl_cli.errors import StoreError
from hitl_cli.output import replaced_atomically

CALIBRATION_FILE_MODE = 0o644  # an ordinary file: OPA and other users read it

FORMAT = "hitl/calibration-v1"
FILE_NAME = "calibration.json"
EMPTY = {"agents": {}}


def beside(state: Path) -> Path:
    """The calibration of a state store: the file beside it."""
    return state.parent / FILE_NAME


def load(path: Path | None) -> dict:
    """The calibration data the policy reads; no agents when there is no file (or none is named). A file that
    cannot be used stops the run (exit 5): a decision is never made with calibration silently missing."""
    if path is None or not path.exists():
        return EMPTY
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as error:
        raise StoreError(f"calibration data {path} cannot be read: {error}") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT or not isinstance(data.get("agents"), dict):
        raise StoreError(f"calibration data {path} is not a {FORMAT} file (run hitl calibrate again)")
    return data


def save(data: dict, path: Path) -> None:
    """Write atomically: a reader sees the old file or the new one, never half of one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with replaced_atomically(path, CALIBRATION_FILE_MODE) as temporary:
        temporary.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")
