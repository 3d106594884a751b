"""What the policy needs to know about the past (input.history), gathered from the state store.

- precedents: one object per distinct (agent, action_type, environment, system, resource_type, resource)
  among the actions the store records as approved - status `approved` (auto-approved, or every approval
  given) or `overridden`. Rego (hitl.history) fingerprints them with the profile's field list.
- spent_today: the estimated cost of the actions approved today, per agent and for the organisation.
  Today is the UTC day of the run's moment (hitl_cli.run_context: the system clock, read once); an action was
  approved at the moment it could run: its submission when auto-approved, else its last approval or its override. Each manifest id
  counts once (its latest approved request), and `manifests` lists each one's own spend, so that a
  manifest decided again (a re-check, a resubmission) is not counted twice. Only recorded spend counts:
  the earlier actions of the batch being decided are not added.

A run that reads no store sends no history: the novelty rule then has nothing to judge, and the daily
budget rule counts this action alone. The store is only read, never created.

The track record (input.track_record) follows one rule for evaluate, check and submit: the --track-record
file when one is given, else the record the store measured (`hitl trust export`), else none: every agent is new.
"""

from datetime import UTC, datetime
from pathlib import Path

from hitl_cli.errors import NotFound, Problem
from hitl_cli.inputs import load_track_record
from hitl_cli.models import TrackRecord
from hitl_cli.models.workflow import Request, Verdict, VerdictAction
from hitl_cli.store import records
from hitl_cli.store.connection import Mode, open_store
from hitl_cli.workflow.track import track_record

APPROVED = ("approved", "overridden")


def read_track_record(track_record_file: Path | None, state: Path) -> tuple[TrackRecord, list[Problem]]:
    """input.track_record for a run, and the problems of the file's invalid entries."""
    if track_record_file is not None:
        return load_track_record(track_record_file)
    if not state.exists():
        return TrackRecord(), []
    try:
        with open_store(state, Mode.READ) as store, store.read() as connection:
            return track_record(connection), []
    except NotFound:  # an empty store file: nothing measured yet
        return TrackRecord(), []


def read_policy_history(state: Path, now: datetime, missing_is_empty: bool = False) -> dict | None:
    """input.history from the store at `state`, as of `now`; None when there is none (or an empty one when a
    run that is about to create the store - submit - asks for that)."""
    empty = _history([], {}, now) if missing_is_empty else None
    if not state.exists():
        return empty
    try:
        with open_store(state, Mode.READ) as store, store.read() as connection:
            requests = [r for r in records.all_requests(connection) if r.status in APPROVED]
            verdicts: dict[str, list[Verdict]] = {}
            for verdict in records.all_verdicts(connection):
                verdicts.setdefault(verdict.request_id, []).append(verdict)
    except NotFound:  # an empty store file: nothing recorded yet
        return _history([], {}, now)
    return _history(requests, verdicts, now)


def _history(requests: list[Request], verdicts: dict[str, list[Verdict]], now: datetime) -> dict:
    precedents = {}
    for request in requests:
        described = _described(request)
        precedents[tuple(described.values())] = described
    today = now.date()
    latest: dict[str, Request] = {}
    for request in requests:
        if _approved_at(request, verdicts.get(request.id, [])).date() == today:
            latest[request.manifest_id] = request  # oldest first: the latest approved request wins
    manifests = {
        manifest_id: {"agent": request.agent, "usd": _cost(request)} for manifest_id, request in sorted(latest.items())
    }
    agents: dict[str, float] = {}
    for spent in manifests.values():
        agents[spent["agent"]] = agents.get(spent["agent"], 0) + spent["usd"]
    return {
        "precedents": list(precedents.values()),
        "spent_today": {
            "day": today.isoformat(),
            "agents": dict(sorted(agents.items())),
            "organisation": sum(agents.values()),
            "manifests": manifests,
        },
    }


def _described(request: Request) -> dict:
    target = request.manifest.target
    return {
        "agent": request.agent,
        "action_type": request.decision.action_type,
        "environment": request.decision.environment,
        "system": target.system,
        "resource_type": target.resource_type,
        "resource": target.resource,
    }


def _approved_at(request: Request, verdicts: list[Verdict]) -> datetime:
    decisive = [v.at for v in verdicts if v.kind in (VerdictAction.APPROVE, VerdictAction.OVERRIDE)]
    return max(decisive, default=request.submitted_at).astimezone(UTC)


def _cost(request: Request) -> float:
    return request.manifest.impact.estimated_cost_usd or 0
