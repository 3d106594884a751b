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

A long-lived caller (hitl_cli.api.Engine, hitl serve) reads the store through StoreSnapshots, which reads the
tables again only when the store's audit head or the day moved since its last read.

A run that reads no store sends no history: the novelty rule then has nothing to judge, and the daily
budget rule counts this action alone. The store is only read, never created.

The track record (input.track_record) follows one rule for evaluate, check and submit: the --track-record
file when one is given, else the record the store measured (`hitl trust export`), else none: every agent is new.
"""

import json
from datetime import UTC, datetime
from pathlib import Path

from hitl_cli.errors import NotFound
from hitl_cli.models import TrackRecord
from hitl_cli.models.workflow import Request, Verdict, VerdictAction
from hitl_cli.store import audit_log, records
from hitl_cli.store.connection import KeptReader
from hitl_cli.workflow.track import track_record

APPROVED = ("approved", "overridden")


def recorded_history_json(connection, now: datetime) -> bytes:
    """input.history in JSON, read in a transaction the caller holds open (submit's write transaction)."""
    return history_json(_stored_history(connection, now))


def history_json(history: dict | None) -> bytes | None:
    """input.history as a decision request carries it (None: no history)."""
    return None if history is None else json.dumps(history).encode()


class StoreSnapshots:
    """input.history (in JSON: hitl_cli.engine.client.RunInput) and the store's track record for a caller that decides again and again (hitl_cli.api.Engine),
    with the tables read only when they may have changed.

    Every change to the workflow's tables lands in the transaction that appends its audit record
    (hitl_cli.workflow.events), and every append moves the audit head (its seq and hash). So each call reads the
    head - in the same read transaction, the same snapshot, as the tables would be read in - and reuses what it
    found last time only when that head, the day (spent_today counts the UTC day of `now`) and the store are
    unchanged; otherwise it reads the tables. A decision is never made on history older than the store's state when
    the call began. A single run (the CLI) uses a snapshot of its own, read once."""

    def __init__(self) -> None:
        self._kept: tuple[tuple, bytes, TrackRecord | None] | None = None  # (what it was read at, history, record)
        self._reader: KeptReader | None = None

    def read(
        self, state: Path, now: datetime, missing_is_empty: bool, with_record: bool
    ) -> tuple[bytes | None, TrackRecord]:
        """(input.history in JSON, the store's track record: an empty one unless with_record) as of `now`."""
        reader = self._reader_of(state)
        if not reader.holds_store():
            return history_json(_history([], {}, now) if missing_is_empty else None), TrackRecord()
        try:
            with reader.read() as connection:
                key = (str(state), audit_log.head(connection), now.date(), with_record)
                kept = self._kept  # one read of the attribute: another thread may replace it meanwhile
                if kept is not None and kept[0] == key:
                    history, record = kept[1], kept[2]
                else:
                    history = history_json(_stored_history(connection, now))
                    record = track_record(connection) if with_record else None
                    self._kept = (key, history, record)
        except NotFound:  # an empty store file: nothing recorded yet
            return history_json(_history([], {}, now)), TrackRecord()
        return history, record if record is not None else TrackRecord()

    def _reader_of(self, state: Path) -> KeptReader:
        reader = self._reader  # one read of the attribute, as above
        if reader is None or reader.location != state:
            reader = self._reader = KeptReader(state)
        return reader

    def close(self) -> None:
        """Close the connection kept open between reads."""
        if self._reader is not None:
            self._reader.close()


def _stored_history(connection, now: datetime) -> dict:
    requests = [r for r in records.all_requests(connection) if r.status in APPROVED]
    verdicts: dict[str, list[Verdict]] = {}
    for verdict in records.all_verdicts(connection):
        verdicts.setdefault(verdict.request_id, []).append(verdict)
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
