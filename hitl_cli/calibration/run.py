"""`hitl calibrate`: gather outcomes, build each agent's reliability tables with the profile's bins, and write
the calibration data the policy reads. Invalid JSONL lines are reported and left out; the rest still count."""

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from hitl_cli import clock
from hitl_cli.calibration import metrics, outcomes, storage
from hitl_cli.calibration.storage import CalibrationLocation
from hitl_cli.errors import NotFound, Problem
from hitl_cli.models import Profile
from hitl_cli.store.connection import upgrade_store

if TYPE_CHECKING:
    from hitl_cli.store.connection import StateLocation


@dataclass
class Calibrated:
    path: CalibrationLocation
    data: dict
    problems: list[Problem] = field(default_factory=list)


def calibrate(
    profile: Profile, state: "StateLocation", outcome_files: list[Path], target: CalibrationLocation
) -> Calibrated:
    gathered: list[outcomes.ConfidenceOutcome] = []
    problems: list[Problem] = []
    sources = []
    if target == state:  # a store that keeps its own calibration: this run writes it, so upgrades it as any write
        upgrade_store(state)
    if state.exists():
        gathered.extend(outcomes.from_store(state))
        sources.append(str(state))
    elif not outcome_files:
        raise NotFound(f"no state store at {state} and no --outcomes file: nothing to calibrate against")
    for path in outcome_files:
        found, file_problems = outcomes.from_jsonl(path)
        gathered.extend(found)
        problems.extend(file_problems)
        sources.append(str(path))
    binning = profile.calibration
    data = {
        "format": storage.FORMAT,
        "generated_at": clock.now().isoformat().replace("+00:00", "Z"),
        "profile": profile.name,
        "sources": sources,
        "bin_edges": binning.bin_edges,
        "min_samples_per_action_type": binning.min_samples_per_action_type,
        "agents": metrics.agent_tables(gathered, binning.bin_edges, binning.min_samples_per_action_type),
    }
    storage.save(data, target)
    return Calibrated(target, data, problems)
