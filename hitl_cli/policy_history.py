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

A decision request carries the part of it that concerns its manifests (PolicyHistory.about): the precedents that
agree with one of them on the fingerprint fields a manifest states, the spend of their agents and of themselves,
and the organisation's total.

A long-lived caller (hitl_cli.api.Engine, hitl serve) reads the store through StoreSnapshots, which reads the
tables again only when the store's audit head or the day moved since its last read.

A run that reads no store sends no history: the novelty rule then has nothing to judge, and the daily
budget rule counts this action alone. The store is only read, never created.

The track record (input.track_record) follows one rule for evaluate, check and submit: the --track-record
file when one is given, else the record the store measured (`hitl trust export`), else none: every agent is new.
"""

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from hitl_cli.errors import NotFound
from hitl_cli.models import TrackRecord
from hitl_cli.models.workflow import Request, Verdict, VerdictAction
from hitl_cli.store import audit_log, records
from hitl_cli.store.connection import KeptReader
from hitl_cli.workflow.track import track_record

APPROVED = ("approved", "overridden")

# The fingerprint fields hitl.history's candidate takes from the manifest as written, and where. The action type
# is the effective one, which the policy derives from the statement: it is compared there alone.
STATED_FIELDS = {
    "agent": ("agent", "id"),
    "environment": ("target", "environment"),
    "system": ("target", "system"),
    "resource_type": ("target", "resource_type"),
    "resource": ("target", "resource"),
}


@dataclass(frozen=True)
class PolicyHistory:
    """What the state store says about the past, as read: every precedent, and today's spend of every agent and
    manifest. A decision reads a small part of it (hitl.history); a request carries that part only (`about`),
    because OPA parses every request's input whole, and all of it would grow with the store (226 ms a decision at
    10,000 approved actions: bench/history_cost.py)."""

    precedents: list[dict]
    spent_today: dict
    read_at: tuple[int, str] | None = field(default=None, compare=False)  # the store's audit head when it was read
    _indexes: dict = field(default_factory=dict, compare=False, repr=False)  # stated fields -> their values -> precedents

    def about(self, manifests: list[dict], fingerprint: Sequence[str]) -> bytes:
        """input.history, in JSON, for a request deciding these manifests (as the policy reads them) under a profile
        with this history_novelty.fingerprint: the precedents that agree with one of the manifests on every
        fingerprint field it states, the spend today of their agents and of themselves, and the organisation's.

        A precedent left out differs from each manifest in a field the fingerprint compares, so the novelty rule
        finds the same precedents; the budget rule reads the spend of the manifest's agent and its own. Should the
        policy compare other fields than the profile here says, fewer precedents only make more actions novel."""
        stated = tuple(name for name in STATED_FIELDS if name in fingerprint)
        index = self._index(stated)
        chosen: dict[int, dict] = {}
        for manifest in manifests:
            chosen.update(index.get(_stated_values(manifest, stated), {}))
        spent = self.spent_today
        agents = sorted({manifest["agent"]["id"] for manifest in manifests})
        ids = sorted({manifest["metadata"]["id"] for manifest in manifests})
        return json.dumps({
            "precedents": [chosen[position] for position in sorted(chosen)],
            "spent_today": {
                "day": spent["day"],
                "agents": {agent: spent["agents"][agent] for agent in agents if agent in spent["agents"]},
                "organisation": spent["organisation"],
                "manifests": {i: spent["manifests"][i] for i in ids if i in spent["manifests"]},
            },
        }).encode()

    def _index(self, stated: tuple[str, ...]) -> dict[tuple, dict[int, dict]]:
        """The precedents by their values of the stated fields (each by its position), made once per history."""
        index = self._indexes.get(stated)
        if index is None:
            index = {}
            for position, precedent in enumerate(self.precedents):
                index.setdefault(tuple(precedent[name] for name in stated), {})[position] = precedent
            self._indexes[stated] = index
        return index


def _stated_values(manifest: dict, stated: tuple[str, ...]) -> tuple:
    """The manifest's values of the stated fields, null where it has none (as hitl.history.candidate reads them)."""
    values = []
    for name in stated:
        section, key = STATED_FIELDS[name]
        part = manifest.get(section)
        values.append(part.get(key) if isinstance(part, dict) else None)
    return tuple(values)


def recorded_history(connection, now: datetime, read: PolicyHistory | None) -> PolicyHistory:
    """input.history as of `now`, in a transaction the caller holds open (submit's write transaction): `read` itself
    when the store's audit head is still where `read` was read at (every change to the workflow's tables moves it),
    else read again (a pass over every request: 1.5 s at 10,000)."""
    if read is not None and read.read_at is not None and read.read_at == audit_log.head(connection):
        return read
    return _stored_history(connection, now)


class StaleSnapshot(Exception):
    """The store moved since the last read (or the day turned), and the caller asked not to read its tables now:
    that read parses what changed and passes over every request (StoreSnapshots.read's `reread`)."""


class StoreSnapshots:
    """input.history (PolicyHistory) and the store's track record for a caller that decides again and again (hitl_cli.api.Engine),
    with the tables read only when they may have changed.

    Every change to the workflow's tables lands in the transaction that appends its audit record
    (hitl_cli.workflow.events), and every append moves the audit head (its seq and hash). So each call reads the
    head - in the same read transaction, the same snapshot, as the tables would be read in - and reuses what it
    found last time only when that head, the day (spent_today counts the UTC day of `now`) and the store are
    unchanged; otherwise it reads the tables. A decision is never made on history older than the store's state when
    the call began. A single run (the CLI) uses a snapshot of its own, read once."""

    def __init__(self) -> None:
        self._kept: tuple[tuple, PolicyHistory, TrackRecord | None] | None = None  # (what it was read at, history, record)
        self._reader: KeptReader | None = None
        self._requests = records.ParsedRequests()  # each read of the tables parses only the requests not seen before

    def read(
        self, state: Path, now: datetime, missing_is_empty: bool, with_record: bool, reread: bool = True
    ) -> tuple[PolicyHistory | None, TrackRecord]:
        """(input.history, the store's track record: an empty one unless with_record) as of `now`. reread: False
        raises StaleSnapshot where the tables would be read again (a caller on an event loop reads them on a worker
        thread instead)."""
        reader = self._reader_of(state)
        if not reader.holds_store():
            return (_history([], {}, now) if missing_is_empty else None), TrackRecord()
        try:
            with reader.read() as connection:
                key = (str(state), audit_log.head(connection), now.date(), with_record)
                kept = self._kept  # one read of the attribute: another thread may replace it meanwhile
                if kept is not None and kept[0] == key:
                    history, record = kept[1], kept[2]
                elif not reread:
                    raise StaleSnapshot(str(state))
                else:
                    requests = self._requests.all(connection)
                    history = _stored_history(connection, now, requests)
                    record = track_record(connection, requests) if with_record else None
                    self._kept = (key, history, record)
        except NotFound:  # an empty store file: nothing recorded yet
            return _history([], {}, now), TrackRecord()
        return history, record if record is not None else TrackRecord()

    def head(self, state: Path) -> tuple[int, str] | None:
        """The store's audit head now, on the kept connection: it moves with every change to the workflow's tables
        (None before the first record, or without a store)."""
        reader = self._reader_of(state)
        if not reader.holds_store():
            return None
        try:
            with reader.read() as connection:
                return audit_log.head(connection)
        except NotFound:
            return None

    def _reader_of(self, state: Path) -> KeptReader:
        reader = self._reader  # one read of the attribute, as above
        if reader is None or reader.location != state:
            reader = self._reader = KeptReader(state)
        return reader

    def close(self) -> None:
        """Close the connection kept open between reads."""
        if self._reader is not None:
            self._reader.close()


def _stored_history(connection, now: datetime, requests: list[Request] | None = None) -> PolicyHistory:
    """requests: every request of the store, when the caller has read them already (records.ParsedRequests)."""
    if requests is None:
        requests = records.all_requests(connection)
    requests = [r for r in requests if r.status in APPROVED]
    verdicts: dict[str, list[Verdict]] = {}
    for verdict in records.all_verdicts(connection):
        verdicts.setdefault(verdict.request_id, []).append(verdict)
    return _history(requests, verdicts, now, audit_log.head(connection))


def _history(
    requests: list[Request], verdicts: dict[str, list[Verdict]], now: datetime, read_at: tuple[int, str] | None = None
) -> PolicyHistory:
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
    return PolicyHistory(
        precedents=list(precedents.values()),
        read_at=read_at,
        spent_today={
            "day": today.isoformat(),
            "agents": dict(sorted(agents.items())),
            "organisation": sum(agents.values()),
            "manifests": manifests,
        },
    )


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
