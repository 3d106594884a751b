"""hitl as a library: an `Engine` that starts (or reaches) OPA once and answers every call through it.

    with Engine(state=".hitl/state.db") as engine:
        decided = engine.decide(manifest)              # a mapping, an ActionManifest, a file, or a list of them
        decided = await engine.decide_async(manifest)  # the same, on an asyncio event loop (then: await engine.aclose())
        request = engine.submit(manifest).submitted[0].view
        final = engine.wait(request.id, timeout=600)   # decided, expired, or still waiting after the timeout

The calls are the CLI's own (hitl_cli.evaluation, hitl_cli.workflow): the same validation, the same decisions,
the same store. A fault is one of hitl_cli.errors' exceptions, whose `exit_code` is the CLI's for it.
"""

import asyncio
import threading
import time
from collections.abc import Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

from hitl_cli.calibration import storage as calibration_storage
from hitl_cli.engine import policy_engine
from hitl_cli.engine.client import PolicyClient
from hitl_cli.engine.endpoint import OpaEndpoint, valid_token
from hitl_cli.errors import Problem, UsageError
from hitl_cli.evaluation import RunResult, decide_async, decide_files
from hitl_cli.inputs import ManifestSource, load_profile, load_track_record, profile_path
from hitl_cli.models import ActionManifest, Profile, TrackRecord
from hitl_cli.policy_history import StaleSnapshot, StoreSnapshots
from hitl_cli.revision import policy_revision
from hitl_cli.run_context import RunContext, gather_loaded
from hitl_cli.store.connection import state_path
from hitl_cli.workflow import queries, submission, verdict_files, verdicts
from hitl_cli.workflow.status import WAITING
from hitl_cli.workflow.submission import SubmitResult
from hitl_cli.workflow.verdict_files import VerdictFile
from hitl_cli.workflow.views import RequestView

Manifests = ManifestSource | str | Sequence[ManifestSource | str]
POLL_SECONDS = 0.2  # how often a wait looks at the store's audit head
# How long a wait goes without reading the request's view again while the audit head stands still: what moves no
# audit record (an approval aging out, a policy or profile edit that makes the request stale) is seen this late.
RECHECK_SECONDS = 2.0


@dataclass(frozen=True)
class Look:
    """A request's view as a wait last read it, and the audit head and moment it was read at (Engine.look)."""

    view: RequestView
    head: tuple[int, str] | None
    at: float  # time.monotonic()


class Engine:
    """OPA for decisions under the given profiles (names of shipped profiles, or files), started on loopback
    when the block begins and stopped when it ends; or, with `opa_url`, a running OPA believed only once it
    serves the policy revision hitl computes for each profile (`token`, `ca_file` as for --opa-url).

    state: the state store submit records into and decisions read their history and track record from
    (`.hitl/state.db` by default); track_record: a track record file used instead of the store's;
    calibration: the calibration file OPA loads (`hitl calibrate`); by default the store's own
    (hitl_cli.calibration.storage).
    The engine is safe to share between threads. Decisions run side by side (each call asks OPA through its own
    connection, and OPA evaluates concurrently); submissions run one at a time, each deciding with the history
    the one before it recorded.
    """

    def __init__(
        self,
        profiles: Sequence[str | Path] = ("default",),
        *,
        state: str | Path | None = None,
        track_record: str | Path | None = None,
        opa_url: str | None = None,
        token: str | None = None,
        ca_file: str | Path | None = None,
        calibration: str | Path | None = None,
    ):
        if not profiles:
            raise UsageError("Engine: give at least one profile")
        self._profile_refs = [str(ref) for ref in profiles]
        self.state = state_path(state)
        self.track_record = Path(track_record) if track_record is not None else None
        self.calibration = Path(calibration) if calibration is not None else calibration_storage.beside(self.state)
        self._remote = (
            OpaEndpoint(opa_url, valid_token(token, "Engine token") if token is not None else None,
                        Path(ca_file) if ca_file is not None else None)
            if opa_url is not None else None
        )
        if self._remote is None and (token is not None or ca_file is not None):
            raise UsageError("Engine: a token or CA file is for a running OPA: give opa_url too")
        self._profiles: dict[str, tuple[Profile, Path]] = {}  # each reference: the profile, its file
        self._record_file: tuple[TrackRecord, list[Problem]] | None = None
        self._client: PolicyClient | None = None
        self._stack = ExitStack()
        self._submitting = threading.Lock()
        self._snapshots = StoreSnapshots()  # the store's history and record, read again whenever the store changed

    def __enter__(self) -> "Engine":
        sources = [profile_path(ref) for ref in self._profile_refs]
        loaded = [load_profile(source) for source in sources]
        self._profiles = dict(zip(self._profile_refs, zip(loaded, sources)))
        if self.track_record is not None:  # a file is read once; the store's record is read at every call
            self._record_file = load_track_record(self.track_record)
        # taken before a local OPA reads the policies: an edit made meanwhile can only make what it records stale
        revisions = None if self._remote is not None else {
            profile.name: policy_revision(profile, self.calibration) for profile in loaded
        }
        self._client = self._stack.enter_context(
            policy_engine(loaded, self._remote, calibration=self.calibration, revisions=revisions)
        )
        return self

    def __exit__(self, *exc_info) -> None:
        self._client = None
        self._stack.close()
        self._snapshots.close()

    @property
    def profile(self) -> str:
        """The profile calls use when they name none: the first one given."""
        return self._profile_refs[0]

    @property
    def profile_name(self) -> str:
        """The name of that profile (`profile` may be a file)."""
        return self._profiles[self.profile][0].name

    def decide(self, manifests: Manifests, profile: str | None = None) -> RunResult:
        """Each valid manifest's decision (`.evaluated[i].decision`), and a problem for each invalid one
        (`.problems`: `source: field.path: message`); the valid ones are decided either way."""
        return decide_files(_sources(manifests), self._run(profile), self._connected())

    async def decide_async(self, manifests: Manifests, profile: str | None = None) -> RunResult:
        """decide, for a caller on an asyncio event loop: OPA is asked through opa-python-client's asyncio client and
        no call holds the loop while it waits (for OPA, or for a statement's analysis). The asyncio client is made
        for the loop of the first call; `await aclose()` closes it, on that loop, before the loop ends. When the store
        moved since the last call, its tables are read again on a worker thread: that read passes over every request
        (a quarter of a second at 10,000: bench/history_cost.py), which would hold every other call on the loop."""
        try:
            context = self._run(profile, reread=False)
        except StaleSnapshot:
            context = await asyncio.to_thread(self._run, profile)
        return await decide_async(_sources(manifests), context, self._connected())

    async def aclose(self) -> None:
        """Close what decide_async opened, on the loop it ran on (the `with` block closes the rest)."""
        if self._client is not None:
            await self._client.aclose()

    def submit(self, manifests: Manifests, profile: str | None = None) -> SubmitResult:
        """Decide each manifest and record it as a request in the store (`hitl submit`)."""
        with self._submitting:
            return submission.submit(_sources(manifests), self._run(profile, recording=True), self._connected())

    def record_verdict(self, carried: VerdictFile | dict) -> RequestView:
        """Record a verdict a person signed elsewhere (a verdict file: `hitl approve --attest`, `hitl approvals
        export`, or its statement signed with `ssh-keygen -Y sign -n hitl-verdict`): it counts, and is recorded,
        only as a verdict given with `hitl approve|reject|override --key` would (Refused otherwise)."""
        signed = carried if isinstance(carried, VerdictFile) else verdict_files.parse(carried, "verdict")
        return verdicts.accept_signed_verdict(self.state, signed)

    def status(self, request_id: str) -> RequestView:
        """Where a request stands now (`hitl status`); NotFound when the store has no such request."""
        return queries.request_view(self.state, request_id)[0]

    def wait(self, request_id: str, timeout: float) -> RequestView:
        """The request once it no longer waits for people (approved, overridden, rejected, expired, stale),
        or as it stands when `timeout` seconds have passed."""
        deadline = time.monotonic() + max(timeout, 0.0)
        last = None
        while True:
            last = self.look(request_id, last)
            remaining = deadline - time.monotonic()
            if last.view.status not in WAITING:
                return last.view
            if remaining <= 0:
                return self.status(request_id)
            time.sleep(min(POLL_SECONDS, remaining))

    def look(self, request_id: str, last: Look | None) -> Look:
        """One look of a wait (`wait`, hitl serve's long poll): the request's view read again only when the store's
        audit head moved since `last` (a verdict, a supersession), or RECHECK_SECONDS passed; else `last`. A view
        costs reading the profile and hashing the policy files (50 ms), and a wait looks every POLL_SECONDS."""
        head = self._snapshots.head(self.state)  # before the view: a change made meanwhile moves it for the next look
        if last is not None and last.head == head and time.monotonic() - last.at < RECHECK_SECONDS:
            return last
        return Look(self.status(request_id), head, time.monotonic())

    def queue(self) -> list[RequestView]:
        """What waits for people, oldest first (`hitl queue`)."""
        return [view for view in queries.all_views(self.state) if queries.waits_for_people(view)]

    def _run(self, profile: str | None, recording: bool = False, reread: bool = True) -> RunContext:
        """The context of one call (hitl_cli.run_context): the profile and track record file loaded once; the
        moment taken afresh, and the store's history and record as the store stands now. Outside the `with` block
        it refuses before reading the store: the connection the read would keep open would never be closed.
        reread: see StoreSnapshots.read."""
        self._connected()
        chosen = self.profile if profile is None else str(profile)
        if chosen not in self._profiles:
            raise UsageError(f"profile {chosen!r} was not loaded by this Engine (loaded: {', '.join(self._profiles)})")
        loaded, source = self._profiles[chosen]
        return gather_loaded(loaded, source, self._record_file, self.state, recording, self._snapshots, reread)

    def _connected(self) -> PolicyClient:
        if self._client is None:
            raise UsageError("Engine: use it in a `with` block (OPA is started or reached when the block begins)")
        return self._client


def _sources(manifests: Manifests) -> list[ManifestSource]:
    """One manifest or a list of them, each a mapping, a model or a file (a str is a file name)."""
    items = [manifests] if isinstance(manifests, (dict, ActionManifest, Path, str)) else list(manifests)
    return [Path(item) if isinstance(item, str) else item for item in items]
