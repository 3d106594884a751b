"""Recorded manifests to re-evaluate: folders and files of manifests, or a state store (SQLite).

A store contributes the manifest of every request that is not superseded (the latest submission of each
manifest id), labelled `STORE#REQUEST_ID`; files are read exactly as `hitl check` reads them.
"""

from dataclasses import dataclass, field
from pathlib import Path

from hitl_cli.documents import INPUT_SUFFIXES, input_files
from hitl_cli.errors import NotFound, Problem
from hitl_cli.inputs import LoadedManifest, manifests_by_file
from hitl_cli.models import TrackRecord
from hitl_cli.store import records
from hitl_cli.store.connection import Mode, open_store
from hitl_cli.workflow.track import track_record

SQLITE_HEADER = b"SQLite format 3\x00"


@dataclass
class RecordedManifests:
    manifests: list[LoadedManifest] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    measured: TrackRecord | None = None  # the track record measured in the (first) store, when there is one


def is_store(path: Path) -> bool:
    if not path.is_file() or path.suffix in INPUT_SUFFIXES:
        return False
    with path.open("rb") as stream:
        return stream.read(len(SQLITE_HEADER)) == SQLITE_HEADER


def read_recorded_manifests(paths: list[Path]) -> RecordedManifests:
    recorded = RecordedManifests()
    files = [path for path in paths if not is_store(path)]
    for loaded, problems in manifests_by_file(input_files(files)):
        recorded.manifests.extend(loaded)
        recorded.problems.extend(problems)
    for path in paths:
        if is_store(path):
            manifests, measured = _from_store(path)
            recorded.manifests.extend(manifests)
            recorded.measured = recorded.measured or measured
    return recorded


def _from_store(path: Path) -> tuple[list[LoadedManifest], TrackRecord | None]:
    """The latest request of each manifest id; nothing from a store nothing was ever submitted to."""
    try:
        with open_store(path, Mode.READ) as store, store.read() as connection:
            latest = {request.manifest_id: request for request in records.all_requests(connection)}
            measured = track_record(connection)
    except NotFound:
        return [], None
    manifests = [LoadedManifest.of(f"{path}#{request.id}", 1, request.manifest) for request in latest.values()]
    return manifests, measured
