"""Deciding while reading: batches go to OPA from sender threads while later files are still parsed.

Batches are sent in input order, at most HITL_OPA_REQUESTS of them in flight at once (one sender thread each,
started as batches come): OPA evaluates them on separate cores (a manifest's decision does not depend on the
batch it is sent in), and parsing (Python) overlaps evaluation. Decisions are put back in input order. What is
read in less than one batch (a single call of hitl_cli.api.Engine, one request to hitl serve) is sent from the
calling thread, which has nothing else to overlap. The first failure stops everything: no batch is sent once it
is known (one already in flight is let finish and dropped), and the caller hears of it at its next `add`.
"""

import queue
import threading
from collections.abc import Callable

from hitl_cli import settings
from hitl_cli.engine.client import PolicyClient, RunInput
from hitl_cli.inputs import LoadedManifest
from hitl_cli.models import Decision
from hitl_cli.statements import analysis_json

_DONE = object()
QUEUED_BATCHES = 2  # how far reading may run ahead of OPA (bounds memory, not speed)


class DecisionPipeline:
    """`add(manifests)` as manifests are read; `decisions()` once every file is read: all, in order."""

    def __init__(self, client: PolicyClient, run: RunInput, on_decided: Callable[[int], None] | None = None):
        self._client = client
        self._run = run
        self._on_decided = on_decided
        self._batch_size = settings.opa_batch_size()
        self._requests = settings.opa_requests()
        self._pending: list[tuple[str, bytes, bytes]] = []  # (id, policy input, statement facts), in JSON
        self._queue: queue.Queue = queue.Queue(maxsize=QUEUED_BATCHES)
        self._batches = 0  # handed to the senders so far: the next batch's place
        self._decided: dict[int, list[Decision]] = {}  # each batch's decisions, by its place
        self._decided_count = 0
        self._lock = threading.Lock()
        self._error: BaseException | None = None
        self._cancelled = threading.Event()
        self._senders: list[threading.Thread] = []

    def __enter__(self) -> "DecisionPipeline":
        return self

    def __exit__(self, exc_type, *exc_info) -> None:
        if exc_type is not None:  # interrupted or failed: send nothing more, and do not wait for OPA
            self._cancelled.set()

    def add(self, manifests: list[LoadedManifest]) -> None:
        """Each manifest's statement is parsed here, once (hitl_cli.statements), and its facts sent beside it."""
        self._raise_if_failed()
        self._pending.extend((m.id, m.policy_json, analysis_json(m.statement, m.system)) for m in manifests)
        while len(self._pending) >= self._batch_size:
            self._put_batch(self._pending[: self._batch_size])
            del self._pending[: self._batch_size]

    def decisions(self) -> list[Decision]:
        if not self._senders:  # everything fitted in one batch: no thread was needed
            if self._pending:
                self._record(0, self._decide(self._pending))
                self._batches, self._pending = 1, []
        else:
            if self._pending:
                self._put_batch(self._pending)
                self._pending = []
            for _ in self._senders:
                self._put(_DONE)
            for sender in self._senders:
                sender.join()
            self._raise_if_failed()
        return [decision for place in range(self._batches) for decision in self._decided[place]]

    def _put_batch(self, batch: list[tuple[str, bytes, bytes]]) -> None:
        if len(self._senders) < self._requests:
            sender = threading.Thread(target=self._send, name=f"hitl-opa-sender-{len(self._senders)}", daemon=True)
            sender.start()
            self._senders.append(sender)
        self._put((self._batches, batch))
        self._batches += 1

    def _put(self, item) -> None:
        while True:
            self._raise_if_failed()
            try:
                self._queue.put(item, timeout=0.1)
                return
            except queue.Full:
                continue

    def _raise_if_failed(self) -> None:
        if self._error is not None:
            raise self._error

    def _decide(self, batch: list[tuple[str, bytes, bytes]]) -> list[Decision]:
        ids, encoded, facts = zip(*batch)
        return self._client.decide_encoded(self._run, list(ids), list(encoded), list(facts))

    def _record(self, place: int, decided: list[Decision]) -> None:
        with self._lock:
            self._decided[place] = decided
            self._decided_count += len(decided)
            if self._on_decided is not None:
                self._on_decided(self._decided_count)

    def _send(self) -> None:
        while not self._cancelled.is_set():
            try:
                item = self._queue.get(timeout=0.1)
            except queue.Empty:
                continue
            if item is _DONE or self._cancelled.is_set():
                return
            place, batch = item
            try:
                decided = self._decide(batch)
            except BaseException as error:  # noqa: BLE001 - handed to the reading thread, which raises it
                with self._lock:
                    self._error = self._error or error
                self._cancelled.set()
                return
            self._record(place, decided)
