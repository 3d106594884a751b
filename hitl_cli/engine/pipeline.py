"""Deciding while reading: batches go to OPA from one sender thread while later files are still parsed.

One request is in flight at a time, in input order, so OPA sees exactly the requests a sequential run
would send; parsing (Python) and evaluation (OPA) simply overlap on separate cores. The sender starts with
the first full batch: what is read in less than one batch (a single call of hitl_cli.api.Engine, one request
to hitl serve) is sent from the calling thread, which has nothing else to overlap. The first failure stops
everything: later batches are never sent, and the caller hears of it at its next `add`.
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
        self._pending: list[tuple[str, bytes, bytes]] = []  # (id, policy input, statement facts), in JSON
        self._queue: queue.Queue = queue.Queue(maxsize=QUEUED_BATCHES)
        self._decisions: list[Decision] = []
        self._error: BaseException | None = None
        self._cancelled = threading.Event()
        self._sender: threading.Thread | None = None

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
            self._put(self._pending[: self._batch_size])
            del self._pending[: self._batch_size]

    def decisions(self) -> list[Decision]:
        if self._sender is None:  # everything fitted in one batch: no thread was needed
            if self._pending:
                self._decide(self._pending)
                self._pending = []
            return self._decisions
        if self._pending:
            self._put(self._pending)
            self._pending = []
        self._put(_DONE)
        self._sender.join()
        self._raise_if_failed()
        return self._decisions

    def _put(self, item) -> None:
        if self._sender is None:
            self._sender = threading.Thread(target=self._send, name="hitl-opa-sender", daemon=True)
            self._sender.start()
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

    def _decide(self, batch: list[tuple[str, bytes, bytes]]) -> None:
        ids, encoded, facts = zip(*batch)
        self._decisions.extend(self._client.decide_encoded(self._run, list(ids), list(encoded), list(facts)))
        if self._on_decided is not None:
            self._on_decided(len(self._decisions))

    def _send(self) -> None:
        while True:
            batch = self._queue.get()
            if batch is _DONE or self._cancelled.is_set():
                return
            try:
                self._decide(batch)
            except BaseException as error:  # noqa: BLE001 - handed to the reading thread, which raises it
                self._error = error
                return
