"""The calibration data: written by `hitl calibrate`, loaded by every policy engine as data.hitl.calibration.

It lives with the state store it was measured from, and only there: a SQLite store's is the file beside it
(`calibration.json` in the store's folder); a PostgreSQL store, which has no folder, keeps it in its own
`calibration` table. The commands that use a store (evaluate, check, submit, status, approve, ..., diff) load
the calibration of the store in use, and `serve` and `bundle build`, which have no store, load the file their
--calibration names. Nothing is read from the working directory or the environment on its own. The data is part
of the policy revision (hitl_cli.revision): recalibrating makes earlier approvals stale.
"""

import json
from pathlib import Path
from typing import TYPE_CHECKING, Union

from hitl_cli.documents import json_documents
from hitl_cli.errors import NotFound, StoreError
from hitl_cli.output import replaced_atomically

if TYPE_CHECKING:
    from hitl_cli.store.postgres_backend import DatabaseURL

# A calibration file, or a PostgreSQL store that holds its own.
CalibrationLocation = Union[Path, "DatabaseURL"]

CALIBRATION_FILE_MODE = 0o644  # an ordinary file: OPA and other users read it

FORMAT = "hitl/calibration-v1"
FILE_NAME = "calibration.json"
EMPTY = {"agents": {}}


def beside(state: "Path | DatabaseURL") -> CalibrationLocation:
    """The calibration of a state store: the file beside a SQLite store, a PostgreSQL store's own table."""
    return state.parent / FILE_NAME if isinstance(state, Path) else state


def load(location: CalibrationLocation | None) -> dict:
    """The calibration data the policy reads; no agents when there is none (or no place is named). Data that
    cannot be used stops the run (exit 5): a decision is never made with calibration silently missing."""
    if location is None:
        return EMPTY
    if not isinstance(location, Path):
        return _load_stored(location)
    if not location.exists():
        return EMPTY
    try:
        text = location.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise StoreError(f"calibration data {location} cannot be read: {error}") from None
    return _parsed(text, location)


def save(data: dict, location: CalibrationLocation) -> None:
    """Replace the calibration at once: a reader sees the old data or the new, never half of it."""
    if not isinstance(location, Path):
        _save_stored(data, location)
        return
    location.parent.mkdir(parents=True, exist_ok=True)
    with replaced_atomically(location, CALIBRATION_FILE_MODE) as temporary:
        temporary.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")


def _parsed(text: str, location: CalibrationLocation) -> dict:
    """The data of a calibration text, read under the limits of any input file (hitl_cli.documents: no NaN, no
    duplicate key, no nesting deep enough to overflow the parser): whoever can write the file or the table must
    not be able to end a run with a traceback, or give OPA a value it cannot load."""
    documents, problems = json_documents(str(location), text, whole=True)
    if problems:
        raise StoreError(f"calibration data {location} cannot be read: {problems[0].message}")
    return _checked(documents[0].data, location)


def _checked(data: object, location: CalibrationLocation) -> dict:
    if not isinstance(data, dict) or data.get("format") != FORMAT or not isinstance(data.get("agents"), dict):
        raise StoreError(f"calibration data {location} is not a {FORMAT} file (run hitl calibrate again)")
    return data


def _load_stored(store: "DatabaseURL") -> dict:
    from hitl_cli.store.connection import Mode, open_store

    try:
        with open_store(store, Mode.READ) as opened, opened.read() as connection:
            row = connection.execute("SELECT data FROM calibration WHERE id = 1").fetchone()
    except NotFound:  # no store in the database yet, or one that holds nothing: nothing calibrated
        return EMPTY
    return EMPTY if row is None else _parsed(row[0], store)


def _save_stored(data: dict, store: "DatabaseURL") -> None:
    from hitl_cli.store.connection import Mode, open_store

    with open_store(store, Mode.CREATE) as opened, opened.write("calibrate") as connection:
        connection.execute(
            "INSERT INTO calibration (id, data, written_at) VALUES (1, ?, ?) "
            "ON CONFLICT (id) DO UPDATE SET data = excluded.data, written_at = excluded.written_at",
            (json.dumps(data, sort_keys=True), data["generated_at"]),
        )
