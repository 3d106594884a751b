"""What one run decides with, gathered once at the CLI edge and passed in: the moment, the profile, the track
record, the store's history and the store's calibration.

The core (hitl_cli.evaluation) only decides with what it is given; it never opens the store. The track record
follows one rule for evaluate, check and submit (hitl_cli.policy_history).
"""

from contextlib import closing, nullcontext
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from hitl_cli import clock
from hitl_cli.calibration import storage as calibration_storage
from hitl_cli.calibration.storage import CalibrationLocation
from hitl_cli.errors import Problem
from hitl_cli.inputs import load_profile, load_track_record, profile_path
from hitl_cli.models import Profile, TrackRecord
from hitl_cli.policy_history import PolicyHistory, StoreSnapshots
from hitl_cli.store.connection import upgrade_store


@dataclass(frozen=True)
class RunContext:
    now: datetime
    profile: Profile
    profile_source: Path
    state: Path
    calibration: CalibrationLocation  # the store's calibration (hitl_cli.calibration.storage); there may be none
    track_record: TrackRecord
    history: PolicyHistory | None  # input.history; None when the store does not exist
    record_problems: list[Problem] = field(default_factory=list)


def gather(profile_ref: str, track_record_file: Path | None, state: Path, recording: bool = False) -> RunContext:
    """recording: the run records into the store (submit), so an existing store is upgraded before it is read
    and a missing one counts as an empty history rather than none."""
    source = profile_path(profile_ref)
    record = load_track_record(track_record_file) if track_record_file is not None else None
    return gather_loaded(load_profile(source), source, record, state, recording)


def gather_loaded(
    profile: Profile,
    profile_source: Path,
    record: tuple[TrackRecord, list[Problem]] | None,
    state: Path,
    recording: bool = False,
    snapshots: StoreSnapshots | None = None,
    reread: bool = True,
) -> RunContext:
    """The context of one run under a profile already loaded, and a track record already read from its file
    (with its problems) or None for the store's own: a long-lived caller (hitl_cli.api.Engine, hitl serve)
    loads those once, and the store's history and record for each run, through its snapshots (read again only
    when the store changed: hitl_cli.policy_history.StoreSnapshots); a single run reads them once, in one read
    transaction. reread: see StoreSnapshots.read."""
    if recording:
        upgrade_store(state)
    now = clock.now()
    with nullcontext(snapshots) if snapshots is not None else closing(StoreSnapshots()) as reading:
        history, stored = reading.read(state, now, missing_is_empty=recording, with_record=record is None, reread=reread)
    track_record, record_problems = record if record is not None else (stored, [])
    return RunContext(
        now=now,
        profile=profile,
        profile_source=profile_source,
        state=state,
        calibration=calibration_storage.beside(state),
        track_record=track_record,
        history=history,
        record_problems=record_problems,
    )
